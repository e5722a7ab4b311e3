import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir, release } from 'node:os';
import { basename, delimiter, dirname, join, relative, sep } from 'node:path';
import fg from 'fast-glob';
import picomatch from 'picomatch';
import { isInside } from '../kernel/paths.ts';
import { PlaceholderSet } from './placeholders.ts';
import { findExecutable } from './process.ts';
import { sandboxFilter } from './seccomp.ts';

/**
 * The OS sandbox every command-running tool shares (bash, the REPL, PowerShell). The design, in
 * docs/security.md: the sandbox is the boundary, the permission gate explains and asks. Whatever the gate
 * misjudges, a sandboxed command cannot write outside the workspace, change a protected path, read the
 * user's credentials, reach the network or a host socket when the network is off, or gain privileges.
 */

export interface SandboxProbe {
  /** bwrap's path when it can really isolate a command here. */
  bwrap?: string;
  /** Why there is no sandbox, and what would give one. */
  reason?: string;
  fix?: string;
  container?: string;
  /** Set when host Unix sockets stay reachable with the network off (no seccomp filter for this CPU). */
  socketsOpen?: string;
}

/** The paths inside each workspace root that sandboxed code may never create, change, rename or replace. */
export const PROTECTED_PATHS = ['.git', '.icode', '.claude', '.mcp.json', '.vscode', '.idea'];

/**
 * Where credentials live, relative to the home folder: never visible to a sandboxed command, even inside a
 * toolchain folder that is (`~/.cargo/credentials.toml`). The home folder itself is empty in the sandbox
 * apart from toolchains, so this list is the second wall, and `Read(...)` deny rules add to it.
 */
export const CREDENTIAL_PATHS = [
  '.ssh',
  '.aws',
  '.azure',
  '.config/gcloud',
  '.config/gh',
  '.config/hub',
  '.config/op',
  '.config/git/credentials',
  // Not shown in the sandbox's home; listed for when a folder holding the home folder is shown.
  '.gitconfig',
  '.config/git',
  '.git-credentials',
  '.npmrc',
  '.yarnrc',
  '.yarnrc.yml',
  '.netrc',
  '.docker',
  '.kube',
  '.gnupg',
  '.password-store',
  '.local/share/keyrings',
  '.icode',
  '.claude',
  '.claude.json',
  '.codex',
  '.gemini',
  '.pypirc',
  '.cargo/credentials',
  '.cargo/credentials.toml',
  '.m2/settings.xml',
  '.gradle/gradle.properties',
  '.terraform.d',
  '.vault-token',
  '.boto',
  '.s3cfg',
  '.bash_history',
  '.zsh_history',
  '.python_history',
  '.node_repl_history',
  '.psql_history',
  '.mysql_history',
];

/** System files that hold secrets even though their folders are needed (root owns them; so may the user). */
const SYSTEM_SECRETS = [
  '/etc/shadow',
  '/etc/shadow-',
  '/etc/gshadow',
  '/etc/gshadow-',
  '/etc/sudoers',
  '/etc/sudoers.d',
  '/etc/ssl/private',
  '/etc/krb5.keytab',
  '/etc/security/opasswd',
  '/etc/NetworkManager/system-connections',
  '/etc/wireguard',
  '/etc/letsencrypt',
  '/etc/ssh/ssh_host_rsa_key',
  '/etc/ssh/ssh_host_ecdsa_key',
  '/etc/ssh/ssh_host_ed25519_key',
  '/etc/ssh/ssh_host_dsa_key',
];

const PROC_READ_ONLY = ['/proc/sys', '/proc/sysrq-trigger', '/proc/irq', '/proc/bus', '/proc/fs'];

/** System folders a toolchain needs, read-only. Everything else of the host is absent. */
const SYSTEM_DIRS = [
  '/usr',
  '/bin',
  '/sbin',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/etc',
  '/opt',
  '/nix',
  '/sys',
];

/**
 * The environment a command gets: these names (and `LC_*`) from icode's own, plus what a setting adds.
 * Tokens and keys in the environment (cloud credentials, CI tokens, API keys) never reach a command by
 * default: a prompt-injected command could print or send them.
 */
