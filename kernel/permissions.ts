import picomatch from 'picomatch';
import { Confinement } from './confinement.ts';
import type { KernelHooks } from './hooks.ts';
import { resolveReal } from './paths.ts';
import type {
  Decision,
  PermissionDecision,
  PermissionEvidence,
  PermissionMode,
  PermissionRequest,
  RuleSource,
  ToolMode,
} from './types.ts';

export interface ParsedRule {
  tool: string;
  specifier?: string;
  error?: string;
}

const RULE = /^([A-Za-z0-9_.*-]+)(?:\(([\s\S]*)\))?$/;

/** Parses `Tool` or `Tool(specifier)`, the rule syntax Claude Code users already write. */
export function parseRule(rule: string): ParsedRule {
  const m = RULE.exec(rule.trim());
  if (!m)
    return { tool: rule, error: 'expected Tool or Tool(specifier), e.g. Bash(git status) or Read(./src/**)' };
  if (m[2] !== undefined && m[2].trim() === '') {
    return { tool: m[1]!, error: 'empty specifier: write Tool to match every call, or Tool(something)' };
  }
  return m[2] === undefined ? { tool: m[1]! } : { tool: m[1]!, specifier: m[2].trim() };
}

function compile(r: RuleSource): CompiledRule {
  const parsed = parseRule(r.rule);
  return {
    ...r,
    tool: parsed.tool,
    ...(parsed.tool.includes('*') ? { toolGlob: picomatch(parsed.tool) } : {}),
    ...(parsed.specifier ? { specifier: parsed.specifier } : {}),
  };
}

const MODE_RANK: Record<ToolMode, number> = { 'read-only': 0, 'workspace-write': 1, 'danger-full-access': 2 };

export interface GateOptions {
  rules: readonly RuleSource[];
  projectRoot: string;
  home: string;
  hooks: KernelHooks;
  /** Maps an alias (`Bash`, `Read`) to the registered tool name (`bash`, `read_file`). */
  canonicalTool: (name: string) => string;
  /** The names whose rules judge a tool: its own, and those it is covered by (`Edit` for write_file). */
  ruleNames?: (tool: string) => readonly string[];
  /** Paths that writes need approval for, besides the defaults (which always hold). */
  protectedPaths?: readonly string[];
}

interface CompiledRule extends RuleSource {
  tool: string;
  toolGlob?: (name: string) => boolean;
  specifier?: string;
}

