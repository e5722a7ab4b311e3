import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import type { Node, Parser } from 'web-tree-sitter';
import { importModule } from '../../sdk/index.ts';

export type SyntaxNode = Node;

let loading: Promise<Parser> | undefined;

/**
 * The bash grammar (tree-sitter-bash compiled to WebAssembly, run by web-tree-sitter): loaded once, on the
 * first command, so startup does not pay for it. Same grammar on every platform, no native build.
 */
export function bashParser(): Promise<Parser> {
  loading ??= (async () => {
    // V8 compiles WebAssembly twice: a quick baseline (Liftoff), then optimised code (TurboFan) on
    // background threads. For this 1.3 MB grammar the second pass takes ~0.5 s of CPU, which on a small
    // machine starves the first command bash runs; the baseline code parses a command line in ~40 µs.
    setFlagsFromString('--liftoff-only');
    const { Parser, Language } = await importModule<typeof import('web-tree-sitter')>('web-tree-sitter');
    await Parser.init();
    const require = createRequire(import.meta.url);
    const language = await Language.load(require.resolve('tree-sitter-bash/tree-sitter-bash.wasm'));
    const parser = new Parser();
    parser.setLanguage(language);
    return parser;
  })();
  loading.catch(() => {
    loading = undefined;
  });
  return loading;
}
