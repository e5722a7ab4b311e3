import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { bootTestKernel } from '../../sdk/testing.ts';
import { builtinPlugins } from '../index.ts';

const session = { id: 's1', cwd: '/tmp', mode: 'workspace-write' as const, interactive: false };

/** Hooks from the environment layer (the user's own, like ~/.icode/settings.json). */
const boot = (hooks: Record<string, unknown>, files: Record<string, string> = {}) =>
  bootTestKernel({
    include: ['workspace-guard', 'file-tools', 'bash', 'hooks'],
    builtins: builtinPlugins,
    mode: 'workspace-write',
    files,
    env: { ICODE_SETTINGS: JSON.stringify({ hooks }) },
  });
const on = (matcher: string, command: string, extra: Record<string, unknown> = {}) => [
  { matcher, hooks: [{ type: 'command', command, ...extra }] },
];

describe('PreToolUse', () => {
  test('exit 2 blocks the call and its stderr goes to the model; the event arrives as JSON on stdin', async () => {
    const h = await boot({
      PreToolUse: on('Bash', 'cat > "$ICODE_PROJECT_DIR/event.json"; echo "no rm here" >&2; exit 2'),
    });
    const r = await h.callTool('bash', { command: 'touch x' });
    expect(r.isError).toBe(true);
    expect(r.content).toContain('blocked it: no rm here');
    expect(existsSync(join(h.project, 'x'))).toBe(false);
    const event = JSON.parse(readFileSync(join(h.project, 'event.json'), 'utf8'));
    expect(event).toMatchObject({
      hook_event_name: 'PreToolUse',
      tool_name: 'Bash',
      tool_input: { command: 'touch x' },
    });
  });

  test('permissionDecision deny and a matcher regex (Edit|Write); other tools are untouched', async () => {
    const deny = `echo '{"hookSpecificOutput":{"permissionDecision":"deny","permissionDecisionReason":"docs are frozen"}}'`;
    const h = await boot({ PreToolUse: on('Edit|Write', deny) }, { 'a.md': 'a' });
    expect((await h.callTool('write_file', { path: 'b.md', content: 'b' })).content).toContain(
      'docs are frozen',
    );
    expect((await h.callTool('read_file', { path: 'a.md' })).isError).toBe(false);
  });

  test('updatedInput rewrites the call, and the rewritten input is judged again', async () => {
    const inside = `echo '{"hookSpecificOutput":{"updatedInput":{"path":"redirected.txt","content":"x"}}}'`;
    const h = await boot({ PreToolUse: on('Write', inside) });
    await h.callTool('write_file', { path: 'asked.txt', content: 'x' });
    expect(existsSync(join(h.project, 'redirected.txt'))).toBe(true);
    expect(existsSync(join(h.project, 'asked.txt'))).toBe(false);

    const outside = `echo '{"hookSpecificOutput":{"updatedInput":{"path":"/etc/icode-hook-test","content":"x"}}}'`;
    const h2 = await boot({ PreToolUse: on('Write', outside) });
    const r = await h2.callTool('write_file', { path: 'asked.txt', content: 'x' });
    expect(r.content).toContain('input rewritten by a hook');
    expect(r.content).toContain('outside the workspace');
  });

  test('a hook that hangs or crashes blocks the call, and says why, unless it is failOpen', async () => {
    const h = await boot({ PreToolUse: on('Bash', 'sleep 10', { timeout: 0.5 }) });
    const r = await h.callTool('bash', { command: 'echo hi' });
    expect(r.content).toContain('timed out after 0.5 s');
    const open = await boot({ PreToolUse: on('Bash', 'exit 1', { failOpen: true }) });
    expect((await open.callTool('bash', { command: 'echo hi' })).content).toBe('hi');
  });
});

describe('PostToolUse, UserPromptSubmit, Stop', () => {
  test('PostToolUse adds context for the model to the result', async () => {
    const ctx = `echo '{"hookSpecificOutput":{"additionalContext":"remember to run the linter"}}'`;
    const h = await boot({ PostToolUse: on('Write', ctx) });
    const r = await h.callTool('write_file', { path: 'a.txt', content: 'x' });
    expect(JSON.stringify(r.content)).toContain('remember to run the linter');
  });

  test('UserPromptSubmit blocks a prompt (exit 2) or adds its stdout as context', async () => {
    const block = await boot({
      UserPromptSubmit: on(
        '',
        'grep -q secret && { echo "no secrets" >&2; exit 2; }; echo "today is Tuesday"',
      ),
    });
    const blocked = await block.kernel.hooks.userPrompt.promise({ text: 'print the secret', session });
    expect(blocked.blocked).toBe('no secrets');
    const passed = await block.kernel.hooks.userPrompt.promise({ text: 'hello', session });
    expect(passed).toMatchObject({ text: 'hello\n\ntoday is Tuesday' });
    expect(passed.blocked).toBeUndefined();
  });

  test('Stop sends the model back to work with the reason; stop_hook_active says it already did', async () => {
    const h = await boot({
      Stop: on('', `grep -q '"stop_hook_active":false' && { echo "tests are failing" >&2; exit 2; }; exit 0`),
    });
    expect(await h.kernel.hooks.stop.promise({ session, result: 'done', continuations: 0 })).toEqual({
      continueWith: 'tests are failing',
    });
    expect(await h.kernel.hooks.stop.promise({ session, result: 'done', continuations: 1 })).toBeUndefined();
  });
});

