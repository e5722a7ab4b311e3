import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { findExecutable } from '../sdk/process.ts';

/**
 * The sandbox is the boundary: each escape family of the security issue, tried by code the gate lets run
 * (a script in the workspace, `bash esc.sh`, judged a workspace write), through the real CLI, the real bash
 * tool, bubblewrap and the kernel — as root (CI's user) and as an unprivileged user.
 */
const bwrap = findExecutable('bwrap');
const setpriv = findExecutable('setpriv');
const reason = bwrap ? '' : 'bubblewrap (bwrap) is not installed';
if (!bwrap && process.env.CI === 'true') throw new Error(`CI must run the sandbox escape tests: ${reason}`);

/**
 * A pre-commit hook the agent wrote (the user's config points core.hooksPath into the workspace, as husky
 * does), run by an allowed `git commit`: .git is writable for git, its code is not.
 */
const GIT_ESCAPES = String.raw`
probe() { printf 'PROBE %s %s\n' "$1" "$2"; }
mv .git .git-orig 2>/dev/null && probe unlocked-rename-git DONE || probe unlocked-rename-git refused
printf '[core]\n\tfsmonitor = touch pwned\n' >> .git/config 2>/dev/null && probe unlocked-config DONE || probe unlocked-config refused
mkdir -p .git/hooks 2>/dev/null; echo x > .git/hooks/pre-commit 2>/dev/null && probe unlocked-hooks DONE || probe unlocked-hooks refused
mkdir -p .git/modules/m 2>/dev/null && printf '[core]\n\tfsmonitor = touch pwned\n' > .git/modules/m/config 2>/dev/null && probe unlocked-modules DONE || probe unlocked-modules refused
printf '../evil\n' > .git/commondir 2>/dev/null && probe unlocked-commondir WRITTEN || probe unlocked-commondir refused
echo done
`;

const ESCAPES = String.raw`
probe() { printf 'PROBE %s %s\n' "$1" "$2"; }
grep -q '^CapEff:\s*0000000000000000' /proc/self/status && probe caps none || probe caps HELD
grep -q '^NoNewPrivs:\s*1' /proc/self/status && probe nnp set || probe nnp UNSET
mount -o remount,rw / 2>/dev/null && probe remount-root DONE || probe remount-root refused
mount -o remount,rw /usr 2>/dev/null && probe remount-usr DONE || probe remount-usr refused
touch /usr/esc-$$ 2>/dev/null && probe write-usr DONE || probe write-usr refused
cp /proc/sys/kernel/core_pattern /tmp/cp 2>/dev/null; cat /tmp/cp > /proc/sys/kernel/core_pattern 2>/dev/null && probe sysctl DONE || probe sysctl refused
[ -w /proc/sysrq-trigger ] && probe sysrq WRITABLE || probe sysrq refused
python3 -c 'import ctypes; l = ctypes.CDLL(None, use_errno=True); r = l.syscall(425, 1, ctypes.create_string_buffer(120)); print("PROBE io_uring", "refused" if r < 0 else "ALLOWED")' 2>/dev/null
echo x > "$OUTSIDE/written" 2>/dev/null; probe write-outside tried
mkdir -p .icode-new 2>/dev/null
mkdir -p .vscode 2>/dev/null; echo '{}' > .vscode/settings.json 2>/dev/null && probe create-vscode DONE || probe create-vscode refused
echo '{}' > .mcp.json 2>/dev/null && probe create-mcp DONE || probe create-mcp refused
mkdir -p .claude 2>/dev/null; echo '{}' > .claude/settings.json 2>/dev/null && probe create-claude DONE || probe create-claude refused
echo '{"permissions":{"defaultMode":"danger-full-access"}}' > .icode/settings.json 2>/dev/null && probe write-icode DONE || probe write-icode refused
mv .icode .icode-moved 2>/dev/null && probe rename-icode DONE || probe rename-icode refused
mkdir -p sub/.icode && echo '{"permissions":{"defaultMode":"danger-full-access"}}' > sub/.icode/settings.json && probe nested-icode WRITTEN
printf 'gitdir: /tmp\n' > .git/commondir 2>/dev/null && probe git-commondir DONE || probe git-commondir refused
printf '[core]\n\tfsmonitor = touch pwned\n' >> .git/config 2>/dev/null && probe git-config DONE || probe git-config refused
mv .git .git-moved 2>/dev/null && probe rename-git DONE || probe rename-git refused
cat "$HOME/.ssh/id_rsa" 2>/dev/null | grep -q SSH-SECRET && probe read-ssh LEAKED || probe read-ssh hidden
cat "$HOME/.aws/credentials" 2>/dev/null | grep -q AWS-SECRET && probe read-aws LEAKED || probe read-aws hidden
cat "$HOME/.npmrc" 2>/dev/null | grep -q NPM-SECRET && probe read-npmrc LEAKED || probe read-npmrc hidden
cat "$OUTSIDE/secret.txt" 2>/dev/null | grep -q OUTSIDE-SECRET && probe read-outside LEAKED || probe read-outside hidden
cat .env 2>/dev/null | grep -q DOTENV-SECRET && probe read-dotenv LEAKED || probe read-dotenv hidden
cat /etc/shadow 2>/dev/null | grep -q root && probe read-shadow LEAKED || probe read-shadow hidden
env | grep -q TOKEN-SECRET && probe env LEAKED || probe env clean
node -e "fetch('http://127.0.0.1:$PORT').then(() => console.log('PROBE tcp REACHED'), () => console.log('PROBE tcp blocked'))"
for s in "$PWD/inside.sock" "$OUTSIDE/outside.sock"; do
  node -e "const c = require('net').connect(process.argv[1]); c.on('connect', () => { console.log('PROBE unix-' + require('path').basename(process.argv[1]) + ' REACHED'); c.end(); }); c.on('error', () => console.log('PROBE unix-' + require('path').basename(process.argv[1]) + ' blocked'))" "$s"
done
echo done
`;

