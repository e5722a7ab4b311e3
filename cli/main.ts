import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import {
  type BootReport,
  IcodeError,
  Kernel,
  loadHarnessManifest,
  PERMISSION_MODES,
  type ResolvedConfig,
  type Settings,
  userDirectory,
} from '../kernel/index.ts';
import { builtinPlugins } from '../plugins/index.ts';
import {
  type EnvironmentCheck,
  renderConfig,
  renderDoctor,
  renderPlugins,
  renderWarnings,
} from './render.ts';

declare const __ICODE_VERSION__: string;
const VERSION = typeof __ICODE_VERSION__ === 'string' ? __ICODE_VERSION__ : '0.0.0-dev';
const NODE_RANGE = '>=20.19';

/** The package root holds manifests/ and scenarios/: above cli/ in the source tree, above dist/ when built. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 3 && !existsSync(join(dir, 'manifests', 'default.json')); i++) dir = dirname(dir);
  return dir;
}
const defaultManifest = () => join(packageRoot(), 'manifests', 'default.json');

interface GlobalOptions {
  manifest?: string;
  cwd?: string;
  model?: string;
  permissionMode?: Settings extends { permissions?: infer P }
    ? P extends { defaultMode?: infer M }
      ? M
      : never
    : never;
}

function cliSettings(o: GlobalOptions): Settings | undefined {
  const s: Settings = {};
  if (o.model) s.model = o.model;
  if (o.permissionMode) s.permissions = { defaultMode: o.permissionMode };
  return Object.keys(s).length ? s : undefined;
}

async function createKernel(o: GlobalOptions): Promise<Kernel> {
  const cli = cliSettings(o);
  const kernel = await Kernel.create({
    cwd: o.cwd ?? process.cwd(),
    manifest: loadHarnessManifest(resolve(o.manifest ?? defaultManifest())),
    builtins: builtinPlugins,
    ...(cli ? { cli } : {}),
  });
  // Ctrl-C or a kill while plugins run still deactivates them, in reverse order.
  kernel.handleSignals();
  return kernel;
}

function onPath(binary: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const file = join(dir, binary);
    if (dir && existsSync(file)) return file;
  }
  return undefined;
}

function environmentChecks(config: ResolvedConfig | undefined): EnvironmentCheck[] {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  const userDir = config?.userDir ?? userDirectory();
  let writable = false;
  try {
    accessSync(existsSync(userDir) ? userDir : join(userDir, '..'), constants.W_OK);
    writable = true;
  } catch {}
  const git = onPath('git');
  return [
    {
      name: 'node',
      ok: major > 20 || (major === 20 && minor >= 19),
      detail: `${process.version} (needs ${NODE_RANGE})`,
    },
    { name: 'platform', ok: true, detail: `${process.platform} ${process.arch}` },
    {
      name: 'git',
      ok: Boolean(git),
      detail: git ?? 'not found on PATH (sessions will not see branch or status)',
    },
    { name: 'user dir', ok: writable, detail: `${userDir}${writable ? '' : ' is not writable'}` },
  ];
}

function print(json: boolean, value: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : text);
}

/** Runs the CLI; returns the exit code (0 ok, 1 something is failed, 2 bad usage or config). */
export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = new Command('icode')
    .description('An AI coding-agent harness built as a plugin microkernel')
    .version(VERSION, '-v, --version')
    .option('--manifest <file>', 'harness manifest to boot (default: manifests/default.json)')
    .option('--cwd <dir>', 'working directory (default: the current one)')
    .option('--model <model>', 'model to use (config layer: cli)')
    .addOption(
      new Option('--permission-mode <mode>', 'permission mode (config layer: cli)').choices(PERMISSION_MODES),
    )
    .showHelpAfterError('(run icode --help for usage)')
    .exitOverride();

  program
    .command('doctor')
    .description('check every plugin, the config files and the environment')
    .option('--json', 'print one JSON object')
    .action(async (opts: { json?: boolean }) => {
      let kernel: Kernel | undefined;
      let report: BootReport | undefined;
      let configError: string | undefined;
      try {
        kernel = await createKernel(program.opts());
        report = await kernel.boot();
      } catch (error) {
        if (!(error instanceof IcodeError)) throw error;
        configError = error.describe();
      }
      const env = environmentChecks(kernel?.config);
      const ok = !configError && env.every((c) => c.ok) && !report?.plugins.some((p) => p.state === 'failed');
      print(
        Boolean(opts.json),
        {
          ok,
          version: VERSION,
          manifest: report?.manifest,
          plugins: report?.plugins ?? [],
          config: kernel
            ? {
                projectRoot: kernel.config.projectRoot,
                layers: kernel.config.layers,
                warnings: report?.warnings ?? [],
              }
            : { error: configError },
          tools: kernel?.tools.names() ?? [],
          environment: env,
        },
        renderDoctor(VERSION, report, kernel?.config, configError, env),
      );
      await kernel?.shutdown();
      code = ok ? 0 : 1;
    });

  const plugins = program.command('plugins').description('the plugins of this harness');
  plugins
    .command('list')
    .description('list plugins with version and state, without loading their code')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const kernel = await createKernel(program.opts());
      const report = await kernel.inspect();
      const details = kernel.host.manifests().map(({ manifest, status }) => ({
        ...status,
        description: manifest?.description,
        contributes: manifest?.contributes,
        capabilities: manifest?.capabilities,
      }));
      const text = [
        `Harness "${report.manifest.name}" (${report.manifest.file})`,
        ...renderPlugins(report.plugins),
      ];
      if (report.warnings.length) text.push('', 'Warnings', ...renderWarnings(report.warnings));
      print(Boolean(opts.json), { manifest: report.manifest, plugins: details }, `${text.join('\n')}\n`);
      code = report.plugins.some((p) => p.state === 'failed') ? 1 : 0;
    });

  program
    .command('mock-server')
    .description('run the mock Anthropic API; its first line is MOCK_ANTHROPIC_BASE_URL=…')
    .option('--port <port>', 'port to listen on (default: a free one)', (v) => Number.parseInt(v, 10))
    .option('--scenarios <dir>', 'scenario folder (default: the scenarios/ icode ships)')
    .action(async (opts: { port?: number; scenarios?: string }) => {
      const harness = JSON.stringify({ name: 'mock-server', plugins: ['mock-anthropic'] });
      const kernel = await Kernel.create({
        cwd: process.cwd(),
        manifest: loadHarnessManifest('(mock-server)', harness),
        builtins: builtinPlugins,
      });
      await kernel.boot();
      const mock = await kernel.services.get('mock-anthropic');
      const server = await mock.start({
        scenariosDir: resolve(opts.scenarios ?? join(packageRoot(), 'scenarios')),
        ...(opts.port ? { port: opts.port } : {}),
      });
      process.stdout.write(`MOCK_ANTHROPIC_BASE_URL=${server.url}\n`);
      // Runs until SIGINT/SIGTERM; the plugin closes the server as it deactivates.
      kernel.handleSignals(() => process.exit(0));
      code = await new Promise<number>(() => {});
    });

  const config = program.command('config').description('the effective configuration');
  config
    .command('show')
    .description('print the effective config and the layer every key came from')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const kernel = await createKernel(program.opts());
      const c = kernel.config;
      print(
        Boolean(opts.json),
        { settings: c.settings, origins: c.origins, rules: c.rules, layers: c.layers, warnings: c.warnings },
        renderConfig(c) + (c.warnings.length ? `\nWarnings\n${renderWarnings(c.warnings).join('\n')}\n` : ''),
      );
    });

  try {
    if (argv.length === 0) {
      program.outputHelp();
      process.stdout.write('\nThe conversation engine is not built yet: start with `icode doctor`.\n');
      return 0;
    }
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof IcodeError) {
      process.stderr.write(`icode: ${error.code}: ${error.describe()}\n`);
      return 2;
    }
    throw error;
  }
}