export const ENV_ALLOW = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LANGUAGE',
  'TERM',
  'COLORTERM',
  'TZ',
  'TMPDIR',
  'NO_COLOR',
  'FORCE_COLOR',
  'COLUMNS',
  'LINES',
  'EDITOR',
  'VISUAL',
  'PAGER',
  'CI',
];

/**
 * The environment for a command: the allow-list (plus `extra` names; `*` passes everything), and git told
 * to ignore bare repositories it was not pointed at — a folder in a cloned project can be a bare repository
 * whose config runs a program (`core.fsmonitor`) when someone runs `git status` inside it.
 */
export function commandEnv(env: Readonly<Record<string, string | undefined>>, extra: readonly string[] = []) {
  const all = extra.includes('*');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) continue;
    if (all || ENV_ALLOW.includes(k) || k.startsWith('LC_') || extra.includes(k)) out[k] = v;
  }
  // Command-line config outranks a repository's own: a planted or nested repository cannot make git run
  // its fsmonitor program, nor a bare one its config at all.
  out.GIT_CONFIG_COUNT = '2';
  out.GIT_CONFIG_KEY_0 = 'safe.bareRepository';
  out.GIT_CONFIG_VALUE_0 = 'explicit';
  out.GIT_CONFIG_KEY_1 = 'core.fsmonitor';
  out.GIT_CONFIG_VALUE_1 = 'false';
  for (const [k, v] of Object.entries(gitIdentity(env))) out[k] ??= v;
  return out;
}

let identity: Record<string, string> | undefined;

/**
 * The user's git name and e-mail from their global config, as GIT_AUTHOR_* / GIT_COMMITTER_*: sandboxed
 * commands do not see ~/.gitconfig (it can hold tokens), and `git commit` still needs an identity.
 */
export function gitIdentity(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  if (identity) return identity;
  const found: Record<string, string> = {};
  const home = env.HOME ?? homedir();
  for (const file of [
    join(home, '.gitconfig'),
    join(env.XDG_CONFIG_HOME ?? join(home, '.config'), 'git/config'),
  ]) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const user = /^\s*\[user\]([^[]*)/m.exec(text)?.[1] ?? '';
    const name = /^\s*name\s*=\s*(.+?)\s*$/m.exec(user)?.[1]?.replace(/^"|"$/g, '');
    const email = /^\s*email\s*=\s*(.+?)\s*$/m.exec(user)?.[1]?.replace(/^"|"$/g, '');
    if (name) found.GIT_AUTHOR_NAME = found.GIT_COMMITTER_NAME = name;
    if (email) found.GIT_AUTHOR_EMAIL = found.GIT_COMMITTER_EMAIL = email;
    if (name || email) break;
  }
  identity = found;
  return found;
}

/** What one sandboxed command may do. */
export interface SandboxPolicy {
  /** Workspace roots, symlinks resolved. */
  roots: readonly string[];
  /** The workspace is writable (false for a command judged read-only). */
  writable: boolean;
  /** The command may use the network (and host Unix sockets). */
  network: boolean;
  /** Relative to each root; read-only, and created as empty placeholders while the command runs. */
  protectedPaths: readonly string[];
  /**
   * Protected paths this command may change because the user approved it (a `git commit` gets `.git`);
   * inside `.git`, hooks and config stay read-only even then.
   */
  unlocked?: readonly string[];
  /** Absolute paths that must not be visible (credentials, `Read(...)` deny rules). */
  hidden?: readonly string[];
  /** Absolute paths outside the workspace that should be visible, read-only (toolchains, caches). */
  readable?: readonly string[];
  /** Absolute paths outside the workspace this command may write (the user approved it). */
  writableOutside?: readonly string[];
  home: string;
  cwd: string;
  /** icode's environment: its PATH says where the toolchains are. */
  env: Readonly<Record<string, string | undefined>>;
  /** Where the seccomp program is written (`~/.icode/state`). */
  stateDir: string;
  /** The caller starts the sandbox in a new session of its own (spawned detached). */
  ownSession?: boolean;
}

