import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { findExecutable, loadJsonFile, type MockAnthropicService } from '../../sdk/index.ts';
import { type ParityScenario, ParityScenarioSchema } from './schema.ts';

export interface Mismatch {
  what: string;
  expected: unknown;
  actual: unknown;
}

export interface ParityResult {
  name: string;
  file: string;
  pass: boolean;
  mismatches: Mismatch[];
  durationMs: number;
}

interface RunOutput {
  code: number;
  result?: Record<string, unknown>;
  stderr: string;
}

function runIcode(
  bin: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  stdin?: string,
): Promise<RunOutput> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end(stdin ?? '');
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      let result: Record<string, unknown> | undefined;
      try {
        result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Record<string, unknown>;
      } catch {}
      resolve({ code: code ?? -1, ...(result ? { result } : {}), stderr });
    });
  });
}

const texts = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

/** Compares what happened with what the scenario expects; every difference is one mismatch. */
function check(
  s: ParityScenario,
  out: RunOutput,
  workspace: string,
  requests: Array<{ body: unknown }>,
): Mismatch[] {
  const e = s.expect;
  const r = out.result ?? {};
  const m: Mismatch[] = [];
  const eq = (what: string, expected: unknown, actual: unknown) => {
    if (expected !== undefined && !isDeepStrictEqual(expected, actual)) m.push({ what, expected, actual });
  };
  const contains = (what: string, needles: string[] | undefined, haystack: string) => {
    for (const n of needles ?? [])
      if (!haystack.includes(n)) m.push({ what: `${what} contains`, expected: n, actual: haystack });
  };
  if (!out.result)
    m.push({ what: 'JSON result on stdout', expected: 'one JSON object', actual: out.stderr || '(nothing)' });
  eq('exit code', e.exitCode, out.code);
  eq('is_error', e.isError, r.is_error);
  eq('stop_reason', e.stopReason, r.stop_reason);
  eq('num_turns', e.numTurns, r.num_turns);
  eq(
    'compactions',
    e.compactions,
    ((r.compactions as Array<{ trigger: string; summary_source: string }> | undefined) ?? []).map((c) => ({
      trigger: c.trigger,
      summarySource: c.summary_source,
    })),
  );
  contains('result', e.result, String(r.result ?? ''));
  const uses = (r.tool_uses as Array<{ name: string; input: unknown }>) ?? [];
  if (e.toolUses) {
    eq(
      'tool_uses (names)',
      e.toolUses.map((u) => u.name),
      uses.map((u) => u.name),
    );
    for (const [i, u] of e.toolUses.entries())
      if (u.input) eq(`tool_uses[${i}].input`, u.input, uses[i]?.input);
  }
  const results = (r.tool_results as Array<{ tool_name: string; is_error: boolean; output: unknown }>) ?? [];
  if (e.toolResults) {
    eq(
      'tool_results (tools)',
      e.toolResults.map((t) => t.toolName),
      results.map((t) => t.tool_name),
    );
    e.toolResults.forEach((t, i) => {
      eq(`tool_results[${i}].is_error`, t.isError, results[i]?.is_error);
      contains(`tool_results[${i}].output`, t.contains, texts(results[i]?.output ?? ''));
    });
  }
  for (const [path, want] of Object.entries(e.files ?? {})) {
    const file = join(workspace, path);
    if (want === null) eq(`file ${path} exists`, false, existsSync(file));
    else if (!existsSync(file)) m.push({ what: `file ${path}`, expected: 'to exist', actual: 'missing' });
    else contains(`file ${path}`, want, readFileSync(file, 'utf8'));
  }
  const usage = r.usage as { input_tokens?: number } | undefined;
  if (
    e.usage?.inputTokensAtLeast !== undefined &&
    !((usage?.input_tokens ?? 0) >= e.usage.inputTokensAtLeast)
  ) {
    m.push({
      what: 'usage.input_tokens at least',
      expected: e.usage.inputTokensAtLeast,
      actual: usage?.input_tokens,
    });
  }
  if (e.usage?.costUsdAtLeast !== undefined && !(Number(r.total_cost_usd) >= e.usage.costUsdAtLeast)) {
    m.push({ what: 'total_cost_usd at least', expected: e.usage.costUsdAtLeast, actual: r.total_cost_usd });
  }
  if (e.requests) {
    const bodies = requests.map(
      (q) =>
        q.body as {
          stream?: boolean;
          tools?: Array<{ name: string; description?: string }>;
          messages?: unknown[];
        },
    );
    eq('requests (count)', e.requests.count, bodies.length);
    if (e.requests.stream !== undefined)
      eq(
        'requests (stream)',
        bodies.map(() => e.requests!.stream),
        bodies.map((b) => b.stream === true),
      );
    eq(
      'requests[0] tools offered',
      e.requests.toolsOffered,
      bodies[0]?.tools?.map((t) => t.name),
    );
    for (const [tool, texts] of Object.entries(e.requests.toolDescriptionContains ?? {}))
      contains(
        `requests[0] description of ${tool}`,
        texts,
        bodies[0]?.tools?.find((t) => t.name === tool)?.description ?? '(not offered)',
      );
    const sent = JSON.stringify(bodies.map((b) => b.messages));
    contains('tool_result sent to the API', e.requests.toolResultContains, sent);
  }
  return m;
}

