import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { KERNEL_VERSION } from '../kernel/index.ts';
import { SDK_VERSION } from '../sdk/version.ts';

/**
 * `icode plugins init NAME`: a publishable plugin package — package.json, plugin.json, tsconfig, one
 * tool in TypeScript on `@icode/sdk`, one test that boots a real kernel with `@icode/sdk/testing`, a README.
 * It installs from the registry alone: `@icode/sdk` is a small package of its own, not the CLI.
 */
export function scaffoldPlugin(target: string): string[] {
  const dir = resolve(target);
  const name = basename(dir);
  if (!/^(@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/.test(name))
    throw new Error(`"${name}" is not an npm package name: lowercase letters, digits, - and _`);
  if (existsSync(dir)) throw new Error(`${dir} already exists`);
  const tool = `${name.replace(/^@.*\//, '').replace(/[^a-z0-9]+/g, '_')}_hello`;
  const range = `^${KERNEL_VERSION}`;
  const sdk = `^${SDK_VERSION}`;
  const files: Record<string, string> = {
    'package.json': `${JSON.stringify(
      {
        name,
        version: '0.1.0',
        description: `An icode plugin`,
        type: 'module',
        main: 'dist/index.js',
        files: ['dist', 'plugin.json'],
        keywords: ['icode-plugin'],
        // icode-sdk manifest writes the tools' descriptions and input schemas, read from the built code,
        // into plugin.json: icode lists them without loading the plugin until the model calls one.
        scripts: {
          build: 'tsc && icode-sdk manifest',
          test: 'npm run build && node --test test/',
          prepublishOnly: 'npm test',
        },
        // icode provides both at run time, whatever the plugin's node_modules hold; devDependencies for
        // the build and the tests. Keep @icode/sdk out of any bundle.
        peerDependencies: { '@icode/sdk': sdk, zod: '^4.1.0' },
        devDependencies: {
          '@icode/sdk': sdk,
          '@types/node': '^20.19.0',
          typescript: '^5.9.0',
          zod: '^4.1.0',
        },
      },
      null,
      2,
    )}\n`,
    'plugin.json': `${JSON.stringify(
      {
        name,
        version: '0.1.0',
        description: 'An icode plugin',
        main: 'dist/index.js',
        engines: { icode: range },
        activation: 'lazy',
        contributes: {
          tools: [
            {
              name: tool,
              mode: 'read-only',
              // What the build writes from the code (npm run build); here from the start, so the
              // folder is a valid plugin before its first build.
              description: 'Greets someone by name',
              inputSchema: {
                type: 'object',
                properties: { name: { type: 'string', description: 'Who to greet' } },
                required: ['name'],
              },
            },
          ],
        },
      },
      null,
      2,
    )}\n`,
    'tsconfig.json': `${JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          outDir: 'dist',
          declaration: true,
          skipLibCheck: true,
        },
        include: ['src'],
      },
      null,
      2,
    )}\n`,
    'src/index.ts': `import { definePlugin, defineTool } from '@icode/sdk';
import * as z from 'zod';

const hello = defineTool({
  name: '${tool}',
  description: 'Greets someone by name',
  input: z.object({ name: z.string().describe('Who to greet') }),
  mode: 'read-only',
  execute: ({ name }) => \`Hello, \${name}!\`,
});

export default definePlugin({
  activate(ctx) {
    ctx.tools.register(hello);
  },
});
`,
    'test/plugin.test.mjs': `import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { bootTestKernel } from '@icode/sdk/testing';

const dir = fileURLToPath(new URL('..', import.meta.url));

test('${tool} greets, through the real kernel (validation, permission gate, hooks)', async () => {
  const h = await bootTestKernel({ plugins: [dir] });
  assert.equal(h.report.plugins[0].state, 'active');
  const r = await h.callTool('${tool}', { name: 'Ada' });
  assert.equal(r.content, 'Hello, Ada!');
  assert.equal(r.isError, false);
  const bad = await h.callTool('${tool}', {});
  assert.equal(bad.isError, true);
  await h.shutdown();
});
`,
    'README.md': `# ${name}

An [icode](https://www.npmjs.com/package/icode) plugin with one tool, \`${tool}\`.

\`\`\`sh
npm install && npm test          # build, then boot a real kernel with the plugin and call the tool
icode plugins install .          # try it in icode (or: icode plugins install ${name} once published)
\`\`\`

\`plugin.json\` is what icode reads without running any code: the name, version, the icode versions it
works with (\`engines.icode\`) and everything it contributes. Keep the two versions in step. The build
(\`icode-sdk manifest\`) writes each tool's description and input schema from the code into it, so icode
offers the tools without loading the plugin (\`"activation": "lazy"\`) until the model calls one. It
also adds a tool the code registers that plugin.json does not list yet, removes one the code no longer
registers, and copies package.json's version: \`npm version minor && npm run build\` keeps both in step.

A tool that reads or writes files, runs commands or reaches hosts says so in \`subjects\`, and that is
what icode's permission gate judges: \`subjects: ({ path }, ctx) => ({ kind: 'path', values:
[resolveReal(path, ctx.cwd)] })\` makes a path outside the project ask (or be refused where no one can be
asked), as icode's own file tools do; kinds are \`path\`, \`command\`, \`domain\` and \`text\`. A tool that
touches files without declaring them is not confined by the gate: what it does is its \`capabilities\`
(\`fs.read\`, \`fs.write\`, …), which the user accepts at install.

Try it in a model turn on the embedded mock API: write a scenario (a JSON file with the model's steps,
e.g. \`{ "name": "hello", "steps": [{ "content": [{ "type": "tool_use", "name": "${tool}", "input": {
"name": "Ada" } }] }, { "content": [{ "type": "text", "text": "{{tool_results}}" }] }] }\`) in a folder,
then \`icode -p --mock --mock-scenarios FOLDER "Greet PARITY_SCENARIO:hello"\` (the folder's scenarios
replace the built-in ones for that run).

The SDK is \`@icode/sdk\` (a peer dependency: icode provides its own at run time, and refuses the plugin
when that is outside the range). The test boots icode's real kernel from \`@icode/sdk/testing\`, with its
permission gate and workspace confinement: a path a tool declares in \`subjects\` (above) outside the
temporary project is refused there as it is in icode.
`,
  };
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(join(dir, file, '..'), { recursive: true });
    writeFileSync(join(dir, file), text);
  }
  return Object.keys(files).map((f) => join(dir, f));
}