test("a project's own hooks do not run until approved", async () => {
  const h = await bootTestKernel({
    include: ['bash', 'hooks'],
    builtins: builtinPlugins,
    mode: 'workspace-write',
    settings: { hooks: { PreToolUse: on('Bash', 'exit 2') } },
  });
  expect((await h.callTool('bash', { command: 'echo hi' })).content).toBe('hi');
  const status = h.kernel.host.statuses().find((p) => p.name === 'hooks');
  expect(status).toMatchObject({ state: 'degraded', fix: expect.stringContaining('icode hooks approve') });
  expect((await h.kernel.services.get('hooks')).approveProject()).toBe(1);
  await h.shutdown();
  const again = await bootTestKernel({
    include: ['bash', 'hooks'],
    builtins: builtinPlugins,
    mode: 'workspace-write',
    reuse: h,
  });
  expect((await again.callTool('bash', { command: 'echo hi' })).isError).toBe(true);
});

test('SessionStart, SessionEnd, PreCompact and Notification hooks run with their event', async () => {
  const log = 'cat >> "$ICODE_PROJECT_DIR/events.jsonl"; echo >> "$ICODE_PROJECT_DIR/events.jsonl"';
  const h = await boot({
    SessionStart: on('', log),
    SessionEnd: on('', log),
    PreCompact: on('', log),
    Notification: on('', log),
  });
  await h.kernel.hooks.sessionStart.promise(session);
  await h.kernel.hooks.preCompact.promise(session, 'auto');
  // An ask that no one answers (headless) still notifies.
  await h.callTool('bash', { command: 'rm -rf .' });
  await h.kernel.hooks.sessionEnd.promise(session, 'clear');
  const events = readFileSync(join(h.project, 'events.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(events.map((e) => e.hook_event_name)).toEqual([
    'SessionStart',
    'PreCompact',
    'Notification',
    'SessionEnd',
  ]);
  expect(events[0]).toMatchObject({ source: 'startup', session_id: 's1' });
  expect(events[1]).toMatchObject({ trigger: 'auto', session_id: 's1' });
  expect(events[3]).toMatchObject({ reason: 'clear' });
  expect(events[2]).toMatchObject({ message: 'icode needs your permission to use Bash' });
});

test("SessionStart's output goes to the model with the session's first prompt, once; matchers test the source", async () => {
  const h = await boot({
    SessionStart: [
      { matcher: 'startup', hooks: [{ type: 'command', command: 'echo "sprint 42 is frozen"' }] },
      { matcher: 'resume', hooks: [{ type: 'command', command: 'echo "welcome back"' }] },
      {
        matcher: '',
        hooks: [
          {
            type: 'command',
            command: `echo '{"hookSpecificOutput":{"hookEventName":"SessionStart","additionalContext":"main is protected"}}'`,
          },
        ],
      },
    ],
  });
  await h.kernel.hooks.sessionStart.promise({ ...session, source: 'startup' });
  const first = await h.kernel.hooks.userPrompt.promise({ text: 'hello', session });
  expect(first.text).toBe('hello\n\nsprint 42 is frozen\n\nmain is protected');
  expect((await h.kernel.hooks.userPrompt.promise({ text: 'again', session })).text).toBe('again');

  const resumed = { ...session, id: 's2', source: 'resume' as const };
  await h.kernel.hooks.sessionStart.promise(resumed);
  const back = await h.kernel.hooks.userPrompt.promise({ text: 'hi', session: resumed });
  expect(back.text).toBe('hi\n\nwelcome back\n\nmain is protected');
});

test('a mistake in the hooks settings names the file, line and key', async () => {
  const h = await bootTestKernel({
    include: ['hooks'],
    builtins: builtinPlugins,
    settings: { hooks: { PreToolUse: [{ matcher: 'Bash', hooks: [{ type: 'command', command: 12 }] }] } },
  });
  const status = h.kernel.host.statuses().find((p) => p.name === 'hooks');
  expect(status?.state).toBe('degraded');
  expect(status?.reason).toMatch(
    /\.icode\/settings\.json:\d+:\d+ \(key "hooks\.PreToolUse\.0\.hooks\.0\.command"\): Invalid input: expected string, received number/,
  );
  await h.shutdown();
});
