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
    const r = await declareTools(dir);
    const said = [
      ...(r.version ? [`version ${r.version.from ?? '(none)'} -> ${r.version.to} (from package.json)`] : []),
      ...(r.added.length ? [`added ${r.added.join(', ')}`] : []),
      ...(r.changed.length ? [`wrote ${r.changed.join(', ')}`] : []),
      ...(r.removed.length ? [`removed ${r.removed.join(', ')} (the code no longer registers them)`] : []),
    ];
    process.stdout.write(`${r.file}: ${said.length ? said.join('; ') : 'tools already up to date'}\n`);
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