/**
 * A program wrapped for the sandbox: spawn `file args`; call `release()` when it has exited. It returns
 * what the sandbox had to undo, in words for the model and the user (empty when nothing).
 */
export interface SandboxedProgram {
  file: string;
  args: string[];
  release(): string[];
}

/** Signs that icode itself runs in a container (where user namespaces are often switched off). */
function containerSign(): string | undefined {
  if (existsSync('/.dockerenv')) return 'docker';
  if (existsSync('/run/.containerenv')) return 'podman';
  try {
    const cgroup = readFileSync('/proc/1/cgroup', 'utf8');
    return /docker|kubepods|containerd|lxc/.exec(cgroup)?.[0];
  } catch {
    return undefined;
  }
}

/**
 * Looks for real isolation: bubblewrap, tried once with every namespace a command will get. Finding the
 * binary is not enough: inside containers and on kernels without unprivileged user namespaces bwrap exists
 * and fails.
 */
export async function probeSandbox(env: NodeJS.ProcessEnv, bwrapPath = 'bwrap'): Promise<SandboxProbe> {
  const container = containerSign();
  const base = container ? { container } : {};
  if (process.platform !== 'linux')
    return {
      ...base,
      reason: `no OS sandbox for ${process.platform} yet: commands are judged by the gate alone`,
      fix: 'run icode on Linux with bubblewrap for sandboxed commands',
    };
  const bwrap = findExecutable(bwrapPath, env);
  if (!bwrap)
    return {
      ...base,
      reason: 'bubblewrap (bwrap) is not installed',
      fix: 'install bubblewrap (apt install bubblewrap, dnf install bubblewrap)',
    };
  const { execa } = await import('execa');
  const run = await execa(bwrap, [...NAMESPACES, '--ro-bind', '/', '/', '--', 'true'], {
    reject: false,
    timeout: 5000,
    stdin: 'ignore',
  });
  if (run.exitCode !== 0)
    return {
      ...base,
      reason: `bwrap cannot create namespaces here: ${run.stderr.trim().split('\n').at(-1) || `exit ${run.exitCode}`}`,
      fix: container
        ? `run the ${container} container with user namespaces allowed (e.g. --security-opt seccomp=unconfined), or accept approval prompts`
        : 'allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1)',
    };
  return sandboxFilter({ unixSockets: false })
    ? { ...base, bwrap }
    : {
        ...base,
        bwrap,
        socketsOpen: `no Unix-socket filter for ${process.arch}: host sockets stay reachable with the network off`,
      };
}

// No privileges inside, whoever runs icode (bwrap run as root keeps every capability unless told):
// every namespace, every capability dropped; bwrap itself sets no-new-privs, so setuid programs gain nothing.
const NAMESPACES = ['--unshare-all', '--die-with-parent', '--cap-drop', 'ALL'];

/** {@link probeSandbox}, remembered under `cacheDir` while the same bwrap runs on the same kernel and user. */
export async function cachedProbe(env: NodeJS.ProcessEnv, cacheDir: string): Promise<SandboxProbe> {
  const bwrap = findExecutable('bwrap', env);
  const key = JSON.stringify([
    2,
    bwrap,
    bwrap ? statSync(bwrap).mtimeMs : 0,
    release(),
    process.getuid?.(),
    containerSign(),
  ]);
  const file = join(cacheDir, 'sandbox-probe.json');
  try {
    const cached = JSON.parse(readFileSync(file, 'utf8')) as { key: string; probe: SandboxProbe };
    if (cached.key === key) return cached.probe;
  } catch {}
  const probe = await probeSandbox(env);
  try {
    mkdirSync(cacheDir, { recursive: true });
    writeFileSync(file, JSON.stringify({ key, probe }));
  } catch {}
  return probe;
}

/** {@link cachedProbe} once per process: bash, REPL and PowerShell all ask at start-up. */
export function sharedProbe(env: NodeJS.ProcessEnv, cacheDir: string): Promise<SandboxProbe> {
  const key = `${cacheDir}\0${env.PATH ?? ''}`;
  let probe = probes.get(key);
  if (!probe) {
    probe = cachedProbe(env, cacheDir);
    probes.set(key, probe);
  }
  return probe;
}
const probes = new Map<string, Promise<SandboxProbe>>();

