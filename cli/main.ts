import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { containFaults, describeFault } from '../kernel/faults.ts';
import {
  type BootReport,
  type Env,
  ErrorCodes,
  formatProblem,
  IcodeError,
  Kernel,
  loadHarnessManifest,
  PERMISSION_MODES,
  type PermissionMode,
  parseSlashCommand,
  type ResolvedConfig,
  readInstalled,
  type Settings,
  userDirectory,
} from '../kernel/index.ts';
import { didYouMean } from '../kernel/plugin-checks.ts';
import { builtinPlugins } from '../plugins/index.ts';
import { renderLspStatus } from '../plugins/lsp/render.ts';
import { renderStatus } from '../plugins/mcp/render.ts';
import { renderTasks } from '../plugins/tasks/render.ts';
import {
  claudePluginId,
  claudePluginSummaries,
  printable,
  readClaudePlugins,
} from '../sdk/claude-plugins.ts';
import { findExecutable } from '../sdk/process.ts';
import { pluginLines } from '../sdk/status.ts';
import { type CheckQuery, checkLines, checkOne } from './check.ts';
import {
  OUTPUT_FORMATS,
  type OutputFormat,
  pluginHealth,
  readStdin,
  reportHealth,
  runHeadless,
  splitRules,
} from './headless.ts';
import { mcpCommands } from './mcp.ts';
import { pluginCommands } from './plugins.ts';
import {
  type EnvironmentCheck,
  renderConfig,
  renderDoctor,
  renderProblems,
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
  permissionMode?: PermissionMode;
  addDir?: string[];
}

interface HeadlessOptions {
  print?: boolean;
  outputFormat: OutputFormat;
  includePartialMessages?: boolean;
  /** False with --no-wait-tasks. */
  waitTasks?: boolean;
  maxTurns?: number;
  allowedTools?: string[];
  disallowedTools?: string[];
  systemPrompt?: string;
  appendSystemPrompt?: string;
  jsonSchema?: string;
  /** False in the UI: it reads the terminal itself, so the stdin y/N prompt stays off. */
  stdinApproval?: boolean;
  mock?: boolean;
  mockScenarios?: string;
  continue?: boolean;
  resume?: string;
  permissionPromptStdin?: boolean;
}

/** `--json-schema FILE`: the schema, checked before any model request; a bad file names itself. */
async function readJsonSchema(file: string): Promise<Record<string, unknown>> {
  let schema: unknown;
  try {
    schema = JSON.parse(readFileSync(resolve(file), 'utf8'));
  } catch (error) {
    throw new IcodeError(
      ErrorCodes.CONFIG_INVALID,
      `--json-schema ${file}: ${error instanceof Error ? error.message : error}`,
      'give a readable JSON file holding a JSON Schema',
    );
  }
  if (!schema || typeof schema !== 'object' || Array.isArray(schema))
    throw new IcodeError(
      ErrorCodes.CONFIG_INVALID,
      `--json-schema ${file}: a schema is a JSON object`,
      'e.g. { "type": "object", "properties": { … } }',
    );
  const { compileSchema } = await import('../plugins/structured-output/schema.ts');
  compileSchema(schema, `--json-schema ${file}`);
  return schema as Record<string, unknown>;
}

function cliSettings(o: GlobalOptions & Partial<HeadlessOptions>): Settings | undefined {
  const s: Settings = {};
  if (o.model) s.model = o.model;
  const allow = splitRules(o.allowedTools);
  const deny = splitRules(o.disallowedTools);
  // Relative to where icode was started, as a user typing the path means it.
  const dirs = (o.addDir ?? []).map((d) => resolve(o.cwd ?? process.cwd(), d));
  if (o.permissionMode || allow.length || deny.length || dirs.length) {
    s.permissions = {
      ...(o.permissionMode ? { defaultMode: o.permissionMode } : {}),
      ...(allow.length ? { allow } : {}),
      ...(deny.length ? { deny } : {}),
      ...(dirs.length ? { additionalDirectories: dirs } : {}),
    };
  }
  if (o.permissionPromptStdin) s.plugins = { 'stdin-approval': { config: { enabled: true } } };
  if (o.stdinApproval === false) s.plugins = { 'stdin-approval': { config: { enabled: false } } };
  return Object.keys(s).length ? s : undefined;
}