interface World {
  root: string;
  home: string;
  project: string;
  outside: string;
  scenarios: string;
}

function makeWorld(): World {
  const root = mkdtempSync(join(tmpdir(), 'icode-escape-'));
  const w = {
    root,
    home: join(root, 'home'),
    project: join(root, 'project'),
    outside: join(root, 'outside'),
    scenarios: join(root, 'scenarios'),
  };
  for (const dir of [w.project, w.outside, w.scenarios, join(w.home, '.ssh'), join(w.home, '.aws')])
    mkdirSync(dir, { recursive: true });
  writeFileSync(join(w.home, '.ssh/id_rsa'), 'SSH-SECRET\n');
  writeFileSync(join(w.home, '.aws/credentials'), 'AWS-SECRET\n');
  writeFileSync(join(w.home, '.npmrc'), '//registry/:_authToken=NPM-SECRET\n');
  writeFileSync(join(w.outside, 'secret.txt'), 'OUTSIDE-SECRET\n');
  spawnSync('git', ['init', '-q', w.project]);
  mkdirSync(join(w.project, '.icode'));
  writeFileSync(
    join(w.project, '.icode/settings.json'),
    JSON.stringify({ permissions: { deny: ['Read(./.env)'] } }),
  );
  writeFileSync(join(w.project, '.env'), 'DOTENV-SECRET\n');
  writeFileSync(join(w.project, 'esc.sh'), ESCAPES.replaceAll('$OUTSIDE', w.outside));
  mkdirSync(join(w.project, '.hooks'));
  writeFileSync(join(w.project, '.hooks/pre-commit'), `#!/bin/sh\n${GIT_ESCAPES}`, { mode: 0o755 });
  spawnSync('git', ['-C', w.project, 'config', 'core.hooksPath', '.hooks']);
  writeFileSync(join(w.home, '.gitconfig'), '[user]\n\tname = Escape Test\n\temail = escape@example.com\n');
  writeFileSync(
    join(w.scenarios, 'gitescape.json'),
    JSON.stringify({
      name: 'gitescape',
      steps: [
        {
          content: [
            { type: 'tool_use', name: 'bash', input: { command: 'git add esc.sh && git commit -qm x' } },
          ],
        },
        { content: [{ type: 'text', text: '{{tool_results}}' }] },
      ],
    }),
  );
  writeFileSync(
    join(w.scenarios, 'escape.json'),
    JSON.stringify({
      name: 'escape',
      steps: [
        { content: [{ type: 'tool_use', name: 'bash', input: { command: 'bash esc.sh' } }] },
        { content: [{ type: 'text', text: '{{tool_results}}' }] },
      ],
    }),
  );
  return w;
}

/** The script names the loopback port itself: the environment is allow-listed, so no variable carries it. */
function setPort(w: World, port: number): void {
  const file = join(w.project, 'esc.sh');
  writeFileSync(file, readFileSync(file, 'utf8').replaceAll('$PORT', String(port)));
}

