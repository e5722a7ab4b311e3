import { AsyncSeriesBailHook, AsyncSeriesHook, AsyncSeriesWaterfallHook, type Hook, SyncHook } from 'tapable';
import { errorMessage } from './errors.ts';
import type {
  ModelRequest,
  ModelResponse,
  PermissionDecision,
  PermissionEvidence,
  PermissionRequest,
  PluginStatus,
  SessionEndReason,
  SessionInfo,
  StopRequest,
  StopVerdict,
  ToolCall,
  ToolContext,
  ToolDefinition,
  ToolResult,
  UserPrompt,
} from './types.ts';

/** What `ready` receives: the boot report. */
export interface ReadyInfo {
  plugins: PluginStatus[];
}
export interface ShutdownInfo {
  reason: 'exit' | 'SIGINT' | 'SIGTERM' | 'error';
}
/** `permissionPrompt` answers: the user's choice, or undefined when this tap cannot ask. */
export interface PermissionAnswer {
  decision: 'allow' | 'deny';
  reason?: string;
  /** Allow rules that hold for the rest of this process ("allow always"; the UI saves them too). */
  remember?: string[];
}

/**
 * Every kernel hook, declared once. Kinds carry meaning: bail = the first tap that returns a value
 * decides; waterfall = each tap transforms the value and passes it on; series/sync = notification.
 */
export function createHooks() {
  return Object.freeze({
    // boot
    configResolved: new AsyncSeriesHook<[Readonly<Record<string, unknown>>]>(['config']),
    ready: new AsyncSeriesHook<[ReadyInfo]>(['report']),
    pluginStatus: new SyncHook<[PluginStatus]>(['status']),
    shutdown: new AsyncSeriesHook<[ShutdownInfo]>(['info']),
    // session
    sessionStart: new AsyncSeriesHook<[SessionInfo]>(['session']),
    userPrompt: new AsyncSeriesWaterfallHook<[UserPrompt]>(['prompt']),
    sessionEnd: new AsyncSeriesHook<[SessionInfo, SessionEndReason]>(['session', 'reason']),
    /** The model replied without tool calls; a tap may send it back to work (a Stop hook). */
    stop: new AsyncSeriesBailHook<[StopRequest], StopVerdict | undefined>(['request']),
    /** Older turns are about to be summarised. */
    preCompact: new AsyncSeriesHook<[SessionInfo, 'auto' | 'manual']>(['session', 'trigger']),
    // model
    toolDefinitions: new AsyncSeriesWaterfallHook<[ToolDefinition[], SessionInfo | undefined]>([
      'definitions',
      'session',
    ]),
    beforeModelRequest: new AsyncSeriesWaterfallHook<[ModelRequest, SessionInfo | undefined]>([
      'request',
      'session',
    ]),
    afterModelResponse: new AsyncSeriesHook<[ModelResponse, SessionInfo | undefined]>([
      'response',
      'session',
    ]),
    // tools
    permissionRequest: new AsyncSeriesBailHook<
      [PermissionRequest, PermissionDecision],
      PermissionEvidence | undefined
    >(['request', 'decision']),
    permissionPrompt: new AsyncSeriesBailHook<
      [PermissionRequest, PermissionDecision],
      PermissionAnswer | undefined
    >(['request', 'decision']),
    beforeToolCall: new AsyncSeriesBailHook<[ToolCall, ToolContext], ToolResult | undefined>([
      'call',
      'context',
    ]),
    afterToolCall: new AsyncSeriesWaterfallHook<[ToolResult, ToolCall, ToolContext]>([
      'result',
      'call',
      'context',
    ]),
  });
}

export type KernelHooks = ReturnType<typeof createHooks>;
export type HookName = keyof KernelHooks;

type HookArgs<H> = H extends { promise(...args: infer A): Promise<unknown> }
  ? A
  : H extends { call(...args: infer A): unknown }
    ? A
    : never;
type HookReturn<H> = H extends { promise(...args: never[]): Promise<infer R> } ? R : undefined;

/** The hooks as a plugin sees them: it can tap, never call. Taps are named after the plugin. */
export type HookTaps = {
  readonly [K in HookName]: {
    tap(
      fn: (
        ...args: HookArgs<KernelHooks[K]>
      ) => HookReturn<KernelHooks[K]> | Promise<HookReturn<KernelHooks[K]>>,
      options?: { stage?: number },
    ): void;
  };
};

type Phase = 'boot' | 'session' | 'model' | 'tools';
type Kind = 'sync' | 'series' | 'bail' | 'waterfall';

/** Each hook's phase and kind (tapable's hook objects cannot be told apart with instanceof). */
export const HOOK_INFO: Readonly<Record<HookName, { phase: Phase; kind: Kind }>> = {
  configResolved: { phase: 'boot', kind: 'series' },
  ready: { phase: 'boot', kind: 'series' },
  pluginStatus: { phase: 'boot', kind: 'sync' },
  shutdown: { phase: 'boot', kind: 'series' },
  sessionStart: { phase: 'session', kind: 'series' },
  userPrompt: { phase: 'session', kind: 'waterfall' },
  sessionEnd: { phase: 'session', kind: 'series' },
  stop: { phase: 'session', kind: 'bail' },
  preCompact: { phase: 'session', kind: 'series' },
  toolDefinitions: { phase: 'model', kind: 'waterfall' },
  beforeModelRequest: { phase: 'model', kind: 'waterfall' },
  afterModelResponse: { phase: 'model', kind: 'series' },
  permissionRequest: { phase: 'tools', kind: 'bail' },
  permissionPrompt: { phase: 'tools', kind: 'bail' },
  beforeToolCall: { phase: 'tools', kind: 'bail' },
  afterToolCall: { phase: 'tools', kind: 'waterfall' },
};
export const HOOK_NAMES = Object.keys(HOOK_INFO) as HookName[];