const real = (path: string): string | undefined => {
  // existsSync first: a thrown ENOENT costs tens of microseconds, and most credential paths do not exist.
  if (!existsSync(path)) return undefined;
  try {
    return realpathSync.native(path);
  } catch {
    return undefined;
  }
};

/**
 * Folders the toolchains on PATH live in, outside the system folders: `~/.nvm/…/bin` shows `~/.nvm`,
 * `/srv/node/bin` shows `/srv/node`. A folder on PATH inside the home folder is shown from its first level
 * (`~/.pyenv` for `~/.pyenv/shims`), since shims and version folders live side by side there.
 */
export function toolchainPaths(env: Readonly<Record<string, string | undefined>>, home: string): string[] {
  // The same PATH and home give the same folders: worked out once per process, not per command.
  const key = `${home}\0${env.PATH ?? ''}`;
  const known = toolchains.get(key);
  if (known) return known;
  const found = findToolchains(env, home);
  toolchains.set(key, found);
  return found;
}
const toolchains = new Map<string, string[]>();

function findToolchains(env: Readonly<Record<string, string | undefined>>, home: string): string[] {
  const out = new Set<string>();
  const dirs = [...(env.PATH ?? '').split(delimiter), dirname(process.execPath)];
  for (const dir of dirs) {
    const path = dir ? real(dir) : undefined;
    if (!path || path === '/' || SYSTEM_DIRS.some((s) => isInside(path, s))) continue;
    if (isInside(path, home) && path !== home) {
      const [first, second] = relative(home, path).split(sep);
      if (first === '.local' || first === '.config' || first === '.cache')
        out.add(second ? join(home, first, second) : path);
      else out.add(join(home, first!));
    } else if (!isInside(home, path)) out.add(path.endsWith(`${sep}bin`) ? dirname(path) : path);
  }
  return [...out];
}

const placeholders = new PlaceholderSet();
let systemMounts: string[] | undefined;

/**
 * bwrap arguments for a policy. The host is not visible as a whole: the system folders read-only, an empty
 * private /tmp and home folder (toolchains and git's identity shown read-only inside it), the workspace
 * (writable or not), protected paths read-only, credentials and denied paths masked. Returns the protected
 * paths that did not exist: the caller holds empty placeholders there while the command runs, because a
 * path that does not exist cannot be mounted read-only, and a command could otherwise create it
 * (`.icode/settings.json` that makes the next session trust everything).
 */
