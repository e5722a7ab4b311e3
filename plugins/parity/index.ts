import { definePlugin } from '../../sdk/index.ts';
import { runScenarios } from './runner.ts';

/** The `parity` service: runs scenario files end to end against the mock API. */
export interface ParityService {
  run(options: Omit<Parameters<typeof runScenarios>[0], 'mock'>): ReturnType<typeof runScenarios>;
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