/** Hooks a plugin that runs sessions may call (declared in `contributes.emits`); the rest are the kernel's. */
export const EMITTABLE = [
  'sessionStart',
  'userPrompt',
  'sessionEnd',
  'stop',
  'preCompact',
  'beforeModelRequest',
  'afterModelResponse',
] as const;
export type EmittableHook = (typeof EMITTABLE)[number];

/** What `ctx.emit` offers: call a session or model hook, and get its result. */
export type HookEmitter = {
  readonly [K in EmittableHook]: (...args: HookArgs<KernelHooks[K]>) => Promise<HookReturn<KernelHooks[K]>>;
};

export function createHookEmitter(
  hooks: KernelHooks,
  checkDeclared: (hook: EmittableHook) => void,
): HookEmitter {
  const emitter = {} as Record<EmittableHook, unknown>;
  for (const name of EMITTABLE) {
    const hook = hooks[name] as unknown as { promise(...args: unknown[]): Promise<unknown> };
    emitter[name] = (...args: unknown[]) => {
      checkDeclared(name);
      return hook.promise(...args);
    };
  }
  return Object.freeze(emitter) as HookEmitter;
}

type AsyncTappable = {
  tapPromise(options: { name: string; stage?: number }, fn: (...args: unknown[]) => Promise<unknown>): void;
};

/** The permission hooks fail closed: a tap that throws denies instead of being skipped. */
const FAIL_CLOSED = new Set<HookName>(['permissionRequest', 'permissionPrompt']);

export interface TapOwner {
  plugin: string;
  /** False once the plugin failed, was disabled or had this hook switched off: its taps then pass. */
  isLive(hook: HookName): boolean;
  /** Records a tap failure on the plugin's health. */
  onError(hook: HookName, error: unknown): void;
  /** Refuses a tap on a hook the manifest does not declare. */
  checkDeclared(hook: HookName): void;
  /** Runs a tap as the plugin's code, so what it starts is attributed to the plugin (kernel/faults.ts). */
  run<T>(fn: () => T): T;
  /** How long an async tap may take; past it the tap counts as failed (permissionPrompt waits for a person). */
  timeoutMs: number;
}

/** A tap that never answers must not hold the run: it fails at its deadline instead. */
function withDeadline<T>(work: Promise<T>, ms: number, hook: HookName): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${hook} within ${ms / 1000} s`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/**
 * Builds a plugin's tap-only facade. Every tap is wrapped so that a throw is caught, attributed to the
 * plugin, and the chain goes on with the value unchanged (waterfall) or no decision (bail) — except the
 * permission hooks, where a throw becomes a deny.
 */
export function createHookTaps(hooks: KernelHooks, owner: TapOwner): HookTaps {
  const facade = {} as Record<HookName, unknown>;
  for (const name of HOOK_NAMES) {
    const hook = hooks[name] as unknown as Hook<unknown[], unknown>;
    const waterfall = HOOK_INFO[name].kind === 'waterfall';
    const sync = HOOK_INFO[name].kind === 'sync';
    const failed = (args: unknown[], error: unknown): unknown => {
      owner.onError(name, error);
      if (FAIL_CLOSED.has(name)) {
        const reason = `plugin "${owner.plugin}" failed in hook ${name}: ${errorMessage(error)}`;
        return { decision: 'deny', reason, plugin: owner.plugin };
      }
      return waterfall ? args[0] : undefined;
    };
    const passthrough = (args: unknown[]) => (waterfall ? args[0] : undefined);
    facade[name] = Object.freeze({
      tap(fn: (...args: unknown[]) => unknown, options: { stage?: number } = {}) {
        owner.checkDeclared(name);
        const tapOptions = { name: owner.plugin, stage: options.stage };
        if (sync) {
          hook.tap(tapOptions, (...args: unknown[]) => {
            if (!owner.isLive(name)) return undefined;
            try {
              owner.run(() => fn(...args));
            } catch (error) {
              failed(args, error);
            }
            return undefined;
          });
          return;
        }
        (hook as unknown as AsyncTappable).tapPromise(tapOptions, async (...args: unknown[]) => {
          if (!owner.isLive(name)) return passthrough(args);
          try {
            const value = owner.run(() => fn(...args));
            // Only a tap that answers later can be late: one that answered at once needs no timer.
            const later = typeof (value as PromiseLike<unknown> | undefined)?.then === 'function';
            const result =
              later && name !== 'permissionPrompt'
                ? await withDeadline(Promise.resolve(value), owner.timeoutMs, name)
                : await value;
            // Evidence is attributed by the kernel, so a plugin cannot speak in another's name.
            return name === 'permissionRequest' && result
              ? { ...(result as object), plugin: owner.plugin }
              : result;
          } catch (error) {
            return failed(args, error);
          }
        });
      },
    });
  }
  return Object.freeze(facade) as HookTaps;
}
