#!/usr/bin/env node
// The entry point does as little as possible: `--version` answers before the CLI loads. Everything else
// runs the bundled CLI (dist/cli.cjs) through a V8 code cache, so later starts skip compiling it: most of
// a cold start is compiling the bundle, not running it (see BENCHMARKS.md). Both files are CommonJS
// because Node 20's ES module loader alone costs a third of a bare `node` start.
import { setFlagsFromString } from 'node:v8';
import { runCached } from './code-cache.ts';

declare const __ICODE_VERSION__: string;
declare const __ICODE_BUILD_ID__: string;

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-v')) {
  process.stdout.write(`${__ICODE_VERSION__}\n`);
} else {
  // The bash plugin compiles its WebAssembly grammar with the baseline compiler only (plugins/bash/parser.ts).
  // V8 flags are part of a code cache's identity: setting this one late, when bash first runs, made every
  // such run reject the cache and compile the bundles again. Set at start, it is the same on every run.
  setFlagsFromString('--liftoff-only');
  const cli = runCached(__dirname, __ICODE_BUILD_ID__) as {
    main(argv: string[]): Promise<number>;
  };
  cli.main(args).then(
    (code) => {
      process.exitCode = code;
      // A finished command exits even if something (a plugin's timer, a stray socket) would hold the event
      // loop open; servers (mock-server, mcp serve) say they keep running. Flush stdout first.
      if (!(globalThis as { __icodeKeepAlive?: boolean }).__icodeKeepAlive)
        process.stdout.write('', () => process.exit(code));
    },
    // An error nothing else caught is icode's own fault: said, and exit code 70 (EX_SOFTWARE), never 0.
    (error: unknown) => {
      process.stderr.write(
        `icode: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.stdout.write('', () => process.exit(70));
    },
  );
}