// Command subjects should be simple commands, parsed out by the tool (the bash plugin splits lists,
// pipelines and substitutions). As a second line of defence, a value that still holds shell control
// syntax never matches an allowing prefix rule: `npm run test:*` must not allow `npm run test && rm -rf ~`
// (deny and ask rules still match it).
const SHELL_CONTROL = /[;&|`$()<>\n\r]/;

function matchText(specifier: string, value: string, strict: boolean, cover?: string): boolean {
  if (specifier === '*') return true;
  if (specifier.endsWith(':*')) {
    if (strict && SHELL_CONTROL.test(value)) return false;
    // Prefix rules match whole words: `npm run test:*` allows `npm run test -- x`, not `npm run tests`.
    const prefix = specifier.slice(0, -2);
    if (cover !== undefined && !(prefix === cover || prefix.startsWith(`${cover} `))) return false;
    return value === prefix || value.startsWith(`${prefix} `);
  }
  return value === specifier;
}

const READ_TOOLS = ['read_file', 'Read'];
const WRITE_TOOLS = ['write_file', 'edit_file', 'Edit', 'Write'];

/**
 * Decides whether a tool call may run. Order (first that applies wins):
 * 1. a deny rule; 2. the mode's ceiling (read-only and plan refuse anything that writes);
 * 3. plugin evidence that denies; 4. an ask rule; 5. the workspace boundary (a path outside the roots,
 * a write under a protected path: {@link Confinement}); 6. plugin evidence that asks; 7. allow rules;
 * 8. plugin evidence that allows; 9. the mode's default.
 */
export class PermissionGate {
  private readonly compiled: CompiledRule[];
  private readonly pathMatchers = new Map<string, (p: string) => boolean>();

  /** The workspace boundary: the gate's own, whatever plugins the harness has. */
  readonly confinement: Confinement;

  constructor(private readonly options: GateOptions) {
    this.compiled = options.rules.map(compile);
    this.confinement = new Confinement(options.protectedPaths);
  }

  /** Rules that hold from now on in this process ("allow always" in the UI, which also saves them). */
  addRules(rules: RuleSource[]): void {
    this.compiled.push(...rules.map(compile));
  }

  private matchPath(specifier: string, value: string): boolean {
    let match = this.pathMatchers.get(specifier);
    if (!match) {
      // `//abs` is Claude Code's absolute form; `/abs` is absolute too; anything else is project-relative.
      const pattern = this.pathPattern(specifier);
      const isGlob = picomatch.scan(pattern).isGlob;
      const glob = picomatch(pattern, { dot: true });
      const under = isGlob ? undefined : picomatch(`${pattern}/**`, { dot: true });
      match = (p) => glob(p) || Boolean(under?.(p));
      this.pathMatchers.set(specifier, match);
    }
    return match(value);
  }

  private pathPattern(specifier: string): string {
    const { projectRoot, home } = this.options;
    const raw = specifier.startsWith('//') ? specifier.slice(1) : specifier;
    const scan = picomatch.scan(raw);
    const base = resolveReal(scan.base || '.', projectRoot, home);
    return scan.isGlob ? `${base}/${scan.glob}` : base;
  }

  /** Whether a rule names a tool that reads files (`Read`) or writes them (`Edit`, `Write`). */
  private coversAccess(rule: CompiledRule, access: 'read' | 'write'): boolean {
    const names = access === 'read' ? READ_TOOLS : WRITE_TOOLS;
    const tool = this.options.canonicalTool(rule.tool);
    const judged = names.flatMap((n) => this.options.ruleNames?.(this.options.canonicalTool(n)) ?? [n]);
    return names.includes(rule.tool) || names.includes(tool) || judged.includes(tool);
  }

  /** Absolute paths and globs that deny rules for reading (or writing) files cover; see PluginContext. */
  deniedPaths(access: 'read' | 'write'): string[] {
    return this.compiled
      .filter((r) => r.effect === 'deny' && r.specifier && this.coversAccess(r, access))
      .map((r) => this.pathPattern(r.specifier!));
  }

  /** The first rule of an effect that a file the call reads or writes falls under (`Read(./.env)`). */
  private accessRule(effect: Decision, request: PermissionRequest): RuleSource | undefined {
    for (const access of ['read', 'write'] as const) {
      const paths = (access === 'read' ? request.subjects?.reads : request.subjects?.writes) ?? [];
      if (!paths.length) continue;
      const rules = this.compiled.filter((r) => r.effect === effect && this.coversAccess(r, access));
      for (const path of paths) {
        const hit = rules.find((r) => !r.specifier || this.matchPath(r.specifier, path));
        if (hit) return hit;
      }
    }
    return undefined;
  }

  private matches(rule: CompiledRule, request: PermissionRequest, value: string | undefined): boolean {
    // Aliases resolve at judgement time: a rule may name a tool (`Bash`) whose plugin loads later.
    const toolMatches = rule.toolGlob
      ? rule.toolGlob(request.tool)
      : (this.options.ruleNames?.(request.tool) ?? [request.tool]).includes(
          this.options.canonicalTool(rule.tool),
        );
    if (!toolMatches) return false;
    if (!rule.specifier) return true;
    if (value === undefined || !request.subjects) return false;
    switch (request.subjects.kind) {
      case 'path':
        return this.matchPath(rule.specifier, value);
      case 'domain': {
        const domain = rule.specifier.replace(/^domain:/, '');
        return domain.startsWith('*.') ? value.endsWith(domain.slice(1)) : value === domain;
      }
      default: {
        const allow = rule.effect === 'allow';
        const at = request.subjects.values.indexOf(value);
        return matchText(
          rule.specifier,
          value,
          allow && request.subjects.kind === 'command',
          allow ? request.subjects.covers?.[at] : undefined,
        );
      }
    }
  }

  private values(request: PermissionRequest): Array<string | undefined> {
    const values = request.subjects?.values ?? [];
    return values.length ? values : [undefined];
  }

  /** The first rule of an effect that matches any value (deny, ask) or every value (allow). */
  private ruleFor(effect: Decision, request: PermissionRequest): RuleSource | undefined {
    const rules = this.compiled.filter((r) => r.effect === effect);
    const values = this.values(request);
    if (effect === 'allow') {
      const per = values.map((v) => rules.find((r) => this.matches(r, request, v)));
      return per.every(Boolean) ? per[0] : undefined;
    }
    for (const v of values) {
      const hit = rules.find((r) => this.matches(r, request, v));
      if (hit) return hit;
    }
    return undefined;
  }

  /** Whether allow rules answer a request's needs: each value that asks is covered by one. */
  private answered(request: PermissionRequest): boolean {
    const asking = request.subjects?.asking;
    if (!asking?.length || !request.subjects) return false;
    const rules = this.compiled.filter((r) => r.effect === 'allow');
    return asking.every((i) => rules.some((r) => this.matches(r, request, request.subjects!.values[i])));
  }

  /**
   * The allow rule that covers every value. In a mode that does not let tools write (prompt), a rule for a
   * command does not allow the files it writes (`Bash(echo:*)` and `echo hi > f`): each needs an `Edit` rule.
   */
  private allowRule(request: PermissionRequest): RuleSource | undefined {
    const allow = this.ruleFor('allow', request);
    const writes = request.subjects?.writes ?? [];
    if (!allow || !writes.length || MODE_RANK[ceiling(request.sessionMode)] > 0) return allow;
    const edits = this.compiled.filter((r) => r.effect === 'allow' && this.coversAccess(r, 'write'));
    const covered = writes.every((p) => edits.some((r) => !r.specifier || this.matchPath(r.specifier, p)));
    return covered ? allow : undefined;
  }

  private byMode(request: PermissionRequest): PermissionDecision {
    const { sessionMode: mode, mode: needs } = request;
    const over = MODE_RANK[needs] > MODE_RANK[ceiling(mode)];
    if (!over)
      return { decision: 'allow', reason: `${request.tool} needs ${needs}; the session is in ${mode} mode` };
    if (mode === 'read-only' || mode === 'plan') {
      return {
        decision: 'deny',
        reason: `${request.tool} requires ${needs}, and the session is in ${mode} mode`,
        hint:
          mode === 'plan'
            ? 'leave plan mode first'
            : 'run with --permission-mode workspace-write (or set permissions.defaultMode)',
      };
    }
    return { decision: 'ask', reason: `${request.tool} needs ${needs}; the session is in ${mode} mode` };
  }

  /** The decision before anyone is asked: allow, ask or deny, with the reason and the rule or plugin. */
  async evaluate(request: PermissionRequest): Promise<PermissionDecision> {
    const deny = this.ruleFor('deny', request) ?? this.accessRule('deny', request);
    if (deny) return fromRule(deny, 'deny');
    const modeDecision = this.byMode(request);
    if (modeDecision.decision === 'deny') {
      // Say what else stands in the way, so a user does not switch modes only to be asked.
      const needs = request.subjects?.needs ?? [];
      return needs.length
        ? { ...modeDecision, reason: `${modeDecision.reason}; and ${needs.join('; ')}` }
        : modeDecision;
    }
    const ask = this.ruleFor('ask', request) ?? this.accessRule('ask', request);
    const allow = this.allowRule(request);
    const needs = request.subjects?.needs ?? [];
    const needed: PermissionDecision | undefined =
      needs.length && !allow && !this.answered(request)
        ? { decision: 'ask', reason: needs.join('; ') }
        : undefined;
    const provisional = ask
      ? fromRule(ask, 'ask')
      : (needed ?? (allow ? fromRule(allow, 'allow') : modeDecision));
    const evidence = await this.options.hooks.permissionRequest.promise(request, provisional);
    const fromEvidence = (e: PermissionEvidence): PermissionDecision => ({
      decision: e.decision,
      reason: e.reason,
      ...(e.plugin ? { plugin: e.plugin } : {}),
      ...(e.updatedInput ? { updatedInput: e.updatedInput } : {}),
    });
    // Rewritten input travels with whatever decides; a deny has nothing to run.
    const withInput = (d: PermissionDecision): PermissionDecision =>
      evidence?.updatedInput ? { ...d, updatedInput: evidence.updatedInput } : d;
    if (evidence?.decision === 'deny') return fromEvidence(evidence);
    if (ask) return withInput(provisional);
    // The workspace boundary asks before any allow, a rule's or a plugin's, can let a call through.
    const confined = this.confinement.judge(request);
    if (confined) return withInput(confined);
    if (evidence?.decision === 'ask') return fromEvidence(evidence);
    if (needed) return withInput(needed);
    if (allow) return withInput(provisional);
    if (evidence?.decision === 'allow') return fromEvidence(evidence);
    return withInput(modeDecision);
  }

  /**
   * The final decision: asks through the `permissionPrompt` hook when the answer is ask. When no one can
   * be asked (headless, or no UI plugin), ask becomes deny with a hint naming what would allow it.
   */
  async check(request: PermissionRequest): Promise<PermissionDecision> {
    return this.confirm(request, await this.evaluate(request));
  }

  /** Turns an evaluated ask into the user's answer (or a deny with a hint when no one can be asked). */
  async confirm(request: PermissionRequest, decision: PermissionDecision): Promise<PermissionDecision> {
    if (decision.decision !== 'ask') return decision;
    const answer = await this.options.hooks.permissionPrompt.promise(request, decision);
    if (answer) {
      if (answer.decision === 'allow' && answer.remember?.length)
        this.addRules(answer.remember.map((rule) => ({ rule, effect: 'allow', layer: 'session' })));
      return {
        ...decision,
        decision: answer.decision,
        reason:
          answer.reason ?? (answer.decision === 'allow' ? 'approved by the user' : 'denied by the user'),
      };
    }
    return {
      ...decision,
      decision: 'deny',
      reason: `${decision.reason}; approval is needed and no one can be asked here`,
      hint: allowHint(request, decision),
    };
  }
}