export function sandboxArgs(policy: SandboxPolicy): { args: string[]; missing: string[] } {
  // A new session keeps a command from the terminal (TIOCSTI could type into it). A caller that starts the
  // sandbox in a session of its own (detached) has done that already, and then must not get a second one:
  // the command would leave the caller's process group, and a kill of the group sent while bwrap starts
  // could miss it (the command ran on, orphaned, its output pipe held open).
  const args = [...NAMESPACES, ...(policy.ownSession ? [] : ['--new-session'])];
  if (policy.network) args.push('--share-net');
  systemMounts ??= SYSTEM_DIRS.flatMap((dir) => {
    let info: ReturnType<typeof lstatSync>;
    try {
      info = lstatSync(dir);
    } catch {
      return [];
    }
    // Merged /usr: /bin is a symlink to usr/bin; keep it one.
    return info.isSymbolicLink() ? ['--symlink', readlinkOf(dir), dir] : ['--ro-bind', dir, dir];
  });
  args.push(...systemMounts);
  args.push('--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp', '--tmpfs', '/var/tmp');
  // A new /proc still has the host's sysctls and triggers, which check only the uid: as root, writing
  // /proc/sys/kernel/core_pattern makes the host kernel run a program, /proc/sysrq-trigger reboots it.
  for (const path of PROC_READ_ONLY) if (existsSync(path)) args.push('--ro-bind', path, path);
  // resolv.conf often points into /run, which is not mounted: name lookups need it when the network is on.
  const resolv = real('/etc/resolv.conf');
  if (policy.network && resolv && !SYSTEM_DIRS.some((s) => isInside(resolv, s)))
    args.push('--ro-bind', resolv, resolv);
  const home = real(policy.home) ?? policy.home;
  if (!policy.roots.some((root) => isInside(home, root)) && home !== '/') args.push('--tmpfs', home);
  const readable = [...toolchainPaths(policy.env, home), ...(policy.readable ?? [])];
  for (const path of new Set(readable.map(real).filter((p): p is string => Boolean(p))))
    if (!policy.roots.some((root) => isInside(path, root))) args.push('--ro-bind', path, path);
  // Mounted after the private /tmp and home, so a workspace under either is still there.
  for (const root of policy.roots) args.push(policy.writable ? '--bind' : '--ro-bind', root, root);
  for (const path of new Set((policy.writable ? (policy.writableOutside ?? []) : []).map(real)))
    if (path && path !== '/') args.push('--bind', path, path);
  const missing: string[] = [];
  for (const root of policy.roots)
    for (const rel of policy.protectedPaths) {
      const path = join(root, rel);
      if (policy.writable && policy.unlocked?.includes(rel)) {
        // A git write: the repository changes, but .git stays a mount point (it cannot be renamed and
        // replaced) and what makes git run programs or read other config stays read-only.
        if (rel === '.git' && existsOrLink(path)) {
          args.push('--bind', path, path);
          for (const inner of GIT_HAZARDS)
            if (!policy.unlocked.includes(`.git/${inner}`) && existsOrLink(join(path, inner)))
              args.push('--ro-bind', join(path, inner), join(path, inner));
        }
        continue;
      }
      // A nested protected path (`.github/workflows`) whose parent is missing is held at the parent.
      let held = path;
      while (!existsOrLink(held) && dirname(held) !== root && !existsOrLink(dirname(held)))
        held = dirname(held);
      if (!existsOrLink(held) || placeholders.isPlaceholder(held)) missing.push(held);
      args.push('--ro-bind', held, held);
    }
  // Only what is visible needs a mask: the home folder is empty but for what was shown above.
  const shown = [...SYSTEM_DIRS, ...readable, ...(policy.writableOutside ?? []), ...policy.roots].map(
    (s) => real(s) ?? s,
  );
  const credentials = CREDENTIAL_PATHS.map((p) => join(home, p));
  for (const path of new Set([...SYSTEM_SECRETS, ...credentials, ...(policy.hidden ?? [])]))
    mask(args, path, shown);
  args.push('--chdir', policy.cwd);
  return { args, missing };
}

function existsOrLink(path: string): boolean {
  return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
}

function readlinkOf(path: string): string {
  return relative(dirname(path), realpathSync.native(path)) || '.';
}

/** Hides a path that exists: a folder becomes an empty read-only one, a file reads as empty. */
function mask(args: string[], path: string, shown: readonly string[]): void {
  const target = real(path);
  if (!target || !shown.some((s) => isInside(target, s))) return;
  let info: ReturnType<typeof statSync>;
  try {
    info = statSync(target);
  } catch {
    return;
  }
  if (info.isDirectory()) args.push('--tmpfs', target, '--remount-ro', target);
  else args.push('--ro-bind', '/dev/null', target);
}

/**
 * Wraps a program for the sandbox. The seccomp program goes to bwrap on a file descriptor, so the wrapper is
 * `sh -c 'exec bwrap … 9<file'`: every caller (execa, spawn, a persistent shell) can use it without passing
 * extra descriptors. Without a sandbox the program runs as it is (the gate then asks for full access).
 */
