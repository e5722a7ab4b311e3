import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { PermissionMode } from '../../sdk/index.ts';
import { bootTestKernel } from '../../sdk/testing.ts';
import { hasProgram } from '../../test/programs.ts';
import { builtinPlugins } from '../index.ts';

const boot = (mode: PermissionMode = 'workspace-write', settings = {}, files: Record<string, string> = {}) =>
  bootTestKernel({ include: ['workspace-guard', 'bash'], builtins: builtinPlugins, mode, settings, files });

const sandboxed =
  hasProgram('bwrap', 'the bash sandbox tests') &&
  (await (async () => {
    const h = await boot();
    const status = h.report.plugins.find((p) => p.name === 'bash');
    await h.shutdown();
    // bubblewrap is here but cannot sandbox (no user namespaces): CI must have a working one.
    if (status?.state !== 'active' && process.env.CI === 'true')
      throw new Error(`CI must run the bash sandbox tests: ${status?.reason}`);
    return status?.state === 'active';
  })());

// Bash is allowed where a test is about running, not judging: without bubblewrap a command that is not
// read-only would ask; with it, commands run in the sandbox just the same.
const running = { permissions: { allow: ['Bash'] } };

describe('bash runs real processes', () => {
  test('returns stdout and stderr; a failing command is an error result with its exit code', async () => {
    const h = await boot('workspace-write', running);
    expect((await h.callTool('bash', { command: 'echo hi; echo err >&2' })).content).toBe('hi\nerr');
    const r = await h.callTool('bash', { command: 'echo out; exit 3' });
    expect(r.isError).toBe(true);
    expect(r.content).toContain('out\n[exit code 3]');
  });

  test('cd sticks between calls, but not outside the workspace', async () => {
    const h = await boot('workspace-write', {}, { 'src/a.txt': 'x' });
    await h.callTool('bash', { command: 'cd src' });
    expect((await h.callTool('bash', { command: 'ls' })).content).toBe('a.txt');
    const out = await h.callTool('bash', { command: 'cd /' });
    expect(out.content).toContain('outside the workspace');
  });

  test('a timeout kills the whole process group', async () => {
    const h = await boot('workspace-write', running);
    const marker = join(h.project, 'late.txt');
    const r = await h.callTool('bash', { command: `(sleep 2; touch ${marker}) & sleep 30`, timeout: 300 });
    expect(r.content).toContain('timed out after 300 ms');
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(existsSync(marker)).toBe(false);
  });

  test('long output keeps head and tail and saves the whole to a file that read_file can read', async () => {
    const h = await bootTestKernel({
      include: ['workspace-guard', 'file-tools', 'bash'],
      builtins: builtinPlugins,
      mode: 'workspace-write',
      settings: { plugins: { bash: { config: { maxOutputChars: 1000 } } } },
    });
    const r = await h.callTool('bash', { command: 'seq 1 5000' });
    const text = String(r.content);
    expect(text.startsWith('1\n2\n')).toBe(true);
    expect(text.endsWith('4999\n5000')).toBe(true);
    expect(text).toContain('(23893 bytes, 5000 lines; read_file pages through it with offset and limit)');
    const saved = /the whole output is in (\S+) /.exec(text)?.[1];
    const seq = Array.from({ length: 5000 }, (_, i) => `${i + 1}\n`).join('');
    expect(readFileSync(saved!, 'utf8')).toBe(seq);
    // Outside the workspace, but the session's own output: read_file reads it without asking.
    const page = await h.callTool('read_file', { path: saved, offset: 4999 });
    expect(page.content).toBe('  4999\t4999\n  5000\t5000\n[lines 4999-5000 of 5000 (23893 bytes)]');
    // Another file in the same folder is not the session's output: still outside the workspace.
    writeFileSync(join(dirname(saved!), 'other.txt'), 'x\n');
    expect((await h.callTool('read_file', { path: join(dirname(saved!), 'other.txt') })).content).toContain(
      'outside the workspace',
    );
    await h.shutdown();
  });

  test('commands get an allow-listed environment: no API keys or tokens unless a setting passes them', async () => {
    const env = { ANTHROPIC_API_KEY: 'sk-ant-secret', GITHUB_TOKEN: 'ghp_x', OTHER: 'x', LANG: 'C.UTF-8' };
    const run = async (pass: string[]) => {
      const h = await bootTestKernel({
        include: ['bash'],
        builtins: builtinPlugins,
        mode: 'workspace-write',
        env: { ...process.env, ...env },
        settings: { plugins: { bash: { config: { env: pass } } } },
      });
      const r = await h.callTool('bash', {
        command: 'echo "[$ANTHROPIC_API_KEY][$GITHUB_TOKEN][$OTHER][$LANG]"',
      });
      await h.shutdown();
      return r.content;
    };
    expect(await run([])).toBe('[][][][C.UTF-8]');
    expect(await run(['OTHER'])).toBe('[][][x][C.UTF-8]');
  });

  test('run_in_background returns an id; bash_output reads what it printed', async () => {
    const h = await boot();
    const started = String(
      (
        await h.callTool('bash', {
          command: 'echo started; sleep 0.2; echo finished',
          run_in_background: true,
        })
      ).content,
    );
    const id = /as (bash_\w+)/.exec(started)![1]!;
    await new Promise((resolve) => setTimeout(resolve, 600));
    const out = await h.callTool('bash_output', { id });
    expect(out.content).toBe(`[${id}: exited with code 0]\nstarted\nfinished\n`);
  });
});