function ceiling(mode: PermissionMode): ToolMode {
  if (mode === 'plan' || mode === 'read-only' || mode === 'prompt') return 'read-only';
  return mode;
}

function fromRule(rule: RuleSource, decision: Decision): PermissionDecision {
  const where = rule.file ? ` in ${rule.file}` : ` (${rule.layer})`;
  return {
    decision,
    reason: `${decision} rule "${rule.rule}"${where}`,
    rule,
    ...(decision === 'deny'
      ? {
          hint:
            rule.layer === 'cli'
              ? `drop "${rule.rule}" from --disallowedTools`
              : `remove "${rule.rule}" from permissions.deny${where}`,
        }
      : {}),
  };
}

/** The allow rules that would cover a request: one per subject value (each command of a pipeline). */
export function suggestedRules(request: PermissionRequest): string[] {
  const values = request.subjects?.values ?? [];
  return values.length
    ? [
        ...new Set(
          values.map((v, i) =>
            suggestedRule({
              ...request,
              subjects: {
                ...request.subjects!,
                values: [v],
                covers: [request.subjects?.covers?.[i]],
              },
            }),
          ),
        ),
      ]
    : [request.tool];
}

function suggestedRule(request: PermissionRequest): string {
  const value = request.subjects?.values[0];
  if (!value) return request.tool;
  if (request.subjects?.kind === 'command') {
    // A rule no shorter than what the command needs: `Bash(git push:*)`, or the exact command for one
    // whose risk is in its arguments (`sed -n '1e cmd'`), so that "always" really allows it next time.
    const cover = request.subjects.covers?.[0];
    if (cover === value) return `${request.tool}(${value})`;
    return `${request.tool}(${cover ?? value.split(' ')[0]}:*)`;
  }
  if (request.subjects?.kind === 'domain') return `${request.tool}(domain:${value})`;
  return `${request.tool}(${value})`;
}