async function createKernel(
  o: GlobalOptions & Partial<HeadlessOptions>,
  env?: Env,
  { signals = true, off = [] }: { signals?: boolean; off?: string[] } = {},
): Promise<Kernel> {
  const given = cliSettings(o);
  // Plugins a command switches off for its own run (mcp serve without --with-mcp-servers: no MCP client).
  const cli: Settings | undefined = off.length
    ? {
        ...given,
        plugins: { ...given?.plugins, ...Object.fromEntries(off.map((name) => [name, { enabled: false }])) },
      }
    : given;
  const kernel = await Kernel.create({
    cwd: o.cwd ?? process.cwd(),
    ...(env ? { env } : {}),
    manifest: loadHarnessManifest(resolve(o.manifest ?? defaultManifest())),
    builtins: builtinPlugins,
    ...(cli ? { cli } : {}),
  });
  // Ctrl-C or a kill while plugins run still deactivates them, in reverse order.
  if (signals) kernel.handleSignals();
  return kernel;
}

/**
 * The end of a headless run with background tasks still going (a sub-agent the model started): they
 * are waited for, saying so, since a process that exits ends them half done; with --no-wait-tasks they
 * are stopped, saying which.
 */
async function backgroundTasks(kernel: Kernel, wait: boolean): Promise<void> {
  if (!kernel.host.statuses().some((p) => p.name === 'tasks' && p.activated)) return;
  const tasks = await kernel.services.get('tasks');
  const open = tasks.list().filter((t) => t.status === 'queued' || t.status === 'running');
  if (!open.length) return;
  const names = open.map((t) => `${t.id} (${t.description})`).join(', ');
  if (!wait) {
    for (const t of open) tasks.stop(t.id);
    // Ended as stopped before the shutdown could count them interrupted (a task that does not end within
    // a few seconds of its stop is interrupted by the shutdown instead).
    await Promise.race([
      Promise.all(open.map((t) => tasks.settled(t.id))),
      new Promise((resolve) => setTimeout(resolve, 5_000).unref()),
    ]);
    process.stderr.write(`icode: stopped ${open.length} background tasks still running: ${names}\n`);
    return;
  }
  process.stderr.write(
    `icode: waiting for ${open.length} background tasks before exiting: ${names} (--no-wait-tasks stops them instead)\n`,
  );
  const ended = await Promise.all(open.map((t) => tasks.settled(t.id)));
  process.stderr.write(
    `icode: background tasks ended: ${ended.map((t) => `${t.id} ${t.status}`).join(', ')}\n`,
  );
}

/** Boots a small built-in composition for a tool command (the mock server, the scenario runner). */
async function bootComposition(name: string, plugins: string[]): Promise<Kernel> {
  const kernel = await Kernel.create({
    cwd: process.cwd(),
    manifest: loadHarnessManifest(`(${name})`, JSON.stringify({ name, plugins })),
    builtins: builtinPlugins,
    installed: false,
  });
  await kernel.boot();
  return kernel;
}