export function sandboxed(
  probe: SandboxProbe,
  policy: SandboxPolicy,
  program: { file: string; args: readonly string[] },
): SandboxedProgram {
  if (!probe.bwrap) return { file: program.file, args: [...program.args], release: () => [] };
  const { args, missing } = sandboxArgs(policy);
  // Nested settings that exist (`sub/.icode`) are kept as they are, like those at the roots.
  const nested = policy.writable ? nestedProtected(policy) : new Set<string>();
  const at = args.lastIndexOf('--chdir');
  args.splice(at, 0, ...[...nested].flatMap((p) => ['--ro-bind', p, p]));
  const held = placeholders.hold(missing);
  const gitGuard = policy.writable && policy.unlocked?.includes('.git') ? guardGitDirs(policy) : undefined;
  const nestedGuard = policy.writable ? guardNested(policy, nested) : undefined;
  const filter = seccompFile(policy.stateDir, !policy.network);
  const bwrapArgs = [...args, ...(filter ? ['--seccomp', '9'] : []), '--', program.file, ...program.args];
  const file = '/bin/sh';
  const shArgs = filter
    ? ['-c', 'f=$1; shift; exec "$@" 9<"$f"', 'sh', filter, probe.bwrap, ...bwrapArgs]
    : ['-c', 'exec "$@"', 'sh', probe.bwrap, ...bwrapArgs];
  let released = false;
  return {
    file,
    args: shArgs,
    release() {
      if (released) return [];
      released = true;
      // Called from a process's exit: it must not throw (an unhandled rejection would end icode).
      try {
        held.release();
        return [...(gitGuard?.() ?? []), ...(nestedGuard?.() ?? [])];
      } catch (error) {
        return [`[icode could not check what the command left: ${(error as Error).message}]`];
      }
    },
  };
}

/** Why a nested protected name a command created is taken away. */
const NESTED_WHY: Record<string, string> = {
  '.icode':
    "a session started in that folder would take its settings (icode's permission mode, rules, hooks)",
  '.claude': 'Claude Code started in that folder would take its settings and hooks',
  '.mcp.json': 'a session started in that folder would start the MCP servers it names',
  '.vscode': 'an editor opening that folder would take its tasks and settings',
  '.idea': 'an IDE opening that folder would take its run configurations',
};

/** How deep, and through how many folders, the nested-settings check looks. */
const NESTED_DEPTH = 6;
const NESTED_FOLDERS = 20_000;

/** Protected names (`.icode`, `.claude`, …) below each root, to the depth and breadth above. */
function nestedProtected(policy: SandboxPolicy): Set<string> {
  const names = new Set(policy.protectedPaths.filter((p) => !p.includes('/') && p !== '.git'));
  const found = new Set<string>();
  let budget = NESTED_FOLDERS;
  const walk = (dir: string, depth: number) => {
    if (depth > NESTED_DEPTH || budget-- <= 0) return;
    let entries: import('node:fs').Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (names.has(e.name)) {
        if (depth > 0) found.add(join(dir, e.name));
      } else if (e.isDirectory() && e.name !== 'node_modules' && e.name !== '.git')
        walk(join(dir, e.name), depth + 1);
    }
  };
  for (const root of policy.roots) walk(root, 0);
  return found;
}

/**
 * Only the protected paths at each root can be mount points. A command could still create `.icode` (or
 * `.claude`, `.mcp.json`…) in a subfolder, and a session started there next would take its settings. What
 * the command created of these, to a depth of six folders, is renamed `NAME.quarantined-…` when it
 * ends, and the caller is told; what existed before is left alone.
 */
function guardNested(policy: SandboxPolicy, before: Set<string>): () => string[] {
  return () =>
    [...nestedProtected(policy)]
      .filter((path) => !before.has(path))
      .map((path) => quarantine(path, NESTED_WHY[basename(path)] ?? 'it is a protected name'));
}

/**
 * Renames what a command created where it must not be, in its own folder (a rename there cannot cross
 * filesystems, and no two names collide): `.icode` becomes `.icode.quarantined-<time>-<random>`, which
 * nothing trusts. Says so, for the result.
 */
function quarantine(path: string, why: string): string {
  const to = `${path}.quarantined-${Date.now()}-${randomBytes(4).toString('hex')}`;
  try {
    renameSync(path, to);
    return `[icode renamed ${path}, which the command created, to ${basename(to)}: ${why}]`;
  } catch (error) {
    return `[the command created ${path}, and icode could not move it away: ${(error as Error).message}]`;
  }
}

/** Files in a git folder that make git run programs or read another repository's config when created. */
const GIT_HAZARDS = [
  'hooks',
  'config',
  'config.worktree',
  'commondir',
  'info',
  'modules',
  'worktrees',
  // A rebase's todo list runs its `exec` lines when the user continues it on the host: only a git command
  // that rebases, cherry-picks or reverts may create or change these (it gets them unlocked).
  'rebase-merge',
  'rebase-apply',
  'sequencer',
];

