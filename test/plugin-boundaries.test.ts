import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, test } from 'vitest';
import { write } from './helpers.ts';

// Plugins meet through the SDK and kernel services, never through each other's files: a third-party plugin
// cannot reach into a built-in's folder, so built-ins do not either. This keeps it so.

const SOURCE = /\.(ts|tsx|mts|cts|js|jsx|mjs|cjs)$/;
const TEST_FILE = /\.test\.[cm]?[jt]sx?$/;

interface Reach {
  /** The importing file and line, from the repository root. */
  from: string;
  line: number;
  specifier: string;
  /** The imported path, from the repository root. */
  to: string;
  /** The plugin folder it lands in; absent when it lands outside plugins/<name>/. */
  plugin?: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sourceFiles(path);
    return SOURCE.test(entry.name) ? [path] : [];
  });
}

/** Every module a file names: imports, re-exports, `import('…')`, `import type`-position `import('…')`, augmentations. */
function specifiers(file: string): Array<{ specifier: string; line: number }> {
  const text = readFileSync(file, 'utf8');
  const kind = file.endsWith('x')
    ? ts.ScriptKind.TSX
    : /\.[cm]?js$/.test(file)
      ? ts.ScriptKind.JS
      : ts.ScriptKind.TS;
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, kind);
  const found: Array<{ specifier: string; line: number }> = [];
  const add = (node: ts.Node | undefined) => {
    if (node && (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node))) {
      found.push({
        specifier: node.text,
        line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1,
      });
    }
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) add(node.moduleSpecifier);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference))
      add(node.moduleReference.expression);
    else if (ts.isModuleDeclaration(node) && ts.isStringLiteral(node.name)) add(node.name);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node.argument.literal);
    else if (
      ts.isCallExpression(node) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword ||
        (ts.isIdentifier(node.expression) && node.expression.text === 'require'))
    )
      add(node.arguments[0]);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/**
 * Imports from plugins/<name>/ that leave the plugin's own folder for anything but sdk/ and kernel/: into
 * another plugin's folder, or (outside tests) anywhere else. Tests may also use test/ and the built-in list.
 */
function boundaryViolations(root: string): Reach[] {
  const plugins = join(root, 'plugins');
  const fromRoot = (path: string) => relative(root, path).split(sep).join('/');
  const violations: Reach[] = [];
  for (const entry of readdirSync(plugins, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    for (const file of sourceFiles(join(plugins, entry.name))) {
      for (const { specifier, line } of specifiers(file)) {
        if (!specifier.startsWith('.') && !isAbsolute(specifier)) continue; // a package, 'icode/sdk', node:
        const target = resolve(dirname(file), specifier);
        const inPlugins = relative(plugins, target).split(sep);
        const top = relative(root, target).split(sep)[0];
        const reach: Reach = { from: fromRoot(file), line, specifier, to: fromRoot(target) };
        if (inPlugins[0] !== '..' && inPlugins.length > 1) {
          if (inPlugins[0] !== entry.name) violations.push({ ...reach, plugin: inPlugins[0]! });
          continue;
        }
        const allowed = TEST_FILE.test(file)
          ? top === 'sdk' || top === 'kernel' || top === 'test' || inPlugins.length === 1
          : top === 'sdk' || top === 'kernel';
        if (!allowed) violations.push(reach);
      }
    }
  }
  return violations;
}

const ADVICE =
  'A plugin imports only its own files, sdk/ and kernel/. What several plugins share is a contract: move it ' +
  'to sdk/ (a service type with its `Services` entry in sdk/services.ts, a shared helper in an sdk/ module ' +
  "exported from sdk/index.ts) and reach the other plugin through ctx.services.get('…'). Plugin tests " +
  'share fixtures through test/ (test/mock-api.ts, test/helpers.ts)';

const describeReach = (r: Reach) =>
  `${r.from}:${r.line} imports '${r.specifier}' → ${r.to}${
    r.plugin ? ` (inside plugin "${r.plugin}")` : ' (outside sdk/ and kernel/)'
  }`;

describe('plugin boundaries', () => {
  test('no file under plugins/<name>/ imports another plugin’s folder, only its own files, sdk/ and kernel/', () => {
    const root = resolve(import.meta.dirname, '..');
    const found = boundaryViolations(root).map(describeReach);
    expect(found, `${found.length} import(s) cross a plugin boundary. ${ADVICE}`).toEqual([]);
  });

  describe('the check', () => {
    const roots: string[] = [];
    afterAll(() => {
      for (const root of roots) rmSync(root, { recursive: true, force: true });
    });
    /** A repository of these files (path → text) in a temporary folder. */
    const repository = (files: Record<string, string>) => {
      const root = mkdtempSync(join(tmpdir(), 'icode-boundaries-'));
      roots.push(root);
      for (const [path, text] of Object.entries(files)) write(join(root, path), text);
      return root;
    };

    test('names static, re-exported, dynamic, type-position and augmenting imports of another plugin, with their lines', () => {
      const root = repository({
        'plugins/b/store.ts': 'export interface Row { id: string }\n',
        'plugins/a/index.ts': [
          "import { definePlugin } from '../../sdk/index.ts';",
          "import type { Row } from '../b/store.ts';",
          "export { Row as Line } from '../b/store.ts';",
          "const lazy = () => import('../b/store.ts');",
          "type Later = typeof import('../b/store.ts');",
          "declare module '../b/store.ts' { interface Row { extra?: string } }",
          "// import { Row } from '../b/store.ts' in a comment is not an import",
          'const text = "import(\'../b/store.ts\')";',
          "import { own } from './own.ts';",
          "import * as z from 'zod';",
        ].join('\n'),
        'plugins/a/nested/deep.tsx': "import { Row } from '../../b/store.ts';\n",
      });
      const found = boundaryViolations(root);
      expect(found.map((r) => `${r.from}:${r.line} ${r.plugin}`)).toEqual([
        'plugins/a/index.ts:2 b',
        'plugins/a/index.ts:3 b',
        'plugins/a/index.ts:4 b',
        'plugins/a/index.ts:5 b',
        'plugins/a/index.ts:6 b',
        'plugins/a/nested/deep.tsx:1 b',
      ]);
      expect(describeReach(found[0]!)).toBe(
        `plugins/a/index.ts:2 imports '../b/store.ts' → plugins/b/store.ts (inside plugin "b")`,
      );
    });

    test('lets a plugin’s tests use test/ helpers and the built-in list, but not its code', () => {
      const root = repository({
        'plugins/index.ts': 'export const builtinPlugins = [];\n',
        'plugins/c/c.test.ts':
          "import { makeWorld } from '../../test/helpers.ts';\nimport { builtinPlugins } from '../index.ts';\n",
        'plugins/c/index.ts':
          "import { makeWorld } from '../../test/helpers.ts';\nimport { builtinPlugins } from '../index.ts';\n",
      });
      expect(boundaryViolations(root).map(describeReach)).toEqual([
        "plugins/c/index.ts:1 imports '../../test/helpers.ts' → test/helpers.ts (outside sdk/ and kernel/)",
        "plugins/c/index.ts:2 imports '../index.ts' → plugins/index.ts (outside sdk/ and kernel/)",
      ]);
    });
  });
});
