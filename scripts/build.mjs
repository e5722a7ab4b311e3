// Bundles the CLI into dist/ (one entry plus lazily loaded chunks), builds the SDK entry points, emits
// the SDK's type declarations, and writes the JSON Schemas editors use for settings and manifests.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
// Bundled CommonJS dependencies call require(); give every ESM chunk a real one.
const banner = {
  js: "import { createRequire as __icodeCreateRequire } from 'node:module'; const require = __icodeCreateRequire(import.meta.url);",
};
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

rmSync(join(root, 'dist'), { recursive: true, force: true });
await Promise.all([
  build({
    ...common,
    entryPoints: { icode: 'cli/icode.ts' },
    outdir: 'dist',
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    banner,
    // The CLI never loads TypeScript configs; cosmiconfig only imports it for .ts files.
    external: ['typescript'],
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
execFileSync(
  process.execPath,
  [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
  {
    cwd: root,
    stdio: 'inherit',
  },
);
