import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseFrontmatter } from '../../sdk/index.ts';
import { bootTestKernel } from '../../sdk/testing.ts';
import { makeWorld, runCli } from '../../test/helpers.ts';
import { builtinPlugins } from '../index.ts';
import { expand } from './custom.ts';

describe('custom command text', () => {
  test('$ARGUMENTS, $1..$9 with quoted words; arguments are appended when there is no placeholder', () => {
    expect(expand('Fix issue $1 in $2: $ARGUMENTS', '42 "src/a b.ts" now')).toBe(
      'Fix issue 42 in src/a b.ts: 42 "src/a b.ts" now',
    );
    expect(expand('Review the diff.', 'focus on tests')).toBe('Review the diff.\n\nfocus on tests');
    expect(expand('Only $3', 'a b')).toBe('Only ');
  });
  test('frontmatter is YAML; a broken one names the file and the line in it', () => {
    expect(parseFrontmatter('---\ndescription: D\nallowed-tools: [read_file]\n---\nBody', 'f.md')).toEqual({
      data: { description: 'D', 'allowed-tools': ['read_file'] },
      body: 'Body',
    });
    expect(() => parseFrontmatter('---\na: [\n---\nx', '/p/f.md')).toThrow(
      /^\/p\/f\.md:\d+:\d+: invalid frontmatter/,
    );
    expect(() => parseFrontmatter('---\nname: ok\ndescription: "open\n---\nx', '/p/g.md')).toThrow(
      /^\/p\/g\.md:4:1: invalid frontmatter: unexpected end of the stream within a double quoted scalar$/,
    );
  });
});

describe('the commands plugin', () => {
  const boot = (files: Record<string, string> = {}) =>
    bootTestKernel({ include: ['session', 'commands'], builtins: builtinPlugins, files });

  test('built-ins and custom commands from the project (with subfolders); a bad file degrades only itself', async () => {
    const h = await boot({
      '.icode/commands/review.md':
        '---\ndescription: Review a file\nallowed-tools: read_file, Bash(git diff:*)\nmodel: claude-haiku-4-5\n---\nReview $1.\n',
      '.icode/commands/git/log.md': 'Summarise the git log since $1',
      '.icode/commands/broken.md': '---\ndescription: [\n---\nx',
      '.icode/commands/help.md': 'shadowing a built-in',
    });
    const run = (name: string, args = '') => h.kernel.commands.run(name, args, { cwd: h.project });
    const names = h.kernel.commands.list().map((c) => c.name);
    for (const n of [
      'help',
      'clear',
      'compact',
      'config',
      'cost',
      'doctor',
      'exit',
      'init',
      'model',
      'permissions',
      'plan',
      'plugins',
      'resume',
      'status',
      'memory',
      'export',
      'diff',
      'review',
      'git:log',
    ])
      expect(names).toContain(n);
    expect(await run('review', 'src/a.ts')).toMatchObject({
      prompt: 'Review src/a.ts.\n',
      allowedTools: ['read_file', 'Bash(git diff:*)'],
      model: 'claude-haiku-4-5',
      isError: false,
    });
    expect((await run('git:log', 'v1.0')).prompt).toBe('Summarise the git log since v1.0');
    const status = h.report.plugins.find((p) => p.name === 'commands')!;
    expect(status.state).toBe('degraded');
    expect(status.reason).toContain('broken.md:3:1: invalid frontmatter');
    expect(status.reason).toContain('/help is already a command');
    expect((await run('help')).output).toMatch(/^\/review\s+Review a file \(project\)$/m);
    expect(await run('clear')).toMatchObject({ effect: { type: 'clear' } });
    expect(await run('mode', 'plan')).toMatchObject({ effect: { type: 'mode', mode: 'plan' } });
    expect((await run('mode', 'yolo')).output).toContain('unknown mode "yolo"');
    expect((await run('compact', 'keep the API notes')).prompt).toBe('/compact keep the API notes');
    // /doctor reads like `icode doctor`: mark, name and version, state, reason and fix.
    expect((await run('doctor')).output).toMatch(
      /^ {2}!! commands 0\.1\.0 +degraded\n {7}custom commands: /m,
    );
    await h.shutdown();
  });

  test("/model completes the model provider's own aliases and ids", async () => {
    const h = await bootTestKernel({
      include: ['anthropic', 'session', 'commands'],
      builtins: builtinPlugins,
    });
    const model = await h.kernel.commands.get('model');
    expect(await model!.complete!('', { cwd: h.project })).toEqual(
      expect.arrayContaining(['opus', 'sonnet', 'haiku', 'claude-sonnet-5-5']),
    );
    expect(await model!.complete!('cl', { cwd: h.project })).not.toContain('sonnet');
    await h.shutdown();
  });

  test('/permissions adds a rule to the local settings once; /memory add appends to AGENTS.md; /diff shows changes', async () => {
    const h = await boot({ 'a.txt': 'one\n' });
    const run = (name: string, args = '') => h.kernel.commands.run(name, args, { cwd: h.project });
    expect((await run('permissions', 'allow Bash(npm test:*)')).output).toContain('Added "Bash(npm test:*)"');
    expect((await run('permissions', 'allow Bash(npm test:*)')).output).toContain('already');
    expect(JSON.parse(readFileSync(join(h.project, '.icode', 'settings.local.json'), 'utf8'))).toEqual({
      permissions: { allow: ['Bash(npm test:*)'] },
    });
    await run('memory', 'add Run npm test before committing');
    expect(readFileSync(join(h.project, 'AGENTS.md'), 'utf8')).toBe('- Run npm test before committing\n');
    expect((await run('memory')).output).toContain('AGENTS.md (2 lines)');
    const git = (...a: string[]) =>
      execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...a], { cwd: h.project });
    git('init', '-q');
    git('add', 'a.txt');
    git('commit', '-qm', 'a');
    expect((await run('diff')).output).toBe('New files:\n.icode/settings.local.json\nAGENTS.md');
    await h.shutdown();
  });
});

describe('slash commands headless', () => {
  test('icode -p "/name args" runs a custom command: its text goes to the model; a built-in prints its output', async () => {
    const w = makeWorld();
    const { mkdirSync, writeFileSync } = await import('node:fs');
    mkdirSync(join(w.project, '.icode', 'commands'), { recursive: true });
    writeFileSync(
      join(w.project, '.icode', 'commands', 'greet.md'),
      'Greet $1 warmly. PARITY_SCENARIO:streaming_text\n',
    );
    const r = await runCli(['-p', '--mock', '--output-format', 'json', '/greet Ada'], { world: w });
    const result = JSON.parse(r.stdout);
    expect(result.is_error).toBe(false);
    const sessions = join(w.userDir, 'projects');
    const { readdirSync } = await import('node:fs');
    const dir = join(sessions, readdirSync(sessions)[0]!);
    const log = readFileSync(join(dir, readdirSync(dir)[0]!), 'utf8');
    expect(log).toContain('Greet Ada warmly.');
    const status = await runCli(['-p', '/status'], { world: w });
    expect(status.stdout).toContain('Session: (new)');
    const unknownArgs = await runCli(['-p', '/mode nonsense'], { world: w });
    expect(unknownArgs.code).toBe(1);
    expect(unknownArgs.stderr).toContain('unknown mode "nonsense"');
  }, 30_000);
});
