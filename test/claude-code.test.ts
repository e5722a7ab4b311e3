import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { makeWorld, mockTurn, runCli, type World, write } from './helpers.ts';

/** A hook that appends what it was given on stdin, one JSON line per call, to `log`. */
const recorder = (log: string) => `cat >> ${JSON.stringify(log)}; echo >> ${JSON.stringify(log)}`;
const recorded = (log: string) =>
  existsSync(log)
    ? readFileSync(log, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
    : [];
const RM_GUARD = `input=$(cat); case "$input" in *'"command":"rm '*) echo 'rm is not allowed here' >&2; exit 2;; esac`;
const WRITE = ['--permission-mode', 'workspace-write'];

function claudeProject(w: World, settings: object) {
  return write(join(w.project, '.claude', 'settings.json'), settings);
}

describe("Claude Code's .claude/settings.json in a headless run", () => {
  test('its unapproved rm guard is announced on stderr naming the file; once approved it blocks rm with its stderr fed back', async () => {
    const w = makeWorld();
    const file = claudeProject(w, {
      hooks: { PreToolUse: [{ matcher: 'Bash', hooks: [{ type: 'command', command: RM_GUARD }] }] },
    });
    write(join(w.project, 'build', 'out.txt'), 'x');
    const steps = [
      { content: [{ type: 'tool_use', name: 'bash', input: { command: 'rm -rf build' } }] },
      { content: [{ type: 'text', text: 'done: {{tool_results}}' }] },
    ];
    const before = await runCli(['-p', '--mock', ...WRITE, 'hello'], { world: w });
    expect(before.stderr).toContain('not approved and do not run: PreToolUse Bash:');
    expect(before.stderr).toContain(file);
    expect(before.stderr).toContain('icode hooks approve');

    expect((await runCli(['hooks', 'approve'], { world: w })).code).toBe(0);
    const r = await mockTurn(w, steps, WRITE);
    expect(r.tool_results[0]).toMatchObject({ tool_name: 'bash', is_error: true });
    expect(JSON.stringify(r.tool_results[0]?.output)).toContain('rm is not allowed here');
    expect(existsSync(join(w.project, 'build', 'out.txt'))).toBe(true);
  });

  test('its permission rules apply: Read(./.env) denies reading .env', async () => {
    const w = makeWorld();
    claudeProject(w, { permissions: { deny: ['Read(./.env)'] } });
    write(join(w.project, '.env'), 'SECRET=1');
    const r = await mockTurn(
      w,
      [
        { content: [{ type: 'tool_use', name: 'read_file', input: { path: '.env' } }] },
        { content: [{ type: 'text', text: '{{tool_results}}' }] },
      ],
      WRITE,
    );
    expect(r.tool_results[0]?.is_error).toBe(true);
    expect(JSON.stringify(r.tool_results[0]?.output)).not.toContain('SECRET=1');
  });
});

describe('hook input and output as Claude Code documents them', () => {
  test('PreToolUse and PostToolUse get the common fields, Claude Code tool names and field names, tool_response as an object', async () => {
    const w = makeWorld();
    const log = join(w.root, 'hooks.jsonl');
    // The user's own settings: no approval needed.
    write(join(w.home, '.claude', 'settings.json'), {
      hooks: {
        PreToolUse: [{ matcher: 'Read|Write|Bash', hooks: [{ type: 'command', command: recorder(log) }] }],
        PostToolUse: [
          { matcher: 'Write|Edit|Bash|Read', hooks: [{ type: 'command', command: recorder(log) }] },
        ],
      },
    });
    write(join(w.project, 'a.txt'), 'hello\n');
    const r = await mockTurn(
      w,
      [
        { content: [{ type: 'tool_use', name: 'read_file', input: { path: 'a.txt' } }] },
        { content: [{ type: 'tool_use', name: 'write_file', input: { path: 'b.txt', content: 'new' } }] },
        { content: [{ type: 'tool_use', name: 'bash', input: { command: 'echo out' } }] },
        { content: [{ type: 'text', text: 'ok' }] },
      ],
      WRITE,
    );
    expect(r.tool_results.map((t) => t.is_error)).toEqual([false, false, false]);
    const events = recorded(log);
    const [preRead, postRead, preWrite, postWrite, preBash, postBash] = events;
    for (const e of events) {
      expect(e.session_id).toMatch(/.+/);
      expect(e.transcript_path).toMatch(/\.jsonl$/);
      expect(e.cwd).toBe(w.project);
      expect(e.permission_mode).toBe('acceptEdits');
    }
    expect(existsSync(String(postBash?.transcript_path))).toBe(true);
    expect(preRead).toMatchObject({
      hook_event_name: 'PreToolUse',
      tool_name: 'Read',
      tool_input: { file_path: join(w.project, 'a.txt') },
    });
    expect(preRead?.tool_use_id).toMatch(/.+/);
    expect(postRead).toMatchObject({
      hook_event_name: 'PostToolUse',
      tool_name: 'Read',
      tool_response: { type: 'text', file: { filePath: join(w.project, 'a.txt') } },
    });
    expect(preWrite).toMatchObject({
      tool_name: 'Write',
      tool_input: { file_path: join(w.project, 'b.txt'), content: 'new' },
    });
    expect(postWrite).toMatchObject({ tool_response: { filePath: join(w.project, 'b.txt') } });
    expect(preBash).toMatchObject({ tool_name: 'Bash', tool_input: { command: 'echo out' } });
    expect(postBash?.tool_response).toMatchObject({ stdout: expect.stringContaining('out') });
  });

  test('hookSpecificOutput: permissionDecision deny with its reason; updatedInput in Claude Code field names', async () => {
    const w = makeWorld();
    write(join(w.home, '.claude', 'settings.json'), {
      hooks: {
        PreToolUse: [
          {
            matcher: 'Write',
            hooks: [
              {
                type: 'command',
                command: `echo '{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"deny","permissionDecisionReason":"writes are frozen"}}'`,
              },
            ],
          },
          {
            matcher: 'Read',
            hooks: [
              {
                type: 'command',
                command: `echo '{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"allow","updatedInput":{"file_path":"${join(w.project, 'b.txt')}"}}}'`,
              },
            ],
          },
        ],
      },
    });
    write(join(w.project, 'a.txt'), 'AAA');
    write(join(w.project, 'b.txt'), 'BBB');
    const r = await mockTurn(
      w,
      [
        { content: [{ type: 'tool_use', name: 'write_file', input: { path: 'c.txt', content: 'x' } }] },
        { content: [{ type: 'tool_use', name: 'read_file', input: { path: 'a.txt' } }] },
        { content: [{ type: 'text', text: 'ok' }] },
      ],
      WRITE,
    );
    expect(r.tool_results[0]?.is_error).toBe(true);
    expect(JSON.stringify(r.tool_results[0]?.output)).toContain('writes are frozen');
    expect(existsSync(join(w.project, 'c.txt'))).toBe(false);
    expect(JSON.stringify(r.tool_results[1]?.output)).toContain('BBB');
  });
});

describe("Claude Code's .claude/commands and .claude/agents", () => {
  test('a command in .claude/commands runs headless; an agent in .claude/agents is a subagent_type with its Claude Code tool names mapped', async () => {
    const w = makeWorld();
    write(
      join(w.project, '.claude', 'commands', 'greet.md'),
      '---\ndescription: Greet\n---\nWrite a greeting for $ARGUMENTS',
    );
    write(
      join(w.project, '.claude', 'agents', 'reader.md'),
      '---\nname: reader\ndescription: Reads files\ntools: Read, Grep\nmodel: inherit\npermissionMode: default\n---\nRead what you are asked to.',
    );
    write(join(w.project, 'a.txt'), 'CONTENT OF A');
    const dir = join(w.root, 'cc-scenarios');
    const scenario = (name: string, steps: unknown[]) => write(join(dir, `${name}.json`), { name, steps });
    scenario('cc_greet', [
      { when: 'Write a greeting for Ada', content: [{ type: 'text', text: 'GREETING FROM .claude' }] },
      { content: [{ type: 'text', text: 'the command text did not arrive' }] },
    ]);
    scenario('cc_main', [
      {
        content: [
          {
            type: 'tool_use',
            name: 'Agent',
            input: {
              description: 'read',
              prompt: 'Read a.txt. PARITY_SCENARIO:cc_sub',
              subagent_type: 'reader',
            },
          },
        ],
      },
      { content: [{ type: 'text', text: 'agent done' }] },
    ]);
    scenario('cc_sub', [
      { content: [{ type: 'tool_use', name: 'read_file', input: { path: 'a.txt' } }] },
      { content: [{ type: 'text', text: 'sub read: {{tool_results}}' }] },
    ]);
    const run = async (prompt: string) => {
      const r = await runCli(
        ['-p', '--mock', '--mock-scenarios', dir, '--output-format', 'json', ...WRITE, prompt],
        { world: w },
      );
      return JSON.parse(r.stdout) as {
        result: string;
        tool_results: Array<{ is_error: boolean; output: unknown }>;
      };
    };
    expect((await run('/greet Ada PARITY_SCENARIO:cc_greet')).result).toBe('GREETING FROM .claude');
    const agents = await run('PARITY_SCENARIO:cc_main');
    expect(JSON.stringify(agents.tool_results[0]?.output)).toContain('CONTENT OF A');
    expect(agents.tool_results[0]?.is_error).toBe(false);
    expect(JSON.stringify(agents.tool_results[0]?.output)).toContain('[reader agent');
  });
});
