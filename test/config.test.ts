import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { IcodeError, loadConfig } from '../kernel/index.ts';
import { createKernel, makeWorld, type World, write } from './helpers.ts';

async function configError(promise: Promise<unknown>): Promise<IcodeError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(IcodeError);
  return error as IcodeError;
}

const userFile = (w: World) => join(w.userDir, 'settings.json');
const projectFile = (w: World) => join(w.project, '.icode', 'settings.json');
const localFile = (w: World) => join(w.project, '.icode', 'settings.local.json');

describe('config layers', () => {
  test('each layer overrides the one below it, and config show knows which layer set each key', async () => {
    const w = makeWorld();
    const layers = async () => (await createKernel(w, stack)).config;
    const stack: Parameters<typeof createKernel>[1] = {};
    let c = await layers();
    expect([c.settings.model, c.origins.model]).toEqual(['claude-sonnet-5-5', 'defaults']);

    stack.config = { model: 'from-manifest' };
    c = await layers();
    expect([c.settings.model, c.origins.model]).toEqual(['from-manifest', 'manifest']);

    write(userFile(w), { model: 'from-user' });
    c = await layers();
    expect([c.settings.model, c.origins.model]).toEqual(['from-user', 'user']);

    write(projectFile(w), { model: 'from-project' });
    c = await layers();
    expect([c.settings.model, c.origins.model]).toEqual(['from-project', 'project']);

    write(localFile(w), { model: 'from-local' });
    c = await layers();
    expect([c.settings.model, c.origins.model]).toEqual(['from-local', 'local']);

    stack.extraEnv = { ICODE_MODEL: 'from-env' };
    c = await layers();
    expect([c.settings.model, c.origins.model]).toEqual(['from-env', 'env']);

    stack.cli = { model: 'from-cli' };
    c = await layers();
    expect([c.settings.model, c.origins.model]).toEqual(['from-cli', 'cli']);
    expect(c.layers.map((l) => [l.name, l.found])).toEqual([
      ['defaults', true],
      ['manifest', true],
      ['user', true],
      ['project', true],
      ['local', true],
      ['env', true],
      ['cli', true],
    ]);
  });

  test('objects deep-merge and permission rules concatenate across layers, each rule keeping its origin', async () => {
    const w = makeWorld();
    write(userFile(w), {
      permissions: { allow: ['Read'], defaultMode: 'workspace-write' },
      plugins: { a: { enabled: false } },
    });
    write(projectFile(w), { permissions: { deny: ['Bash(rm:*)'] }, plugins: { a: { config: { x: 1 } } } });
    const c = (await createKernel(w)).config;
    expect(c.settings.permissions).toMatchObject({
      defaultMode: 'workspace-write',
      allow: ['Read'],
      deny: ['Bash(rm:*)'],
    });
    expect(c.settings.plugins.a).toEqual({ enabled: false, config: { x: 1 } });
    expect(c.origins['plugins.a.enabled']).toBe('user');
    expect(c.origins['plugins.a.config.x']).toBe('project');
    expect(c.rules).toEqual([
      { rule: 'Read', effect: 'allow', layer: 'user', file: userFile(w) },
      { rule: 'Bash(rm:*)', effect: 'deny', layer: 'project', file: projectFile(w) },
    ]);
  });

  test('the project settings are found from a subfolder of the project', async () => {
    const w = makeWorld();
    write(projectFile(w), { model: 'project-model' });
    const sub = join(w.project, 'src', 'deep');
    mkdirSync(sub, { recursive: true });
    const c = await loadConfig({ cwd: sub, home: w.home, env: w.env });
    expect(c.settings.model).toBe('project-model');
    expect(c.projectRoot).toBe(w.project);
  });

  test('the user settings file is never taken for a project file, even from a folder inside home', async () => {
    const w = makeWorld();
    write(userFile(w), { model: 'user-model' });
    const repo = join(w.home, 'repo');
    mkdirSync(repo);
    const c = await loadConfig({ cwd: repo, home: w.home, env: w.env });
    expect(c.projectRoot).toBe(repo);
    expect(c.origins.model).toBe('user');
    expect(c.layers.find((l) => l.name === 'project')).toEqual({
      name: 'project',
      file: join(repo, '.icode', 'settings.json'),
      found: false,
    });
  });

  test('ICODE_SETTINGS and ICODE_PERMISSION_MODE form the env layer', async () => {
    const w = makeWorld();
    const c = await loadConfig({
      cwd: w.project,
      home: w.home,
      env: {
        ...w.env,
        ICODE_SETTINGS: '{"permissions":{"deny":["Bash"]}}',
        ICODE_PERMISSION_MODE: 'read-only',
      },
    });
    expect(c.settings.permissions.defaultMode).toBe('read-only');
    expect(c.rules).toContainEqual({ rule: 'Bash', effect: 'deny', layer: 'env', file: 'ICODE_SETTINGS' });
  });
});

