import { AsyncLocalStorage } from 'node:async_hooks';
import { errorMessage } from './errors.ts';

/**
 * Who is running: the plugin whose code this is, and the host that owns it. Every entry into a plugin
 * (activate, a tool, a hook tap, a command, a service method, dispose) runs inside its scope, and the
 * timers, sockets and promises that code creates inherit it — so a throw from a plugin's timer or a
 * rejection nobody awaited can be laid at its door, instead of ending the process.
 */
export interface FaultScope {
  plugin: string;
  /** Marks the plugin failed with the error; the rest of the harness goes on. */
  fault(error: unknown, kind: FaultKind): void;
}

export type FaultKind = 'uncaught exception' | 'unhandled rejection';

const scope = new AsyncLocalStorage<FaultScope>();

/** Runs `fn` as the plugin's code: what it starts is attributed to the plugin. */
export function runAs<T>(owner: FaultScope, fn: () => T): T {
  return scope.run(owner, fn);
}

/** The plugin whose code is running now, if any. */
export function currentScope(): FaultScope | undefined {
  return scope.getStore();
}

export interface FaultReport {
  plugin?: string;
  kind: FaultKind;
  error: unknown;
}

let installed: ((report: FaultReport) => void) | undefined;

/**
 * Process-wide: an uncaught exception or unhandled rejection from a plugin's code fails that plugin and
 * the process goes on; `report` hears of every fault (to tell the user). One that no plugin owns is
 * icode's own: an exception then ends the process with code 70 (EX_SOFTWARE) after `report`, since its
 * state cannot be trusted; a rejection is reported and the run goes on. Returns the uninstaller.
 */
export function containFaults(report: (fault: FaultReport) => void): () => void {
  installed = report;
  const handle = (kind: FaultKind) => (error: unknown) => {
    const owner = scope.getStore();
    if (owner) owner.fault(error, kind);
    installed?.({ ...(owner ? { plugin: owner.plugin } : {}), kind, error });
    if (!owner && kind === 'uncaught exception') process.exit(70);
  };
  const onException = handle('uncaught exception');
  const onRejection = handle('unhandled rejection');
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return () => {
    installed = undefined;
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
}

/** A one-line account of a fault for stderr. */
export function describeFault(f: FaultReport): string {
  const where = f.plugin ? `plugin "${f.plugin}"` : 'icode itself (no plugin owns it)';
  const stack = f.error instanceof Error && f.error.stack ? f.error.stack.split('\n')[1]?.trim() : undefined;
  const verdict = f.plugin
    ? `the plugin is now failed and switched off; the run goes on (disable it with plugins.${f.plugin}.enabled: false, or report it to its author)`
    : f.kind === 'uncaught exception'
      ? 'icode stops (exit code 70); please report this'
      : 'the run goes on; please report this';
  return `${f.kind} in ${where}: ${errorMessage(f.error)}${stack ? ` (${stack})` : ''} — ${verdict}`;
}