function environmentChecks(config: ResolvedConfig | undefined): EnvironmentCheck[] {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  const userDir = config?.userDir ?? userDirectory();
  let writable = false;
  try {
    accessSync(existsSync(userDir) ? userDir : join(userDir, '..'), constants.W_OK);
    writable = true;
  } catch {}
  const git = findExecutable('git');
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
  // A plugin's stray throw or rejection fails that plugin, not the run (kernel/faults.ts); each plugin's
  // first fault is told (a failed plugin's timer may go on throwing).
  const told = new Set<string | undefined>();
  containFaults((fault) => {
    if (fault.plugin && told.has(fault.plugin)) return;
    told.add(fault.plugin);
    process.stderr.write(`icode: ${describeFault(fault)}\n`);
  });
  // A reader that stops reading (`icode -p … | head`) ends the run as it would end any Unix tool: at
  // once, with 141 (SIGPIPE). The error is icode's own, never a plugin's, whoever was writing.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(141);
  });
  process.stderr.on('error', () => {});
  const program = new Command('icode')
    .description('An AI coding-agent harness built as a plugin microkernel')
    .version(VERSION, '-v, --version')
    .option('--manifest <file>', 'harness manifest to boot (default: manifests/default.json)')
    .option('--cwd <dir>', 'working directory (default: the current one)')
    .option('--model <model>', 'model to use (config layer: cli)')
    .addOption(
      new Option('--permission-mode <mode>', 'permission mode (config layer: cli)').choices(PERMISSION_MODES),
    )
    .addOption(
      new Option(
        '--add-dir <dir>',
        'another directory the tools may work in, like the project (repeatable; config layer: cli)',
      ).argParser((dir: string, dirs: string[] = []) => [...dirs, dir]),
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
      const ok =
        !configError &&
        env.every((c) => c.ok) &&
        !report?.plugins.some((p) => p.state === 'failed') &&
        !report?.problems.length;
      // MCP servers, when the harness has the mcp plugin and it is running.
      const mcpLive = report?.plugins.some(
        (p) => p.name === 'mcp' && (p.state === 'active' || p.state === 'degraded'),
      );
      const mcpServers = mcpLive && kernel ? (await kernel.services.get('mcp')).list() : [];
      const lspLive = report?.plugins.some(
        (p) => p.name === 'lsp' && (p.state === 'active' || p.state === 'degraded'),
      );
      const languageServers = lspLive && kernel ? (await kernel.services.get('lsp')).list() : [];
      print(
        Boolean(opts.json),
        {
          ok,
          version: VERSION,
          manifest: report?.manifest,
          plugins: report?.plugins ?? [],
          problems: report?.problems ?? [],
          config: kernel
            ? {
                projectRoot: kernel.config.projectRoot,
                layers: kernel.config.layers,
                warnings: report?.warnings ?? [],
              }
            : { error: configError },
          tools: kernel?.tools.names() ?? [],
          mcpServers,
          languageServers,
          environment: env,
        },
        renderDoctor(VERSION, report, kernel?.config, configError, env) +
          (mcpServers.length ? `\nMCP servers\n${renderStatus(mcpServers).replace(/^/gm, '  ')}\n` : '') +
          (languageServers.length
            ? `\nLanguage servers\n${renderLspStatus(languageServers).replace(/^/gm, '  ')}\n`
            : ''),
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
      // Why each plugin is on or off: the harness lists it, or a settings layer switched it (and its parts).
      const installed = new Set(readInstalled(kernel.config.userDir).map((p) => p.name));
      const why = (name: string) => {
        const s = kernel.config.settings.plugins[name];
        const where = (key: string[]) => {
          const loc = kernel.config.locate(['plugins', name, ...key]);
          return `${kernel.config.origins[['plugins', name, ...key].join('.')] ?? 'settings'}${loc.file ? ` (${loc.file}${loc.line ? `:${loc.line}` : ''})` : ''}`;
        };
        const parts = [
          installed.has(name)
            ? 'installed with icode plugins install'
            : `listed in harness "${report.manifest.name}"`,
          ...(s?.enabled !== undefined
            ? [`${s.enabled ? 'enabled' : 'disabled'} by ${where(['enabled'])}`]
            : []),
          ...(['tools', 'commands', 'hooks'] as const).flatMap((kind) =>
            Object.entries(s?.[kind] ?? {})
              .filter(([, on]) => on === false)
              .map(([item]) => `${kind.slice(0, -1)} ${item} off by ${where([kind, item])}`),
          ),
        ];
        return parts.join('; ');
      };
      const details = kernel.host.manifests().map(({ manifest, status }) => ({
        ...status,
        why: why(status.name),
        description: manifest?.description,
        contributes: manifest?.contributes,
        capabilities: manifest?.capabilities,
      }));
      // No plugin code ran, so none is called active: "enabled" is as far as the manifests can tell.
      const text = [
        `Harness "${report.manifest.name}" (${report.manifest.file})`,
        ...pluginLines(report.plugins, { inspected: true }),
        ...renderProblems(report.problems),
        '',
        'Why',
        ...details.map((d) => `  ${d.name}: ${d.why}`),
      ];
      const claude = claudePluginSummaries(kernel.config);
      if (claude.length)
        text.push(
          '',
          'Claude Code plugins (installed with icode plugins install; switched by enabledPlugins)',
          ...claude.map((c) => {
            const state = c.enabled
              ? `enabled by ${c.by}`
              : c.by
                ? `disabled by ${c.by}`
                : 'installed, not enabled';
            const parts = c.parts
              ? Object.entries(c.parts)
                  .filter(([, n]) => n)
                  .map(([k, n]) => `${n} ${k === 'mcpServers' ? 'MCP servers' : k}`)
                  .join(', ') || 'nothing'
              : `broken: ${c.problem}`;
            return `  ${c.id}${c.version ? ` ${c.version}` : ''}: ${state}; ${parts}`;
          }),
        );
      if (report.warnings.length) text.push('', 'Warnings', ...renderWarnings(report.warnings));
      if (report.plugins.some((p) => p.state === 'active'))
        text.push(
          '',
          'Read from the manifests without running plugin code: icode doctor activates the plugins and checks them (lazy ones load on first use).',
        );
      print(
        Boolean(opts.json),
        {
          manifest: report.manifest,
          plugins: details,
          claudePlugins: claude,
          problems: report.problems,
          warnings: report.warnings,
        },
        `${text.join('\n')}\n`,
      );
      code = report.plugins.some((p) => p.state === 'failed') || report.problems.length ? 1 : 0;
    });

  pluginCommands(plugins, {
    kernel: () => createKernel(program.opts()),
    packageRoot: packageRoot(),
    exit: (c) => {
      code = c;
    },
  });
  // A name no harness entry, built-in or installed plugin has is a typo: refuse it and name the nearest,
  // rather than write a switch nothing reads.
  for (const verb of ['enable', 'disable']) {
    plugins.commands
      .find((c) => c.name() === verb)
      ?.hook('preAction', async (_plugins, action) => {
        const name = String(action.args[0]);
        const kernel = await createKernel(program.opts(), undefined, { signals: false });
        // Installed Claude Code plugins too, by name or `name@marketplace`.
        const claude = readClaudePlugins(kernel.config.userDir).flatMap((p) => [p.name, claudePluginId(p)]);
        const known = [...kernel.knownPlugins(), ...claude];
        if (known.includes(name)) return;
        throw new CommanderError(
          2,
          'icode.usage',
          `no plugin "${name}" in this harness, built in or installed${didYouMean(name, known) || ' (see icode plugins list)'}`,
        );
      });
  }

  const startMock = async (scenariosDir: string, port?: number) => {
    const kernel = await bootComposition('mock-server', ['mock-anthropic']);
    const mock = await kernel.services.get('mock-anthropic');
    return { kernel, server: await mock.start({ scenariosDir, ...(port ? { port } : {}) }) };
  };
  /** What the harness's environment becomes to talk to a mock server instead of the real API. */
  const mockEnv = (url: string): Env => ({
    ...process.env,
    ANTHROPIC_BASE_URL: url,
    ANTHROPIC_API_KEY: 'icode-mock',
    ANTHROPIC_AUTH_TOKEN: '',
  });
  /** `--mock [--mock-scenarios DIR]`: the mock server started and the environment for it; else nothing. */
  const mockFor = async (o: HeadlessOptions) => {
    if (!o.mock) return { mock: undefined, env: undefined };
    const mock = await startMock(
      resolve(o.mockScenarios ?? (typeof o.mock === 'string' ? o.mock : join(packageRoot(), 'scenarios'))),
    );
    return { mock, env: mockEnv(mock.server.url) };
  };

  program
    .argument('[prompt]', 'the prompt (with -p; read from stdin when absent)')
    .option('-p, --print', 'run the prompt headless and print the result')
    .addOption(new Option('--output-format <format>', 'output of -p').choices(OUTPUT_FORMATS).default('text'))
    .option(
      '--no-wait-tasks',
      'with -p: stop the background tasks still running at the end instead of waiting',
    )
    .option(
      '--include-partial-messages',
      "stream-json: also each delta as it streams (Claude Code's stream_event lines)",
    )
    .option(
      '--verbose',
      'accepted as Claude Code accepts it with stream-json (icode prints every message anyway)',
    )
    .option('--max-turns <n>', 'stop after this many model turns', (v) => Number.parseInt(v, 10))
    .option('--allowedTools <rules...>', 'permission rules to allow, e.g. "Bash(npm test:*)" Read')
    .option('--disallowedTools <rules...>', 'permission rules to deny')
    .option('--system-prompt <text>', "replace icode's system prompt")
    .option('--append-system-prompt <text>', 'add to the system prompt')
    .option(
      '--json-schema <file>',
      'the final answer must be JSON matching this JSON Schema (structured_output)',
    )
    .option('--permission-prompt-stdin', 'answer permission asks with y/N lines on stdin')
    .option('-c, --continue', "continue this project's latest session")
    .option('-r, --resume <id>', 'continue the session with this id')
    .option('--mock', 'answer from the embedded mock Anthropic API (no key needed)')
    .option('--mock-scenarios <dir>', 'scenario folder for --mock (default: the scenarios/ icode ships)')
    .action(async (promptArg: string | undefined) => {
      const o = program.opts<GlobalOptions & HeadlessOptions>();
      if (!o.print && promptArg) {
        throw new CommanderError(
          2,
          'icode.usage',
          `unknown command '${promptArg}' (to run a prompt: icode -p "…")`,
        );
      }
      const { mock, env } = await mockFor(o);
      if (!o.print) {
        const kernel = await createKernel({ ...o, stdinApproval: false }, env, { signals: false });
        try {
          await kernel.boot();
          if (!kernel.services.owner('ui')) {
            program.outputHelp();
            process.stdout.write(
              '\nThis harness has no terminal UI (the tui plugin): run a prompt with `icode -p "…"`.\n',
            );
            return;
          }
          const session = await kernel.services.get('session');
          const resume = o.resume ?? (o.continue ? session.latest() : undefined);
          code = await (await kernel.services.get('ui')).run({
            ...(resume ? { resume } : {}),
            model: String(kernel.config.settings.model ?? 'sonnet'),
            mode: kernel.sessionMode,
            version: VERSION,
            addRules: (rules) =>
              kernel.gate.addRules(rules.map((rule) => ({ rule, effect: 'allow', layer: 'session' }))),
          });
        } finally {
          await kernel.shutdown();
          await mock?.kernel.shutdown();
        }
        return;
      }
      // With --permission-prompt-stdin, stdin carries the answers; the prompt must be an argument.
      const fromStdin = !promptArg && !process.stdin.isTTY && !o.permissionPromptStdin;
      const prompt = promptArg ?? (fromStdin ? (await readStdin()).trim() : '');
      if (!prompt)
        throw new CommanderError(
          2,
          'icode.prompt',
          'icode -p needs a prompt: icode -p "…", or pipe it on stdin',
        );
      // A headless run answers Ctrl-C itself: the session is interrupted, records it, and the kernel
      // shuts down below.
      const kernel = await createKernel(o, env, { signals: false });
      // Until the run starts, a signal shuts the plugins down (MCP servers included) and exits 130/143.
      const unguard = kernel.handleSignals();
      try {
        const { problems, warnings } = await kernel.boot();
        // What config did not take (a project's danger-full-access, an unknown key) is said on every run,
        // not only by doctor: a setting that silently does nothing is worse than a noisy one.
        for (const w of warnings) process.stderr.write(`icode: warning: ${formatProblem(w)}\n`);
        reportHealth(pluginHealth(kernel.host.statuses()));
        const session = await kernel.services.get('session');
        const resume = o.resume ?? (o.continue ? session.latest() : undefined);
        if (o.continue && !resume)
          throw new CommanderError(2, 'icode.usage', 'no session to continue in this project');
        // `/name args`: a command of the harness runs here; what it prints is the answer, and a prompt it
        // gives (a custom command, /init, /compact) goes to the model.
        let run = prompt;
        let model: string | undefined;
        const slash = parseSlashCommand(prompt);
        if (slash && kernel.commands.list().some((c) => c.name === slash.name)) {
          const outcome = await kernel.commands.run(slash.name, slash.args, {
            cwd: process.cwd(),
            session: {
              ...(resume ? { id: resume } : {}),
              model: String(kernel.config.settings.model ?? 'sonnet'),
              permissionMode: String(kernel.config.settings.permissions?.defaultMode ?? 'prompt'),
            },
          });
          if (outcome.isError || !outcome.prompt) {
            if (o.outputFormat === 'text')
              (outcome.isError ? process.stderr : process.stdout).write(`${outcome.output}\n`);
            else
              process.stdout.write(
                `${JSON.stringify({ type: 'command', command: slash.name, output: outcome.output, is_error: outcome.isError })}\n`,
              );
            code = outcome.isError ? 1 : 0;
            return;
          }
          run = outcome.prompt;
          model = outcome.model;
          if (outcome.allowedTools?.length)
            kernel.gate.addRules(
              outcome.allowedTools.map((rule) => ({ rule, effect: 'allow', layer: `/${slash.name}` })),
            );
        }
        // A harness that cannot reach a model says so now, not at the first model request.
        if (problems.length) {
          for (const p of problems) process.stderr.write(`icode: ${p.code}: ${p.message}\n  fix: ${p.fix}\n`);
          code = 1;
          return;
        }
        unguard();
        code = await runHeadless(session, {
          health: () => kernel.host.statuses(),
          prompt: run,
          ...(model ? { model } : {}),
          ...(resume ? { resume } : {}),
          format: o.outputFormat,
          ...(o.includePartialMessages ? { partial: true } : {}),
          ...(o.maxTurns ? { maxTurns: o.maxTurns } : {}),
          ...(o.systemPrompt ? { systemPrompt: o.systemPrompt } : {}),
          ...(o.appendSystemPrompt ? { appendSystemPrompt: o.appendSystemPrompt } : {}),
          ...(o.jsonSchema ? { jsonSchema: await readJsonSchema(o.jsonSchema) } : {}),
        });
        await backgroundTasks(kernel, o.waitTasks !== false);
      } finally {
        unguard();
        await kernel.shutdown();
        await mock?.kernel.shutdown();
      }
    });

  program
    .command('demo')
    .description(
      'a scripted session end to end on the embedded mock API, in a temporary copy of a sample project',
    )
    .action(async () => {
      const scenarios = join(packageRoot(), 'scenarios');
      const demo = JSON.parse(readFileSync(join(scenarios, 'demo.json'), 'utf8')) as {
        run: { prompt: string; files: Record<string, string>; allowedTools: string[] };
      };
      const dir = mkdtempSync(join(tmpdir(), 'icode-demo-'));
      for (const [file, text] of Object.entries(demo.run.files)) {
        mkdirSync(dirname(join(dir, file)), { recursive: true });
        writeFileSync(join(dir, file), text);
      }
      process.stdout.write(
        `icode demo: the embedded mock API plays the model; the tools are real, working in a copy of a sample project at ${dir}\n\n> ${demo.run.prompt}\n\n`,
      );
      const mock = await startMock(scenarios);
      const env = mockEnv(mock.server.url);
      const kernel = await createKernel(
        { cwd: dir, permissionMode: 'workspace-write', allowedTools: demo.run.allowedTools },
        env,
        { signals: false },
      );
      try {
        await kernel.boot();
        code = await runHeadless(await kernel.services.get('session'), {
          prompt: `${demo.run.prompt} PARITY_SCENARIO:demo`,
          format: 'transcript',
        });
      } finally {
        await kernel.shutdown();
        await mock.kernel.shutdown();
      }
    });

  program
    .command('mock-server')
    .description('run the mock Anthropic API; its first line is MOCK_ANTHROPIC_BASE_URL=…')
    .option('--port <port>', 'port to listen on (default: a free one)', (v) => Number.parseInt(v, 10))
    .option('--scenarios <dir>', 'scenario folder (default: the scenarios/ icode ships)')
    .action(async (opts: { port?: number; scenarios?: string }) => {
      (globalThis as { __icodeKeepAlive?: boolean }).__icodeKeepAlive = true;
      const { kernel, server } = await startMock(
        resolve(opts.scenarios ?? join(packageRoot(), 'scenarios')),
        opts.port,
      );
      process.stdout.write(`MOCK_ANTHROPIC_BASE_URL=${server.url}\n`);
      // Runs until SIGINT/SIGTERM; the plugin closes the server as it deactivates.
      kernel.handleSignals(() => process.exit(0));
      code = await new Promise<number>(() => {});
    });

  program
    .command('scenarios')
    .description('parity scenarios: the real CLI against the mock API, checked against expectations')
    .command('run')
    .argument('[paths...]', 'scenario files or folders (default: the scenarios/ icode ships)')
    .option('--json', 'print JSON')
    .action(async (paths: string[], opts: { json?: boolean }) => {
      const kernel = await bootComposition('scenarios', ['mock-anthropic', 'parity']);
      const show = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value));
      const { results, skipped, unavailable } = await (await kernel.services.get('parity')).run({
        paths: (paths.length ? paths : [join(packageRoot(), 'scenarios')]).map((p) => resolve(p)),
        icodeBin: process.argv[1] ?? '',
        onResult: (r) => {
          if (opts.json) return;
          process.stdout.write(
            `${r.pass ? 'PASS' : 'FAIL'} ${r.name} (${(r.durationMs / 1000).toFixed(1)}s)\n`,
          );
          for (const m of r.mismatches) {
            process.stdout.write(
              `  ${m.what}\n    expected: ${show(m.expected)}\n    actual:   ${show(m.actual)}\n`,
            );
          }
        },
      });
      const failed = results.filter((r) => !r.pass).length;
      if (opts.json) print(true, { results, skipped, unavailable }, '');
      else
        process.stdout.write(
          `${unavailable.map((name) => `SKIP ${name}\n`).join('')}${results.length - failed} passed, ${failed} failed${unavailable.length ? `, ${unavailable.length} skipped` : ''}\n`,
        );
      await kernel.shutdown();
      code = failed ? 1 : 0;
    });

  /** Boots the harness for one command, runs it, and shuts the harness down. */
  // A command that may reach the model (cron run, a task) answers from the mock API with --mock, as -p does.
  const withKernel = async (fn: (kernel: Kernel) => Promise<void>, off: string[] = []) => {
    const o = program.opts<GlobalOptions & HeadlessOptions>();
    const { mock, env } = await mockFor(o);
    try {
      const kernel = await createKernel(o, env, { off });
      await kernel.boot();
      try {
        await fn(kernel);
      } finally {
        await kernel.shutdown();
      }
    } finally {
      await mock?.kernel.shutdown();
    }
  };

  mcpCommands(program, {
    withKernel,
    settingsFile: async (scope) => {
      const kernel = await createKernel(program.opts());
      return kernel.config.layers.find((l) => l.name === scope)!.file!;
    },
    projectRoot: async () => (await createKernel(program.opts())).config.projectRoot,
    print,
    exit: (c) => {
      code = c;
    },
  });

  const hooksCommand = program
    .command('hooks')
    .description("user hooks: what is configured, approval of the project's own");
  hooksCommand
    .command('list')
    .option('--json', 'print JSON')
    .description('every configured hook with its event, matcher, source and whether it runs')
    .action((opts: { json?: boolean }) =>
      withKernel(async (kernel) => {
        const hooks = (await kernel.services.get('hooks')).list();
        const text = hooks.length
          ? hooks
              .map((h) =>
                printable(
                  `${h.event}${h.matcher ? ` [${h.matcher}]` : ''}: ${h.command}  (${h.source}${h.approved ? '' : ', not approved'})`,
                ),
              )
              .join('\n')
          : 'No hooks configured (settings "hooks").';
        print(Boolean(opts.json), hooks, `${text}\n`);
      }),
    );
  hooksCommand
    .command('approve')
    .description("trust the hooks in this project's .icode/settings.json as they are now")
    .action(() =>
      withKernel(async (kernel) => {
        const n = (await kernel.services.get('hooks')).approveProject();
        process.stdout.write(
          n
            ? `Approved ${n} project hooks; they run from the next start.\n`
            : 'This project defines no hooks.\n',
        );
      }),
    );

  program
    .command('tasks')
    .description("this project's background tasks")
    .command('list')
    .option('--json', 'print JSON')
    .description('every task with its status (finished and interrupted ones too)')
    .action((opts: { json?: boolean }) =>
      withKernel(async (kernel) => {
        const tasks = (await kernel.services.get('tasks')).list();
        print(Boolean(opts.json), tasks, `${renderTasks(tasks)}\n`);
      }),
    );

  const cron = program.command('cron').description("this project's schedules");
  cron
    .command('list')
    .option('--json', 'print JSON')
    .description('every schedule with its next run and missed runs')
    .action((opts: { json?: boolean }) =>
      withKernel(async (kernel) => {
        const jobs = (await kernel.services.get('cron')).list();
        const text = jobs.length
          ? jobs
              .map(
                (j) =>
                  `${j.id}  ${j.schedule}  next ${j.nextRun ?? 'never'}  ${j.description}${j.missed ? `  (missed ${j.missed.count} runs since ${j.missed.since} while icode was not running; not replayed)` : ''}`,
              )
              .join('\n')
          : 'No schedules.';
        print(Boolean(opts.json), jobs, `${text}\n`);
      }),
    );
  cron
    .command('run')
    .description('stay in the foreground and run the schedules (for servers); Ctrl-C stops')
    .action(() =>
      withKernel(async (kernel) => {
        const cron = await kernel.services.get('cron');
        const jobs = cron.list();
        process.stderr.write(
          `icode cron: ${jobs.length} schedules in ${kernel.config.projectRoot}; Ctrl-C stops\n`,
        );
        for (const j of jobs)
          if (j.missed)
            process.stderr.write(
              `icode cron: ${j.id} missed ${j.missed.count} runs since ${j.missed.since} (not replayed)\n`,
            );
        // Each firing is a line: what ran, when, and the task to follow it with icode tasks list.
        cron.onFire(({ job, taskId, at }) =>
          process.stdout.write(
            `${at}  ${job.id} fired (${job.schedule}): task ${taskId}  ${job.description}\n`,
          ),
        );
        // The schedules' timers do not hold the process; this does, until a signal.
        await new Promise<void>((resolve) => {
          const keep = setInterval(() => {}, 1 << 30);
          const stop = () => {
            clearInterval(keep);
            resolve();
          };
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
      }),
    );

  const check = program
    .command('check')
    .description('explain what the permission gate decides about a command or a path, as JSON');
  const checkAction =
    (kind: 'bash' | 'path') =>
    async (
      words: string[],
      opts: { mode?: PermissionMode; cwd?: string; op?: CheckQuery['op']; jsonl?: boolean },
    ) => {
      const kernel = await createKernel({ ...program.opts(), ...(opts.cwd ? { cwd: opts.cwd } : {}) });
      await kernel.boot();
      const defaults: CheckQuery = {
        ...(opts.mode ? { mode: opts.mode } : {}),
        ...(opts.op ? { op: opts.op } : {}),
      };
      if (opts.jsonl) await checkLines(kernel, defaults);
      else {
        const text = words.join(' ');
        const query: CheckQuery = kind === 'bash' ? { command: text } : { path: text, op: opts.op ?? 'read' };
        const verdict = await checkOne(kernel, query, defaults);
        process.stdout.write(`${JSON.stringify(verdict, null, 2)}\n`);
        code = verdict.decision === 'error' ? 2 : 0;
      }
      await kernel.shutdown();
    };
  for (const kind of ['bash', 'path'] as const) {
    const sub = check
      .command(kind)
      .description(
        kind === 'bash'
          ? 'judge a command line: icode check bash -- git push --force'
          : 'judge a file operation: icode check path --op write -- .git/config',
      )
      .argument(kind === 'bash' ? '[command...]' : '[path...]')
      .option('--mode <mode>', 'permission mode to judge in (default: the configured one)')
      .option('--cwd <dir>', 'working directory (default: here)')
      .option('--jsonl', 'read one JSON query per line from stdin, print one verdict per line');
    if (kind === 'path') sub.option('--op <op>', 'read, write or edit', 'read');
    sub.action(checkAction(kind));
  }

  const sessionsCommand = program.command('sessions').description("this project's sessions");
  sessionsCommand
    .command('list')
    .description('list sessions, newest first')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) =>
      withKernel(async (kernel) => {
        const sessions = (await kernel.services.get('session')).list();
        const text = sessions.length
          ? sessions
              .map(
                (x) =>
                  `${x.id}  ${x.updatedAt}  ${String(x.messages).padStart(4)} messages  ${x.firstPrompt}`,
              )
              .join('\n')
          : 'no sessions in this project yet';
        print(Boolean(opts.json), sessions, `${text}\n`);
      }),
    );
  sessionsCommand
    .command('unlock')
    .description('remove the lock of a session whose icode process is gone (killed, crashed, another host)')
    .argument('<id>', 'the session id (see: icode sessions list)')
    .option('--force', 'remove it even though the icode process holding it still runs on this host')
    .option('--json', 'print JSON')
    .action((id: string, opts: { force?: boolean; json?: boolean }) =>
      withKernel(async (kernel) => {
        const service = await kernel.services.get('session');
        let report: ReturnType<typeof service.unlock>;
        try {
          report = service.unlock(id, { force: Boolean(opts.force) });
        } catch (error) {
          throw new CommanderError(2, 'icode.usage', (error as Error).message);
        }
        const refused = !report.removed && report.state === 'live';
        if (opts.json) print(true, report, '');
        else
          (refused ? process.stderr : process.stdout).write(`${refused ? 'icode: ' : ''}${report.message}\n`);
        code = refused ? 1 : 0;
      }),
    );

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
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code.startsWith('icode.')) process.stderr.write(`icode: ${error.message}\n`);
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof IcodeError) {
      process.stderr.write(`icode: ${error.code}: ${error.describe()}\n`);
      return 2;
    }
    throw error;
  }
}