describe('bad config is a clear error that names file, line and key', () => {
  const broken = '{\n  "model": "x",\n  "permissions": {\n    "allow": ["Read"]\n    "deny": []\n  }\n}\n';

  test.each([
    ['user', userFile],
    ['project', projectFile],
    ['local', localFile],
  ])('malformed JSON in the %s layer', async (_layer, file) => {
    const w = makeWorld();
    write(file(w), broken);
    const e = await configError(createKernel(w));
    expect(e.code).toBe('ICODE_ERR_CONFIG_INVALID');
    expect(e.location).toMatchObject({ file: file(w), line: 5, column: 5 });
    expect(e.describe()).toContain(`${file(w)}:5:5`);
    expect(e.message).toContain('comma');
  });

  test('malformed JSON in ICODE_SETTINGS', async () => {
    const w = makeWorld();
    const e = await configError(createKernel(w, { extraEnv: { ICODE_SETTINGS: '{"model": }' } }));
    expect(e.location).toMatchObject({ file: 'ICODE_SETTINGS', line: 1, column: 11 });
  });

  test('a bad ICODE_PERMISSION_MODE lists the valid modes', async () => {
    const w = makeWorld();
    const e = await configError(createKernel(w, { extraEnv: { ICODE_PERMISSION_MODE: 'yolo' } }));
    expect(e.message).toContain('read-only, workspace-write, danger-full-access, plan, prompt');
  });

  test('a value of the wrong type names the file, line and key', async () => {
    const w = makeWorld();
    write(projectFile(w), '{\n  "permissions": {\n    "defaultMode": "yolo"\n  }\n}\n');
    const e = await configError(createKernel(w));
    expect(e.location).toMatchObject({
      file: projectFile(w),
      line: 3,
      column: 5,
      key: 'permissions.defaultMode',
    });
    expect(e.describe()).toContain(`${projectFile(w)}:3:5 (key "permissions.defaultMode")`);
  });

  test('an invalid permission rule is an error at its line', async () => {
    const w = makeWorld();
    write(localFile(w), '{\n  "permissions": {\n    "allow": [\n      "Bash()"\n    ]\n  }\n}\n');
    const e = await configError(createKernel(w));
    expect(e.location).toMatchObject({ line: 4, key: 'permissions.allow.0' });
    expect(e.message).toContain('invalid permission rule "Bash()"');
  });

  test('every broken layer is reported, not only the first', async () => {
    const w = makeWorld();
    write(userFile(w), '{ "model": 3 }');
    write(projectFile(w), '{ "model": ');
    const e = await configError(createKernel(w));
    expect(e.describe()).toContain(`${userFile(w)}:1:3 (key "model"): Invalid input: expected string`);
    expect(e.describe()).toContain(`${projectFile(w)}:1:12: malformed JSON`);
  });

  test('an unknown key is a warning with a suggestion, and the rest of the file still applies', async () => {
    const w = makeWorld();
    write(
      projectFile(w),
      '{\n  "model": "m",\n  "permisions": { "allow": [] },\n  "plugins": { "x": { "enabeld": false } }\n}\n',
    );
    const c = (await createKernel(w)).config;
    expect(c.settings.model).toBe('m');
    expect(c.warnings).toEqual([
      {
        message: 'unknown key "permisions"; did you mean "permissions"?',
        location: { file: projectFile(w), line: 3, column: 3, key: 'permisions' },
      },
      {
        message: 'unknown key "enabeld"; did you mean "enabled"?',
        location: { file: projectFile(w), line: 4, column: 23, key: 'plugins.x.enabeld' },
      },
    ]);
  });
});

