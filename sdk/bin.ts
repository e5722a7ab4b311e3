/**
 * `icode-sdk`, the SDK's command for plugin builds. `icode-sdk manifest [DIR]` writes each tool's
 * description and input schema, read from the built code, into DIR/plugin.json (see declare-tools.ts).
 */
import { IcodeError } from '../kernel/errors.ts';
import { declareTools } from './declare-tools.ts';

const USAGE =
  "usage: icode-sdk manifest [PLUGIN_DIR]   write the tools' descriptions and input schemas into plugin.json";

async function main(args: string[]): Promise<number> {
  const [command, dir = '.', ...rest] = args;
  if (command !== 'manifest' || rest.length) {
    process.stderr.write(`${USAGE}\n`);
    return command === '--help' || command === '-h' ? 0 : 2;
  }
  try {
    const { file, changed } = await declareTools(dir);
    process.stdout.write(
      changed.length ? `${file}: wrote ${changed.join(', ')}\n` : `${file}: tools already up to date\n`,
    );
    return 0;
  } catch (error) {
    const e = error as Error;
    process.stderr.write(
      `icode-sdk: ${e.message}\n${error instanceof IcodeError && error.fix ? `  fix: ${error.fix}\n` : ''}`,
    );
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