/**
 * A command allowed to change `.git` (git itself, for `git commit`) keeps hooks and config read-only, but
 * what did not exist cannot be mounted: a hook it runs could create `.git/commondir` (git then reads
 * another folder's config, whose core.fsmonitor the user's next `git status` runs). After the sandbox has
 * gone (its PID namespace took every process with it), whatever of these appeared is renamed
 * `NAME.quarantined-…` in place and the caller is told.
 */
function guardGitDirs(policy: SandboxPolicy): () => string[] {
  const before = new Map<string, boolean>();
  for (const root of policy.roots)
    for (const name of GIT_HAZARDS)
      before.set(join(root, '.git', name), existsOrLink(join(root, '.git', name)));
  return () =>
    [...before]
      .filter(([path, existed]) => !existed && existsOrLink(path))
      .map(([path]) => quarantine(path, 'in .git it could make git run programs'));
}

const seccompPaths = new Map<string, string | undefined>();

/** The seccomp program for a policy, written once under the state folder (named by its content). */
function seccompFile(stateDir: string, blockUnixSockets: boolean): string | undefined {
  const key = `${stateDir}\0${blockUnixSockets}`;
  if (seccompPaths.has(key)) return seccompPaths.get(key);
  const program = sandboxFilter({ unixSockets: !blockUnixSockets });
  let file: string | undefined;
  if (program) {
    const digest = createHash('sha256').update(program).digest('hex').slice(0, 16);
    file = join(stateDir, `seccomp-${process.arch}-${digest}.bpf`);
    if (!existsSync(file) || !readFileSync(file).equals(program)) {
      mkdirSync(stateDir, { recursive: true });
      const temp = `${file}.${process.pid}.tmp`;
      writeFileSync(temp, program);
      // rename: another icode never reads half a program.
      renameSync(temp, file);
    }
  }
  seccompPaths.set(key, file);
  return file;
}

/**
 * Paths and globs (what `Read(...)` deny rules name) as the files they name now, for a sandbox to hide: a
 * glob is expanded under its fixed prefix, without following links, so a rule for every `.env` hides each
 * one there is.
 */
export function expandPaths(patterns: readonly string[]): string[] {
  const out: string[] = [];
  for (const pattern of patterns) {
    if (!fg.isDynamicPattern(pattern)) {
      out.push(pattern);
      continue;
    }
    const { base, glob } = picomatch.scan(pattern);
    out.push(
      ...fg.sync(glob, {
        cwd: base || '/',
        absolute: true,
        dot: true,
        onlyFiles: false,
        followSymbolicLinks: false,
        suppressErrors: true,
        ignore: ['**/node_modules/**'],
      }),
    );
  }
  return out;
}

/**
 * The usual policy for a tool that runs code in the workspace: the workspace writable, no network, the
 * protected paths and credentials shielded, icode's state folder for the sandbox's bookkeeping.
 *
 * @example
 * ```ts
 * const program = sandboxed(probe, workspacePolicy({ roots: t.roots, cwd: t.cwd, env: ctx.env, userDir: ctx.userDir }),
 *   { file: 'python3', args: ['-c', code] });
 * ```
 */
export function workspacePolicy(options: {
  roots: readonly string[];
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
  userDir: string;
  network?: boolean;
  writable?: boolean;
  hidden?: readonly string[];
  /** The gate's protected paths (`ctx.permissions.protectedPaths()`); the defaults are always among them. */
  protectedPaths?: readonly string[];
}): SandboxPolicy {
  return {
    roots: options.roots,
    writable: options.writable ?? true,
    network: options.network ?? false,
    protectedPaths: [...new Set([...PROTECTED_PATHS, ...(options.protectedPaths ?? [])])],
    ...(options.hidden ? { hidden: options.hidden } : {}),
    home: options.env.HOME ?? homedir(),
    cwd: options.cwd,
    env: options.env,
    stateDir: join(options.userDir, 'state'),
  };
}
