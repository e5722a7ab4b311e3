import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { findExecutable } from '../../sdk/index.ts';

export interface SandboxProbe {
  /** bwrap's path when it can really isolate a command here. */
  bwrap?: string;
  /** Why there is no sandbox, and what would give one. */
  reason?: string;
  fix?: string;
  container?: string;
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
 * Looks for real isolation: bubblewrap, tried once with the same kind of namespaces a command will get.
 * Finding the binary is not enough: inside containers and on kernels without unprivileged user namespaces
 * bwrap exists and fails.
 */
export async function probeSandbox(env: NodeJS.ProcessEnv, bwrapPath = 'bwrap'): Promise<SandboxProbe> {
  const container = containerSign();
  const base = container ? { container } : {};
  if (process.platform !== 'linux')
    return {
      ...base,
      reason: `no sandbox for ${process.platform} yet`,
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
  const run = await execa(bwrap, [...isolation([], false, false), '--', 'true'], {
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
  return { ...base, bwrap };
}

/** The namespaces and mounts every sandboxed command gets: read-only system, private /tmp, own PIDs. */
function isolation(roots: string[], writable: boolean, network: boolean): string[] {
  const args = ['--die-with-parent', '--new-session', '--unshare-pid', '--unshare-ipc', '--unshare-uts'];
  if (!network) args.push('--unshare-net');
  args.push('--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp');
  // Mounted after the private /tmp, so a workspace under /tmp is still there.
  for (const dir of roots) args.push(writable ? '--bind' : '--ro-bind', dir, dir);
  return args;
}

/**
 * bwrap arguments for a command: everything read-only except the workspace roots (when writable) and a
 * private /tmp; inside the roots, the protected paths (icode config, .git hooks and config, editor
 * settings) stay read-only too.
 */
export function sandboxArgs(options: {
  roots: string[];
  /** False for a command judged read-only: then even the workspace is read-only. */
  writable: boolean;
  protectedPaths: string[];
  cwd: string;
  network: boolean;
}): string[] {
  const args = isolation(options.roots, options.writable, options.network);
  for (const root of options.roots)
    for (const rel of options.protectedPaths.flatMap((p) =>
      p === '.git' ? ['.git/hooks', '.git/config'] : [p],
    )) {
      const path = join(root, rel);
      if (existsSync(path)) args.push('--ro-bind', path, path);
    }
  args.push('--chdir', options.cwd);
  return args;
}

/** The paths inside the workspace that sandboxed code may not change (icode's and git's own). */
export const PROTECTED_PATHS = ['.git', '.icode', '.claude', '.mcp.json', '.vscode', '.idea'];

/**
 * A program to spawn, wrapped in bwrap when the probe found a sandbox: the workspace writable (its
 * protected paths not), the rest read-only, a private /tmp, the network only when asked for. Without a
 * sandbox the program runs as it is (callers then ask for full access).
 */
export function sandboxed(
  probe: SandboxProbe,
  program: { file: string; args: string[]; roots: readonly string[]; cwd: string; network: boolean },
): [string, string[]] {
  if (!probe.bwrap) return [program.file, program.args];
  const args = sandboxArgs({
    roots: [...program.roots],
    writable: true,
    protectedPaths: PROTECTED_PATHS,
    cwd: program.cwd,
    network: program.network,
  });
  return [probe.bwrap, [...args, program.file, ...program.args]];
}

/**
 * {@link probeSandbox}, remembered under the user's icode directory for as long as the same bwrap binary
 * runs on the same kernel: spawning bwrap on every start would cost each `icode` run ~10-20 ms.
 */
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

export async function cachedProbe(env: NodeJS.ProcessEnv, cacheDir: string): Promise<SandboxProbe> {
  const bwrap = findExecutable('bwrap', env);
  const key = JSON.stringify([
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