describe('bash and the permission gate', () => {
  test('read-only commands run in read-only mode; writes are refused there', async () => {
    const h = await boot('read-only', {}, { 'a.txt': 'hello' });
    expect((await h.callTool('bash', { command: 'cat a.txt | wc -c' })).content).toBe('5');
    const r = await h.callTool('bash', { command: 'echo x > b.txt' });
    expect(r.content).toContain('Permission denied');
    expect(existsSync(join(h.project, 'b.txt'))).toBe(false);
  });

  test('Bash(echo:*) allows echo, not what is chained after it', async () => {
    const h = await boot('prompt', { permissions: { allow: ['Bash(echo:*)', 'Bash(touch:*)'] } });
    const r = await h.callTool('bash', { command: 'echo x && rm -rf y' });
    expect(r.content).toContain('Permission denied');
  });

  test('a prefix rule allows no more than its prefix: sed e, redirections and git push are judged on their own', async () => {
    const h = await boot(
      'prompt',
      { permissions: { allow: ['Bash(sed:*)', 'Bash(echo:*)', 'Bash(git:*)', 'Edit(./allowed.txt)'] } },
      { 'README.md': 'x\n' },
    );
    expect((await h.callTool('bash', { command: 'sed -n 1p README.md' })).content).toBe('x');
    for (const command of [
      "sed -n '1e touch pwned' README.md",
      'echo hi > out.txt',
      'git push origin main',
    ]) {
      const r = await h.callTool('bash', { command });
      expect(r.content, command).toContain('Permission denied');
    }
    expect(existsSync(join(h.project, 'pwned'))).toBe(false);
    expect(existsSync(join(h.project, 'out.txt'))).toBe(false);
    // The write is allowed when an Edit rule covers the file.
    expect((await h.callTool('bash', { command: 'echo hi > allowed.txt' })).isError).toBe(false);
    expect(readFileSync(join(h.project, 'allowed.txt'), 'utf8')).toBe('hi\n');
  });

  test('Read rules judge the files a command reads, in every spelling', async () => {
    const h = await boot('workspace-write', { permissions: { deny: ['Read(./.env)'] } }, { '.env': 'S=1\n' });
    for (const command of [
      'cat .env',
      'grep -e. .env',
      'cat < .env',
      'sed -n 1p ./src/../.env',
      'date -f .env',
      'cat .en?',
    ]) {
      const r = await h.callTool('bash', { command });
      expect(r.content, command).toContain('Read(./.env)');
    }
  });

  test('destructive commands ask even in workspace-write, which headless means deny', async () => {
    const h = await boot('workspace-write', { permissions: { allow: ['Bash(rm:*)'] } });
    writeFileSync(join(h.project, 'keep.txt'), 'x');
    const r = await h.callTool('bash', { command: 'rm -rf .' });
    expect(r.content).toContain('would destroy the workspace');
    expect(existsSync(join(h.project, 'keep.txt'))).toBe(true);
  });

  test('invisible characters are refused outright', async () => {
    const h = await boot('danger-full-access');
    const r = await h.callTool('bash', { command: 'ls\u200b' });
    expect(r.content).toContain('invisible characters');
  });
});

