import type { Kernel } from '../kernel/index.ts';
import { resolveReal } from '../kernel/paths.ts';
import type { PermissionMode } from '../kernel/types.ts';

/** One question for `icode check`: a command for bash, or a path and an operation for the file tools. */
export interface CheckQuery {
  command?: string;
  op?: 'read' | 'write' | 'edit';
  path?: string;
  mode?: PermissionMode;
  cwd?: string;
}

const FILE_TOOLS = {
  read: (path: string) => ({ name: 'read_file', input: { path } }),
  write: (path: string) => ({ name: 'write_file', input: { path, content: '' } }),
  edit: (path: string) => ({ name: 'edit_file', input: { path, old_string: '', new_string: 'x' } }),
};

/**
 * The verdict a real tool call would get, through the same code path (validation, the tool's mode and
 * subjects, rules from every config layer, plugin evidence), without running it or asking anyone.
 */
export async function checkOne(
  kernel: Kernel,
  query: CheckQuery,
  defaults: CheckQuery,
): Promise<Record<string, unknown>> {
  const mode = query.mode ?? defaults.mode ?? kernel.sessionMode;
  const cwd = resolveReal(query.cwd ?? defaults.cwd ?? kernel.cwd, kernel.cwd);
  const op = query.op ?? defaults.op;
  const call =
    query.command !== undefined
      ? { name: 'bash', input: { command: query.command } }
      : query.path !== undefined && op && op in FILE_TOOLS
        ? FILE_TOOLS[op](query.path)
        : undefined;
  if (!call)
    return { decision: 'error', error: 'give {"command": …} or {"op": "read|write|edit", "path": …}' };
  // A tool that refuses the input outright (a NUL byte, a FIFO, /proc) throws while naming its subjects.
  const judged = await kernel.tools
    .judge({ id: 'check', ...call }, { sessionMode: mode, cwd, roots: kernel.roots })
    .catch((error: Error) => ({ refused: error.message }));
  if ('refused' in judged) return { ...query, decision: 'deny', reasons: [judged.refused], mode };
  if ('error' in judged) return { ...query, decision: 'error', error: judged.error };
  const { decision, request } = judged;
  return {
    ...query,
    decision: decision.decision,
    reasons: decision.reason.split('; '),
    needs: request.mode,
    mode,
    ...(request.subjects ? { subjects: request.subjects.values } : {}),
    ...(decision.rule
      ? { rule: decision.rule.rule, ruleSource: decision.rule.file ?? decision.rule.layer }
      : {}),
    ...(decision.plugin ? { plugin: decision.plugin } : {}),
    ...(decision.hint ? { hint: decision.hint } : {}),
  };
}

/** `--jsonl`: one query per stdin line, one verdict per stdout line, in order. */
export async function checkLines(kernel: Kernel, defaults: CheckQuery): Promise<void> {
  const { createInterface } = await import('node:readline');
  const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let verdict: Record<string, unknown>;
    try {
      verdict = await checkOne(kernel, JSON.parse(line) as CheckQuery, defaults);
    } catch (error) {
      verdict = { decision: 'error', error: `not a JSON object: ${(error as Error).message}`, line };
    }
    process.stdout.write(`${JSON.stringify(verdict)}\n`);
  }
}
