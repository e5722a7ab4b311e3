import { definePlugin } from '../../sdk/index.ts';
import { type ParityResult, runScenarios } from './runner.ts';

/** The `parity` service: runs scenario files end to end against the mock API. */
export interface ParityService {
  run(options: {
    files: string[];
    icodeBin: string;
    onResult?(result: ParityResult): void;
  }): ReturnType<typeof runScenarios>;
}

declare module '../../kernel/registries.ts' {
  interface Services {
    parity: ParityService;
  }
}

export default definePlugin({
  activate(ctx) {
    ctx.services.provide('parity', {
      run: async (options) => runScenarios({ ...options, mock: await ctx.services.get('mock-anthropic') }),
    });
  },
});