describe.skipIf(!sandboxed)('the OS sandbox (bubblewrap)', () => {
  test('what the user approved outside the workspace is there for that command, and only that', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'icode-outside-'));
    writeFileSync(join(outside, 'notes.txt'), 'from outside\n');
    writeFileSync(join(outside, 'other.txt'), 'not approved\n');
    const read = `cat ${outside}/notes.txt`;
    const copy = `cp a.txt ${outside}/copied.txt`;
    const h = await boot(
      'workspace-write',
      { permissions: { allow: [`Bash(${read})`, `Bash(${copy})`] } },
      { 'a.txt': 'mine\n' },
    );
    expect((await h.callTool('bash', { command: read })).content).toBe('from outside');
    expect((await h.callTool('bash', { command: copy })).isError).toBe(false);
    expect(readFileSync(join(outside, 'copied.txt'), 'utf8')).toBe('mine\n');
    // The approval named one file: the gate refuses its neighbour, and code the gate cannot read does not
    // see it either.
    expect((await h.callTool('bash', { command: `${read}; cat ${outside}/other.txt` })).content).toContain(
      'Permission denied',
    );
    const sneaky = await h.callTool('bash', {
      command: `${read}; node -e "console.log(require('fs').readFileSync('${outside}/other.txt', 'utf8'))"`,
    });
    expect(sneaky.content).toContain('from outside');
    expect(sneaky.content).toContain('ENOENT');
    expect(sneaky.content).not.toContain('not approved');
    // Approving a new file outside makes that file writable, not its folder.
    const create = `cp a.txt ${outside}/new.txt`;
    const h2 = await boot(
      'workspace-write',
      { permissions: { allow: [`Bash(${create})`] } },
      { 'a.txt': 'mine\n' },
    );
    const r = await h2.callTool('bash', {
      command: `${create}; node -e "require('fs').writeFileSync('${outside}/other.txt', 'overwritten')"`,
    });
    expect(readFileSync(join(outside, 'new.txt'), 'utf8')).toBe('mine\n');
    // (The write lands in the sandbox's private copy of the folder, gone with it.)
    expect(readFileSync(join(outside, 'other.txt'), 'utf8')).toBe('not approved\n');
    // The line ran (the approved copy and the node write inside the sandbox both succeed).
    expect(r.isError).toBe(false);
  });

  test('a command writes the workspace but not outside it, even where the validator cannot see the path', async () => {
    const h = await boot();
    // A program writes outside; the validator sees only `node -e …`, a write in the workspace.
    const outside = join(dirname(h.project), `outside-${process.pid}-${Date.now()}`);
    const r = await h.callTool('bash', {
      command: `touch inside.txt && node -e "require('fs').writeFileSync('${outside}', 'x')" && echo wrote`,
    });
    expect(existsSync(join(h.project, 'inside.txt'))).toBe(true);
    // The folder above the workspace is not the host's: the write lands nowhere that outlives the command.
    expect(r.content).toContain('wrote');
    expect(existsSync(outside)).toBe(false);
    const usr = await h.callTool('bash', {
      command: `node -e "require('fs').writeFileSync('/usr/x-${process.pid}', 'x')"`,
    });
    expect(usr.content).toContain('EROFS');
  });

  test('/tmp is private: what a command writes there is gone afterwards', async () => {
    const h = await boot();
    const file = `/tmp/icode-private-${process.pid}-${Date.now()}`;
    const code = `const fs = require('fs'); fs.writeFileSync('${file}', ''); console.log(fs.existsSync('${file}'))`;
    const r = await h.callTool('bash', { command: `node -e "${code}"` });
    expect(r.content).toBe('true');
    expect(existsSync(file)).toBe(false);
  });

  test('icode config inside the workspace stays read-only in the sandbox', async () => {
    const h = await boot('workspace-write', { model: 'x' });
    const settings = join(h.project, '.icode/settings.json');
    const before = readFileSync(settings, 'utf8');
    const r = await h.callTool('bash', {
      command: `node -e "require('fs').writeFileSync('.ico' + 'de/settings.json', 'x')"`,
    });
    expect(r.isError).toBe(true);
    expect(r.content).toContain('EROFS');
    expect(readFileSync(settings, 'utf8')).toBe(before);
  });
});

test('the sandbox probe is remembered per bwrap binary and kernel, not redone on every start', async () => {
  const { cachedProbe } = await import('../../sdk/sandbox.ts');
  const dir = mkdtempSync(join(tmpdir(), 'icode-probe-'));
  const first = await cachedProbe(process.env, dir);
  const file = join(dir, 'sandbox-probe.json');
  const saved = JSON.parse(readFileSync(file, 'utf8'));
  writeFileSync(file, JSON.stringify({ ...saved, probe: { reason: 'remembered' } }));
  expect(await cachedProbe(process.env, dir)).toEqual({ reason: 'remembered' });
  writeFileSync(file, JSON.stringify({ key: 'another bwrap', probe: { reason: 'stale' } }));
  expect(await cachedProbe(process.env, dir)).toEqual(first);
});

test('a command past toolTimeouts (set by its alias, Bash) is killed and the model is told it was the deadline, not the user', async () => {
  const h = await boot('workspace-write', { toolTimeouts: { Bash: 300 } });
  const r = await h.callTool('bash', { command: 'sleep 20' });
  expect(r.isError).toBe(true);
  expect(String(r.content)).toContain('stopped at its deadline');
  expect(String(r.content)).toContain('toolTimeouts.bash');
  expect(String(r.content)).not.toContain('interrupted by the user');
  await h.shutdown();
});
