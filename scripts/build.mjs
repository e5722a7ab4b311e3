// Bundles the CLI into dist/ (a tiny ESM entry and one CommonJS bundle), builds the SDK entry points, emits
// the SDK's type declarations, and writes the JSON Schemas editors use for settings and manifests.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const common = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  logLevel: 'warning',
  // Prefer ES module builds: jsonc-parser's UMD main cannot be bundled.
  mainFields: ['module', 'main'],
  define: { __ICODE_VERSION__: JSON.stringify(version) },
  minify: true,
  keepNames: true,
  sourcemap: 'linked',
};

/**
 * Node's own modules that most runs never touch (a hash, a child process, an HTTP server) cost 1-5 ms each
 * to load, and libraries require them at the top (commander: child_process; cosmiconfig: crypto). In the
 * CLI bundle each of these is a stand-in that loads the real module on first use of one of its exports.
 * Its export names are read here, from the Node that builds (the one that runs it: `npm ci` builds), so
 * copying them (esbuild's ESM interop, `import *`) does not load the module; a name this Node lacks is
 * looked up in the real module.
 */
const LAZY_BUILTINS = ['child_process', 'crypto', 'fs/promises', 'http', 'https', 'readline', 'zlib'];
const require = createRequire(import.meta.url);
const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    const filter = new RegExp(`^(node:)?(${LAZY_BUILTINS.join('|').replace('/', '\\/')})$`);
    b.onResolve({ filter }, (args) => ({ path: args.path.replace(/^node:/, ''), namespace: 'lazy-builtin' }));
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({
      contents: `const id = ${JSON.stringify(`node:${args.path}`)};
let real;
const load = () => (real ??= require(id));
const names = ${JSON.stringify(Object.keys(require(`node:${args.path}`)).filter((k) => k !== 'default'))};
const stand = {};
for (const name of [...names, 'default'])
  Object.defineProperty(stand, name, {
    get: () => (name === 'default' ? load() : load()[name]),
    set: (value) => { load()[name] = value; },
    enumerable: true,
    configurable: true,
  });
module.exports = new Proxy(stand, {
  // Interop helpers ask for __esModule before anything else: a built-in never has it.
  get: (t, key) => (key in t ? t[key] : key === '__esModule' ? undefined : Reflect.get(load(), key)),
  has: (t, key) => key in t || key in load(),
});`,
      loader: 'js',
    }));
  },
};

rmSync(join(root, 'dist'), { recursive: true, force: true });
rmSync(join(root, 'sdk', 'dist'), { recursive: true, force: true });
// The CLI is one CommonJS file (plugins included, evaluated only when they activate), so a V8 code cache
// can cover all of it; see cli/code-cache.ts.
await build({
  ...common,
  entryPoints: { cli: 'cli/main.ts' },
  outExtension: { '.js': '.cjs' },
  outdir: 'dist',
  format: 'cjs',
  // import.meta.url, as CommonJS knows it.
  define: {
    ...common.define,
    'import.meta.url': '__icodeMetaUrl',
    // The terminal UI is an ES module bundle of its own (ink loads yoga with top-level await).
    __ICODE_TUI_BUNDLE__: JSON.stringify('./tui.mjs'),
  },
  banner: { js: "var __icodeMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  plugins: [lazyBuiltins],
  // The CLI never loads TypeScript configs (cosmiconfig imports it only for .ts files); the Anthropic
  // SDK is half a megabyte that only a model request needs: it is bundled apart (below) and loaded on first use.
  // Libraries only some runs use load from node_modules when first needed (LSP, WebFetch's HTML, JSON
  // Schema), keeping the bundle every start reads small.
  external: [
    'typescript',
    '@anthropic-ai/sdk',
    'node-fetch',
    'web-tree-sitter',
    '@modelcontextprotocol/sdk',
    'vscode-languageserver-protocol',
    'turndown',
    'ajv',
  ],
});
await build({
  ...common,
  entryPoints: { 'anthropic-sdk': 'scripts/sdk-entry.ts', 'node-fetch': 'scripts/fetch-entry.ts' },
  outExtension: { '.js': '.cjs' },
  outdir: 'dist',
  format: 'cjs',
  sourcemap: false,
  alias: { punycode: 'punycode/' },
});
const buildId = createHash('sha256')
  .update(readFileSync(join(root, 'dist', 'cli.cjs')))
  .update(readFileSync(join(root, 'dist', 'anthropic-sdk.cjs')))
  .update(readFileSync(join(root, 'dist', 'node-fetch.cjs')))
  .digest('hex')
  .slice(0, 16);
await Promise.all([
  build({
    ...common,
    entryPoints: { tui: 'plugins/tui/app.tsx' },
    outExtension: { '.js': '.mjs' },
    outdir: 'dist',
    jsx: 'automatic',
    // One file: Node 20 loads ink's hundred small ES modules several times slower than one bundle.
    // ink imports react-devtools-core only when DEV=true; CommonJS dependencies get a require().
    alias: { 'react-devtools-core': './scripts/devtools-stub.mjs' },
    banner: {
      js: "import { createRequire as __icodeRequire } from 'node:module'; const require = __icodeRequire(import.meta.url);",
    },
    define: { ...common.define, 'process.env.NODE_ENV': '"production"' },
  }),
  build({
    ...common,
    entryPoints: { icode: 'cli/icode.ts' },
    outExtension: { '.js': '.cjs' },
    outdir: 'dist',
    format: 'cjs',
    sourcemap: false,
    define: { ...common.define, __ICODE_BUILD_ID__: JSON.stringify(buildId) },
  }),
  build({
    ...common,
    entryPoints: {
      'sdk/index': 'sdk/index.ts',
      'sdk/testing': 'sdk/testing.ts',
      'write-schemas': 'scripts/write-schemas.ts',
    },
    outdir: 'dist',
    splitting: true,
    chunkNames: 'sdk/chunks/[name]-[hash]',
    packages: 'external',
  }),
]);
execFileSync(process.execPath, [join(root, 'dist', 'write-schemas.js'), join(root, 'schemas')], {
  stdio: 'inherit',
});
rmSync(join(root, 'dist', 'write-schemas.js'));
rmSync(join(root, 'dist', 'write-schemas.js.map'));
execFileSync(
  process.execPath,
  [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
  {
    cwd: root,
    stdio: 'inherit',
  },
);

/**
 * `@icode/sdk`, the SDK as a package of its own (sdk/package.json): its two entry points with the kernel
 * they are built on bundled in, so installing it installs no CLI. zod is its peer dependency (one zod for a
 * plugin's schemas and the kernel that reads them); tapable stays a dependency, as the hook types name it;
 * TypeScript is only ever loaded by cosmiconfig for a .ts config, which a test kernel never reads.
 */
await build({
  ...common,
  entryPoints: { index: 'sdk/index.ts', testing: 'sdk/testing.ts', bin: 'sdk/bin.ts' },
  outdir: 'sdk/dist',
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: false,
  external: ['zod', 'tapable', 'typescript'],
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __icodeRequire } from 'node:module'; const require = __icodeRequire(import.meta.url);",
  },
});
cpSync(join(root, 'dist', 'types'), join(root, 'sdk', 'dist', 'types'), { recursive: true });