describe("a project's own settings cannot widen the boundary", () => {
  test('defaultMode danger-full-access and folders outside the project from .icode files are dropped with a warning at their line; the user layer still may', async () => {
    const w = makeWorld();
    const outside = join(w.root, 'elsewhere');
    mkdirSync(outside);
    mkdirSync(join(w.project, 'inside'));
    const file = write(join(w.project, '.icode', 'settings.json'), {
      permissions: { defaultMode: 'danger-full-access', additionalDirectories: ['/', outside, 'inside'] },
    });
    write(join(w.project, '.icode', 'settings.local.json'), {
      permissions: { additionalDirectories: ['~', 'inside'] },
    });
    const c = await loadConfig({ cwd: w.project, home: w.home, env: w.env });
    expect(c.settings.permissions.defaultMode).toBe('prompt');
    expect(c.settings.permissions.additionalDirectories).toEqual(['inside']);
    const said = c.warnings.map((p) => `${p.location.file}:${p.location.line} ${p.message}`).join('\n');
    expect(said).toContain(
      `${file}:3 defaultMode "danger-full-access" in a project's own settings is not taken`,
    );
    expect(said).toContain('additionalDirectories outside the project');
    expect(said).toContain('pass --add-dir');
    // The user's own settings are the user's choice.
    write(join(w.userDir, 'settings.json'), { permissions: { additionalDirectories: [outside] } });
    write(join(w.project, '.icode', 'settings.json'), {});
    write(join(w.project, '.icode', 'settings.local.json'), {});
    const mine = await loadConfig({ cwd: w.project, home: w.home, env: w.env });
    expect(mine.settings.permissions.additionalDirectories).toEqual([outside]);
  });
});

test('a protectedPaths entry that is a glob or an absolute path is a warning at its line: it protects nothing', async () => {
  const w = makeWorld();
  write(projectFile(w), { permissions: { protectedPaths: ['*.txt', '/etc/app', 'deploy'] } });
  const c = await loadConfig({ cwd: w.project, home: w.home, env: w.env });
  const warning = c.warnings.find((p) => p.location.key === 'permissions.protectedPaths');
  expect(warning?.message).toContain('*.txt, /etc/app protects nothing');
  expect(warning?.location).toMatchObject({ file: projectFile(w), line: 3 });
});

