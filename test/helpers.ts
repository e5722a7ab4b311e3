import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Kernel, type KernelOptions, loadHarnessManifest, type Settings } from '../kernel/index.ts';
import { builtinPlugins } from '../plugins/index.ts';

/** Every built-in plugin, for tests that compose a kernel (a plugin's own tests take them from here, not from plugins/). */
export { builtinPlugins };

/** A temporary HOME and project folder, with the user's icode dir inside HOME. */
export interface World {
  root: string;
  home: string;
  userDir: string;
  project: string;
  env: NodeJS.ProcessEnv;
}

export function makeWorld(): World {
  const root = mkdtempSync(join(tmpdir(), 'icode-'));
  const home = join(root, 'home');
  const project = join(root, 'project');
  const userDir = join(home, '.icode');
  mkdirSync(userDir, { recursive: true });
  mkdirSync(join(project, '.icode'), { recursive: true });
  return { root, home, userDir, project, env: { HOME: home, ICODE_CONFIG_DIR: userDir } };
}

export function write(file: string, content: string | object): string {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return file;
}

export interface FixturePlugin {
  name: string;
  version?: string;
  engines?: string;
  dependencies?: Record<string, string>;
  contributes?: Record<string, unknown>;
  activation?: 'startup' | 'lazy';
  timeoutMs?: number;
  /** The plugin module's source: an ES module whose default export has activate(ctx). */
  code?: string;
  manifestText?: string;
}

/** Writes a real plugin folder (plugin.json + index.mjs) and returns its path. */
export function writePlugin(world: World, p: FixturePlugin): string {
  const dir = join(world.root, 'plugins', p.name);
  const manifest = {
    name: p.name,
    version: p.version ?? '1.0.0',
    main: 'index.mjs',
    engines: { icode: p.engines ?? '^0.1.0' },
    ...(p.dependencies ? { dependencies: p.dependencies } : {}),
    ...(p.contributes ? { contributes: p.contributes } : {}),
    ...(p.activation ? { activation: p.activation } : {}),
    ...(p.timeoutMs ? { timeoutMs: p.timeoutMs } : {}),
  };
  write(join(dir, 'plugin.json'), p.manifestText ?? manifest);
  write(join(dir, 'index.mjs'), p.code ?? 'export default { activate() {} };\n');
  return dir;
}

/** Code for a fixture plugin that appends "activate NAME" / "deactivate NAME" to a shared log file. */
export function loggingPlugin(logFile: string, extra = ''): string {
  return `import { appendFileSync } from 'node:fs';
export default {
  activate(ctx) {
    this.name = ctx.name;
    appendFileSync(${JSON.stringify(logFile)}, 'activate ' + ctx.name + '\\n');
    ${extra}
  },
  deactivate() {
    appendFileSync(${JSON.stringify(logFile)}, 'deactivate ' + this.name + '\\n');
  },
};
`;
}

export interface BootOptions {
  plugins?: Array<{ name: string; version?: string; path?: string } | string>;
  config?: Settings;
  cli?: Settings;
  cwd?: string;
  extraEnv?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

export async function createKernel(world: World, o: BootOptions = {}): Promise<Kernel> {
  const file = write(join(world.root, 'harness.json'), {
    name: 'test',
    plugins: o.plugins ?? [],
    ...(o.config ? { config: o.config } : {}),
  });
  const options: KernelOptions = {
    cwd: o.cwd ?? world.project,
    home: world.home,
    env: { ...world.env, ...o.extraEnv },
    manifest: loadHarnessManifest(file),
    builtins: builtinPlugins,
    log: o.log ?? (() => {}),
    ...(o.cli ? { cli: o.cli } : {}),
  };
  return Kernel.create(options);
}

export async function boot(world: World, o: BootOptions = {}) {
  const kernel = await createKernel(world, o);
  const report = await kernel.boot();
  const status = (name: string) => report.plugins.find((p) => p.name === name)!;
  return { kernel, report, status };
}

/** Starts the built CLI in `world` and hands back the process, what it printed so far, and its exit. */
export function startCli(args: string[], world: World) {
  const bin = join(import.meta.dirname, '..', 'dist', 'icode.cjs');
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: world.project,
    env: { PATH: process.env.PATH, ...world.env },
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => {
    out.stdout += d;
  });
  child.stderr.on('data', (d) => {
    out.stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  return { child, out, exited };
}

/** Runs the built CLI (dist/icode.cjs) in a fresh world, feeding `stdin` if given. */
export function runCli(
  args: string[],
  options: { stdin?: string; world?: World } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const w = options.world ?? makeWorld();
  const bin = join(import.meta.dirname, '..', 'dist', 'icode.cjs');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: w.project,
      env: { PATH: process.env.PATH, ...w.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}

/** What `-p --output-format json` prints for a turn. */
export interface TurnResult {
  result: string;
  is_error: boolean;
  error?: unknown;
  tool_results: Array<{ tool_name: string; is_error: boolean; output: unknown }>;
}

/**
 * One headless turn on the embedded mock API, the model scripted by `steps` (a scenario: each step the
 * content of one reply, `{{tool_results}}` standing for what the tools answered), in `world`. The
 * scenario is written to a folder of its own, which replaces the built-in scenarios for the run.
 *
 * @example
 * const r = await mockTurn(w, [
 *   { content: [{ type: 'tool_use', name: 'read_file', input: { path: 'a.txt' } }] },
 *   { content: [{ type: 'text', text: 'Read: {{tool_results}}' }] },
 * ]);
 */
export async function mockTurn(world: World, steps: unknown[], extra: string[] = []): Promise<TurnResult> {
  const scenarios = mkdtempSync(join(world.root, 'scenarios-'));
  write(join(scenarios, 'turn.json'), { name: 'turn', steps });
  const r = await runCli(
    [
      '-p',
      '--mock',
      '--mock-scenarios',
      scenarios,
      '--output-format',
      'json',
      ...extra,
      'PARITY_SCENARIO:turn',
    ],
    { world },
  );
  try {
    return JSON.parse(r.stdout) as TurnResult;
  } catch {
    throw new Error(`the turn printed no JSON result (exit ${r.code}): ${r.stderr || r.stdout}`);
  }
}