function allowHint(request: PermissionRequest, decision: PermissionDecision): string {
  if (decision.rule) {
    return `the ask rule "${decision.rule.rule}"${decision.rule.file ? ` in ${decision.rule.file}` : ''} requires approval; run interactively or remove it`;
  }
  // The rules for the values that ask (all of them when none is singled out), not for the first one.
  const subjects = request.subjects;
  const asking = subjects?.asking;
  const picked =
    subjects && asking?.length
      ? {
          ...request,
          subjects: {
            ...subjects,
            values: asking.map((i) => subjects.values[i]!),
            covers: asking.map((i) => subjects.covers?.[i]),
          },
        }
      : request;
  const rules = suggestedRules(picked);
  const quoted = rules.map((r) => `"${r}"`).join(' ');
  const ways = [`--allowedTools ${quoted}`, `permissions.allow ${quoted} in .icode/settings.json`];
  // A stricter mode is worth naming only when the mode is what stands in the way.
  if (MODE_RANK[request.mode] > MODE_RANK[ceiling(request.sessionMode)])
    ways.push(
      `--permission-mode ${request.mode === 'danger-full-access' ? 'danger-full-access' : 'workspace-write'}`,
    );
  ways.push('--permission-prompt-stdin to answer on stdin');
  return `allow it with ${ways.join(', or ')}`;
}
