#!/usr/bin/env node
// The entry point does as little as possible: `--version` answers before any module loads.
declare const __ICODE_VERSION__: string;

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-v')) {
  process.stdout.write(`${__ICODE_VERSION__}\n`);
} else {
  const { main } = await import('./main.ts');
  process.exitCode = await main(args);
}