/** The scenario files named: files as given, folders as their `*.json` files in name order. */
function scenarioFiles(paths: string[]): string[] {
  return paths.flatMap((path) =>
    statSync(path).isDirectory()
      ? readdirSync(path)
          .filter((f) => f.endsWith('.json'))
          .sort()
          .map((f) => join(path, f))
      : [path],
  );
}

/** Runs scenario files: each in a clean HOME and workspace, the real CLI against the mock server. */
export async function runScenarios(options: {
  /** Scenario files or folders of them. */
  paths: string[];
  icodeBin: string;
  mock: MockAnthropicService;
  onResult?(result: ParityResult): void;
}): Promise<{ results: ParityResult[]; skipped: string[]; unavailable: string[] }> {
  const results: ParityResult[] = [];
  // Mock-only scenarios (no `run`), and runnable ones whose programs are not on PATH, with what is missing.
  const skipped: string[] = [];
  const unavailable: string[] = [];
  const servers = new Map<string, Awaited<ReturnType<MockAnthropicService['start']>>>();
  for (const file of scenarioFiles(options.paths)) {
    const raw = JSON.parse(readFileSync(file, 'utf8')) as { run?: unknown; name?: string };
    if (!raw.run) {
      skipped.push(raw.name ?? file);
      continue;
    }
    const s = loadJsonFile(readFileSync(file, 'utf8'), file, ParityScenarioSchema);
    const absent = s.run.requires.filter((program) => !findExecutable(program));
    if (absent.length) {
      unavailable.push(`${s.name} (needs ${absent.join(', ')} on PATH)`);
      continue;
    }
    const dir = dirname(file);
    let server = servers.get(dir);
    if (!server) {
      server = await options.mock.start({ scenariosDir: dir });
      servers.set(dir, server);
    }
    server.reset();
    const root = mkdtempSync(join(tmpdir(), `icode-parity-${s.name}-`));
    const workspace = join(root, 'workspace');
    const home = join(root, 'home');
    mkdirSync(join(workspace, '.icode'), { recursive: true });
    mkdirSync(home);
    for (const [path, content] of Object.entries(s.run.files)) {
      mkdirSync(dirname(join(workspace, path)), { recursive: true });
      writeFileSync(join(workspace, path), content);
    }
    if (s.run.settings)
      writeFileSync(join(workspace, '.icode', 'settings.json'), JSON.stringify(s.run.settings));
    if (s.run.userSettings) {
      mkdirSync(join(home, '.icode'), { recursive: true });
      writeFileSync(join(home, '.icode', 'settings.json'), JSON.stringify(s.run.userSettings));
    }
    const args = [
      '-p',
      `${s.run.prompt} PARITY_SCENARIO:${s.name}`,
      '--output-format',
      'json',
      ...(s.run.permissionMode ? ['--permission-mode', s.run.permissionMode] : []),
      ...(s.run.allowedTools.length ? ['--allowedTools', ...s.run.allowedTools] : []),
      ...(s.run.disallowedTools.length ? ['--disallowedTools', ...s.run.disallowedTools] : []),
      ...s.run.args,
    ];
    const started = Date.now();
    const out = await runIcode(
      options.icodeBin,
      args,
      workspace,
      {
        PATH: process.env.PATH,
        HOME: home,
        ICODE_CONFIG_DIR: join(home, '.icode'),
        ANTHROPIC_BASE_URL: server.url,
        ANTHROPIC_API_KEY: 'parity-key',
        ICODE_PACKAGE_ROOT: join(dirname(options.icodeBin), '..'),
      },
      s.run.stdin,
    );
    const requests = server.requests.filter((q) => q.path === '/v1/messages');
    const mismatches = check(s, out, workspace, requests);
    const result = {
      name: s.name,
      file,
      pass: mismatches.length === 0,
      mismatches,
      durationMs: Date.now() - started,
    };
    results.push(result);
    options.onResult?.(result);
    if (result.pass) rmSync(root, { recursive: true, force: true });
  }
  await Promise.all([...servers.values()].map((sv) => sv.close()));
  return { results, skipped, unavailable };
}
