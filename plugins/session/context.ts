import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { contextFiles, hostGit, userMemory } from '../../sdk/index.ts';

export const ICODE_PROMPT = `You are icode, an AI coding agent working in the user's repository through tools.
Read before you change; keep changes small and focused; run the project's checks when you can.
Use the tools for every file and command; never claim to have done something a tool did not do.
When a tool result is an error, read it and correct the call instead of repeating it.
Answer concisely, and say what you changed and what is left.`;

function git(args: string[], cwd: string): Promise<string | undefined> {
  const [file, argv] = hostGit(args);
  return new Promise((resolve) => {
    execFile(file, argv, { cwd, timeout: 2000 }, (error, stdout) =>
      resolve(error ? undefined : stdout.trim()),
    );
  });
}

/** Facts about where the agent runs: working directory, platform, date, git branch and status. */
export async function environmentFacts(cwd: string, now = new Date()): Promise<string> {
  const [branch, status] = await Promise.all([
    git(['rev-parse', '--abbrev-ref', 'HEAD'], cwd),
    // Not into submodules: a nested repository's config (filters, fsmonitor) would run on the host.
    git(['status', '--short', '--ignore-submodules=all'], cwd),
  ]);
  const lines = [
    `Working directory: ${cwd}`,
    `Platform: ${process.platform}`,
    `Date: ${now.toISOString().slice(0, 10)}`,
  ];
  if (branch !== undefined) {
    const changes = status ? status.split('\n') : [];
    lines.push(`Git branch: ${branch}`);
    lines.push(
      changes.length
        ? `Git status (${changes.length} changed):\n${changes.slice(0, 20).join('\n')}${changes.length > 20 ? '\n…' : ''}`
        : 'Git status: clean',
    );
  }
  return lines.join('\n');
}

export async function systemPrompt(options: {
  projectRoot: string;
  cwd: string;
  /** The user's icode directory, whose AGENTS.md holds their instructions for every project. */
  userDir?: string;
  base?: string;
  append?: string;
}): Promise<string> {
  const parts = [options.base ?? ICODE_PROMPT];
  const mine = options.userDir ? userMemory(options.userDir) : undefined;
  if (mine && existsSync(mine))
    parts.push(
      `Contents of ${mine} (the user's own instructions, for every project):\n\n${readFileSync(mine, 'utf8').trim()}`,
    );
  for (const file of contextFiles(options.projectRoot, options.cwd)) {
    parts.push(`Contents of ${file.path} (instructions from the project):\n\n${file.text.trim()}`);
  }
  parts.push(`# Environment\n${await environmentFacts(options.cwd)}`);
  if (options.append) parts.push(options.append);
  return parts.join('\n\n');
}
