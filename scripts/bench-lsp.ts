// LSP benchmarks (issue 7): cold start of typescript-language-server to the first diagnostics of a file, and
// warm hover and definition latency, through icode's LSP tool against the same server driven by a bare
// vscode-languageserver-protocol client (spawn, initialize, didOpen, wait for publishDiagnostics) in the
// same run. The project is a small strict TypeScript project with one type error.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as P from 'vscode-languageserver-protocol/node';
import { builtinPlugins } from '../plugins/index.ts';
import { bootTestKernel } from '../sdk/testing.ts';

const runs = Number(process.argv[2] ?? 30);
const root = resolve(process.argv[3] ?? process.cwd());
const bin = join(root, 'node_modules', '.bin');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const project = mkdtempSync(join(tmpdir(), 'icode-bench-lsp-'));
mkdirSync(join(project, 'src'));
writeFileSync(
  join(project, 'tsconfig.json'),
  JSON.stringify({
    compilerOptions: { strict: true, noEmit: true, module: 'ESNext', moduleResolution: 'Bundler' },
  }),
);
writeFileSync(
  join(project, 'src', 'math.ts'),
  'export function add(a: number, b: number): number {\n  return a + b;\n}\n',
);
const mainText =
  "import { add } from './math';\n\nconst total = add(1, 2);\nconst wrong: string = add(3, 4);\n";
writeFileSync(join(project, 'src', 'main.ts'), mainText);
const main = join(project, 'src', 'main.ts');
const uri = pathToFileURL(main).href;

/** The bare client: what any LSP client must do, with nothing of icode around it. */
async function direct() {
  const child = spawn(join(bin, 'typescript-language-server'), ['--stdio'], { cwd: project });
  const connection = P.createProtocolConnection(
    new P.StreamMessageReader(child.stdout),
    new P.StreamMessageWriter(child.stdin),
  );
  let publishes = 0;
  const diagnostics = new Promise<P.Diagnostic[]>((resolve) => {
    connection.onNotification(P.PublishDiagnosticsNotification.type, (p) => {
      if (p.uri !== uri) return;
      publishes++;
      resolve(p.diagnostics);
    });
  });
  connection.onRequest(P.WorkDoneProgressCreateRequest.type, () => undefined);
  connection.listen();
  const rootUri = pathToFileURL(project).href;
  await connection.sendRequest(P.InitializeRequest.type, {
    processId: process.pid,
    rootUri,
    workspaceFolders: [{ uri: rootUri, name: 'w' }],
    capabilities: { textDocument: { publishDiagnostics: {}, hover: { contentFormat: ['markdown'] } } },
  });
  await connection.sendNotification(P.InitializedNotification.type, {});
  await connection.sendNotification(P.DidOpenTextDocumentNotification.type, {
    textDocument: { uri, languageId: 'typescript', version: 1, text: mainText },
  });
  const found = await diagnostics;
  if (!found.length) throw new Error('no diagnostics for the type error');
  return {
    connection,
    publishes: () => publishes,
    close: async () => {
      await connection.sendRequest(P.ShutdownRequest.type);
      await connection.sendNotification(P.ExitNotification.type);
      connection.dispose();
    },
  };
}

const viaIcode = () =>
  bootTestKernel({
    include: ['workspace-guard', 'lsp'],
    builtins: builtinPlugins,
    reuse: { home: join(project, '..', `${project.split('/').pop()}-home`), project },
    env: { PATH: `${bin}${delimiter}${process.env.PATH}` },
  });
const time = async <T>(fn: () => Promise<T>): Promise<[number, T]> => {
  const start = performance.now();
  const value = await fn();
  return [performance.now() - start, value];
};

const coldRuns = Math.max(5, Math.floor(runs / 5));
const cold = { direct: [] as number[], icode: [] as number[] };
let publishes = 0;
for (let i = 0; i < coldRuns + 1; i++) {
  const [d, client] = await time(direct);
  await new Promise((r) => setTimeout(r, 300));
  publishes = client.publishes();
  await client.close();
  const h = await viaIcode();
  const [ic, r] = await time(() => h.callTool('LSP', { action: 'diagnostics', path: 'src/main.ts' }));
  if (r.isError || !String(r.content).includes('2322'))
    throw new Error(`icode: ${JSON.stringify(r.content)}`);
  await h.shutdown();
  if (i === 0) continue; // warm-up (disk cache)
  cold.direct.push(d);
  cold.icode.push(ic);
}

const client = await direct();
const h = await viaIcode();
await h.callTool('LSP', { action: 'diagnostics', path: 'src/main.ts' });
const warm = {
  hoverDirect: [] as number[],
  hover: [] as number[],
  defDirect: [] as number[],
  def: [] as number[],
};
const at = { textDocument: { uri }, position: { line: 2, character: 15 } };
for (let i = 0; i < runs * 5 + 20; i++) {
  const [hd] = await time(() => client.connection.sendRequest(P.HoverRequest.type, at));
  const [hi, hr] = await time(() =>
    h.callTool('LSP', { action: 'hover', path: 'src/main.ts', line: 3, character: 16 }),
  );
  const [dd] = await time(() => client.connection.sendRequest(P.DefinitionRequest.type, at));
  const [di, dr] = await time(() =>
    h.callTool('LSP', { action: 'definition', path: 'src/main.ts', line: 3, character: 16 }),
  );
  if (hr.isError || dr.isError || !String(dr.content).startsWith('src/math.ts:1:17'))
    throw new Error(`icode: ${JSON.stringify([hr.content, dr.content])}`);
  if (i < 20) continue;
  warm.hoverDirect.push(hd);
  warm.hover.push(hi);
  warm.defDirect.push(dd);
  warm.def.push(di);
}
await client.close();
await h.shutdown();

const row = (what: string, xs: number[], base: number) =>
  console.log(`| ${what} | ${median(xs).toFixed(1)} | ${(median(xs) / base).toFixed(2)}x |`);
const coldBase = median(cold.direct);
console.log(
  `\nLSP: typescript-language-server on a 2-file strict project; ${coldRuns} cold runs and ${warm.hover.length} warm requests each (median), interleaved; the server published ${publishes} diagnostics notification(s) for the opened file\n`,
);
console.log('| what | median ms | vs bare client |');
console.log('|---|---|---|');
row('bare client: spawn, initialize, didOpen → first diagnostics (baseline)', cold.direct, coldBase);
row('icode LSP diagnostics on a cold server (lazy start included)', cold.icode, coldBase);
const hoverBase = median(warm.hoverDirect);
row('bare client: warm hover (baseline)', warm.hoverDirect, hoverBase);
row('icode LSP hover, warm', warm.hover, hoverBase);
const defBase = median(warm.defDirect);
row('bare client: warm definition (baseline)', warm.defDirect, defBase);
row('icode LSP definition, warm', warm.def, defBase);