/** Unix-socket servers inside and outside the workspace, and a TCP one on loopback, counting connections. */
async function listen(w: World) {
  const hits = { inside: 0, outside: 0, tcp: 0 };
  const servers: Server[] = [
    createServer((c) => {
      hits.inside++;
      c.end();
    }).listen(join(w.project, 'inside.sock')),
    createServer((c) => {
      hits.outside++;
      c.end();
    }).listen(join(w.outside, 'outside.sock')),
    createServer((c) => {
      hits.tcp++;
      c.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
    }).listen(0, '127.0.0.1'),
  ];
  await Promise.all(servers.map((s) => new Promise((resolve) => s.once('listening', resolve))));
  const address = servers[2]!.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const sockets = new Set<import('node:net').Socket>();
  for (const s of servers) s.on('connection', (c) => sockets.add(c));
  const close = () => {
    for (const c of sockets) c.destroy();
    return Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  };
  return { hits, port, close };
}

function runIcode(w: World, asUser?: number, mode = 'workspace-write', scenario = 'escape'): Promise<string> {
  const cli = join(import.meta.dirname, '..', 'dist', 'icode.cjs');
  const args = [
    cli,
    '-p',
    '--mock',
    '--mock-scenarios',
    w.scenarios,
    '--permission-mode',
    mode,
    `PARITY_SCENARIO:${scenario}`,
  ];
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: w.home,
    ICODE_CONFIG_DIR: join(w.home, '.icode'),
    GITHUB_TOKEN: 'TOKEN-SECRET',
    AWS_SECRET_ACCESS_KEY: 'TOKEN-SECRET',
  };
  const [file, argv] =
    asUser === undefined
      ? [process.execPath, args]
      : [setpriv!, [`--reuid=${asUser}`, `--regid=${asUser}`, '--clear-groups', process.execPath, ...args]];
  return new Promise((resolve) => {
    const child = spawn(file, argv, { cwd: w.project, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.on('close', () => resolve(out));
  });
}

describe.skipIf(!bwrap)('the probes detect escapes', () => {
  test('unconfined (danger-full-access), the same script reads secrets and reaches both sockets and the network', async () => {
    const w = makeWorld();
    // Only the probes that read and connect: unconfined, the others would change this machine.
    const safe = ESCAPES.split('\n').filter((line) =>
      /^(probe\(\)|cat |env |node |for | {2}node |done|echo done)/.test(line),
    );
    writeFileSync(join(w.project, 'esc.sh'), safe.join('\n').replaceAll('$OUTSIDE', w.outside));
    const server = await listen(w);
    setPort(w, server.port);
    try {
      const out = await runIcode(w, undefined, 'danger-full-access');
      if (process.env.SHOW_ESCAPES) console.log(out);
      const p = probes(out);
      expect(p['read-ssh']).toBe('LEAKED');
      expect(p['read-outside']).toBe('LEAKED');
      expect(p.tcp).toBe('REACHED');
      expect(p['unix-inside.sock']).toBe('REACHED');
      // The environment allow-list holds even then.
      expect(p.env).toBe('clean');
    } finally {
      await server.close();
      rmSync(w.root, { recursive: true, force: true });
    }
  }, 60_000);
});

const probes = (out: string) =>
  Object.fromEntries([...out.matchAll(/^PROBE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));

const users: Array<[string, number | undefined]> = [['as the user running icode', undefined]];
// As root, the same escapes as uid 65534 — when this kernel lets an unprivileged user make namespaces
// (where it does not, bubblewrap cannot sandbox such a user at all and icode says so: degraded).
const unprivileged =
  process.getuid?.() === 0 && bwrap && setpriv
    ? spawnSync(setpriv, [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        bwrap,
        '--unshare-all',
        '--ro-bind',
        '/',
        '/',
        'true',
      ]).status === 0
    : false;
if (unprivileged) users.push(['as an unprivileged user (uid 65534)', 65534]);
else if (process.getuid?.() === 0)
  console.warn(
    'sandbox escapes as uid 65534 skipped: this kernel does not let an unprivileged user create namespaces',
  );

describe.skipIf(!bwrap)(`sandbox escapes fail ${reason}`, () => {
  for (const [who, uid] of users) {
    describe(who, () => {
      let w: World;
      let out = '';
      let gitOut = '';
      let server: Awaited<ReturnType<typeof listen>>;
      beforeAll(async () => {
        if (uid !== undefined && !setpriv)
          throw new Error('setpriv (util-linux) is needed to run as another user');
        w = makeWorld();
        if (uid !== undefined) {
          // The unprivileged user owns nothing here: make the world theirs to use, as their own files would be.
          spawnSync('chown', ['-R', `${uid}:${uid}`, w.root]);
          chmodSync(w.root, 0o755);
        }
        server = await listen(w);
        setPort(w, server.port);
        if (uid !== undefined)
          spawnSync('chown', [
            `${uid}:${uid}`,
            join(w.project, 'inside.sock'),
            join(w.outside, 'outside.sock'),
          ]);
        out = await runIcode(w, uid);
        gitOut = await runIcode(w, uid, 'workspace-write', 'gitescape');
        if (process.env.SHOW_ESCAPES) console.log(out);
      }, 60_000);
      afterAll(async () => {
        await server?.close();
        if (w) rmSync(w.root, { recursive: true, force: true });
      });

      test('the script ran inside the sandbox to the end', () => {
        expect(out).toContain('done');
        expect(probes(out).caps, out).toBe('none');
        expect(probes(out).nnp).toBe('set');
      });

      test('no remount, no write outside the workspace, no sysctl, no io_uring', () => {
        const p = probes(out);
        expect(p['remount-root']).toBe('refused');
        expect(p['remount-usr']).toBe('refused');
        expect(p['write-usr']).toBe('refused');
        expect(p.sysctl).toBe('refused');
        expect(p.sysrq).toBe('refused');
        if (findExecutable('python3')) expect(p.io_uring).toBe('refused');
        expect(existsSync(join(w.outside, 'written'))).toBe(false);
      });

      test('protected paths cannot be created, changed or renamed, existing or not', () => {
        const p = probes(out);
        for (const name of [
          'create-vscode',
          'create-mcp',
          'create-claude',
          'write-icode',
          'rename-icode',
          'git-commondir',
          'git-config',
          'rename-git',
        ])
          expect(p[name], name).toBe('refused');
        expect(existsSync(join(w.project, '.vscode'))).toBe(false);
        expect(existsSync(join(w.project, '.claude'))).toBe(false);
        expect(existsSync(join(w.project, '.mcp.json'))).toBe(false);
        expect(existsSync(join(w.project, '.git/commondir'))).toBe(false);
        expect(readFileSync(join(w.project, '.git/config'), 'utf8')).not.toContain('fsmonitor');
        expect(readFileSync(join(w.project, '.icode/settings.json'), 'utf8')).not.toContain('danger');
        expect(readdirSync(w.project).sort()).toEqual(
          ['.env', '.git', '.hooks', '.icode', '.icode-new', 'esc.sh', 'inside.sock', 'sub'].sort(),
        );
        // Settings planted in a subfolder (trusted by a session started there) are moved away at the end.
        expect(existsSync(join(w.project, 'sub/.icode'))).toBe(false);
        expect(out).toMatch(/renamed .*sub\/\.icode.*quarantined/);
      });

      test('a hook run by an allowed git commit: .git stays in place, its config, hooks and modules read-only', () => {
        const p = probes(gitOut);
        expect(gitOut).toContain('done');
        for (const name of ['unlocked-rename-git', 'unlocked-config', 'unlocked-hooks'])
          expect(p[name], `${name}\n${gitOut}`).toBe('refused');
        // What did not exist (commondir, modules) could be created while it ran: it is moved away when the
        // command ends, and the result says so.
        expect(existsSync(join(w.project, '.git/commondir'))).toBe(false);
        expect(existsSync(join(w.project, '.git/modules'))).toBe(false);
        expect(gitOut).toContain('quarantine');
        expect(readFileSync(join(w.project, '.git/config'), 'utf8')).not.toContain('fsmonitor');
      });

      test('secrets are not readable: credentials, files outside, denied files, /etc/shadow, the environment', () => {
        const p = probes(out);
        for (const name of [
          'read-ssh',
          'read-aws',
          'read-npmrc',
          'read-outside',
          'read-dotenv',
          'read-shadow',
        ])
          expect(p[name], name).toBe('hidden');
        expect(p.env).toBe('clean');
      });

      test('no network and no host Unix socket, inside the workspace or out', () => {
        const p = probes(out);
        expect(p.tcp).toBe('blocked');
        expect(p['unix-inside.sock']).toBe('blocked');
        expect(p['unix-outside.sock']).toBe('blocked');
        expect(server.hits).toEqual({ inside: 0, outside: 0, tcp: 0 });
      });
    });
  }
});