describe("Claude Code's settings files as layers", () => {
  const claude = (w: World, file: string, value: object) => write(join(w.project, '.claude', file), value);

  test('~/.claude, .claude/settings.json and .claude/settings.local.json each sit just below icode’s file of the same scope; rules from all of them apply', async () => {
    const w = makeWorld();
    write(join(w.home, '.claude', 'settings.json'), {
      model: 'cc-user',
      statusLine: { type: 'command', command: 'echo hi' },
      permissions: { allow: ['Bash(npm run test:*)'], disableBypassPermissionsMode: 'disable' },
    });
    claude(w, 'settings.json', {
      model: 'cc-project',
      env: { FROM_CLAUDE: '1' },
      permissions: { deny: ['Read(./.env)'] },
    });
    write(projectFile(w), { model: 'icode-project' });
    claude(w, 'settings.local.json', {
      permissions: { defaultMode: 'acceptEdits', ask: ['Bash(git push:*)'] },
    });
    const c = await loadConfig({ cwd: w.project, home: w.home, env: w.env });
    expect([c.settings.model, c.origins.model]).toEqual(['icode-project', 'project']);
    expect([c.settings.env?.FROM_CLAUDE, c.origins['env.FROM_CLAUDE']]).toEqual(['1', 'claude-project']);
    expect([c.settings.permissions.defaultMode, c.origins['permissions.defaultMode']]).toEqual([
      'workspace-write',
      'claude-local',
    ]);
    expect(c.rules.map((r) => [r.rule, r.effect, r.layer])).toEqual([
      ['Bash(npm run test:*)', 'allow', 'claude-user'],
      ['Read(./.env)', 'deny', 'claude-project'],
      ['Bash(git push:*)', 'ask', 'claude-local'],
    ]);
    // Claude Code's own keys (statusLine, …) are left alone, without a warning on every run.
    expect(c.warnings).toEqual([]);
    expect(c.layers.map((l) => l.name)).toEqual([
      'defaults',
      'claude-user',
      'user',
      'claude-project',
      'project',
      'claude-local',
      'local',
      'env',
      'cli',
    ]);
    // Without the icode file, Claude Code's value is the project's.
    write(projectFile(w), {});
    const only = await loadConfig({ cwd: w.project, home: w.home, env: w.env });
    expect([only.settings.model, only.origins.model]).toEqual(['cc-project', 'claude-project']);
  });

  test('a folder with only .claude/settings.json is the project root for a session started below it', async () => {
    const w = makeWorld();
    claude(w, 'settings.json', { model: 'cc-project' });
    mkdirSync(join(w.project, 'src', 'deep'), { recursive: true });
    const c = await loadConfig({ cwd: join(w.project, 'src', 'deep'), home: w.home, env: w.env });
    expect([c.projectRoot, c.settings.model]).toEqual([w.project, 'cc-project']);
  });

  test('bypassPermissions and folders outside the project from a repository’s .claude files are dropped at their line; from ~/.claude they are taken', async () => {
    const w = makeWorld();
    const outside = join(w.root, 'elsewhere');
    mkdirSync(outside);
    const file = claude(w, 'settings.json', {
      permissions: { defaultMode: 'bypassPermissions', additionalDirectories: [outside] },
    });
    claude(w, 'settings.local.json', { permissions: { additionalDirectories: ['/'] } });
    const c = await loadConfig({ cwd: w.project, home: w.home, env: w.env });
    expect(c.settings.permissions.defaultMode).toBe('prompt');
    expect(c.settings.permissions.additionalDirectories).toEqual([]);
    const said = c.warnings.map((p) => `${p.location.file}:${p.location.line} ${p.message}`).join('\n');
    expect(said).toContain(
      `${file}:3 defaultMode "danger-full-access" in a project's own settings is not taken`,
    );
    expect(said).toContain('settings.local.json:3 additionalDirectories outside the project');

    write(join(w.project, '.claude', 'settings.json'), {});
    write(join(w.project, '.claude', 'settings.local.json'), {});
    write(join(w.home, '.claude', 'settings.json'), {
      permissions: { defaultMode: 'bypassPermissions', additionalDirectories: [outside] },
    });
    const mine = await loadConfig({ cwd: w.project, home: w.home, env: w.env });
    expect(mine.settings.permissions.defaultMode).toBe('danger-full-access');
    expect(mine.settings.permissions.additionalDirectories).toEqual([outside]);
  });

  test('a mode icode has no counterpart for is a warning at its line; a broken rule is an error at its line', async () => {
    const w = makeWorld();
    const file = claude(w, 'settings.json', { permissions: { defaultMode: 'dontAsk' } });
    const c = await loadConfig({ cwd: w.project, home: w.home, env: w.env });
    expect(c.settings.permissions.defaultMode).toBe('prompt');
    expect(c.warnings.map((p) => `${p.location.file}:${p.location.line} ${p.message}`)).toEqual([
      expect.stringContaining(`${file}:3 Claude Code's defaultMode "dontAsk" has no icode counterpart`),
    ]);
    claude(w, 'settings.json', { permissions: { allow: ['Bash('] } });
    const e = await configError(loadConfig({ cwd: w.project, home: w.home, env: w.env }));
    expect(e.message).toContain('invalid permission rule "Bash("');
    expect(e.location?.file).toBe(join(w.project, '.claude', 'settings.json'));
  });
});
