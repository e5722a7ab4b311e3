import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as P from 'vscode-languageserver-protocol/node';
import { commandEnv, type SandboxedProgram } from '../../sdk/index.ts';
import { languageId, type ServerSpec } from './servers.ts';

/**
 * idle: not started (servers start on the first file of their language); crashed: exited or hung, restarted
 * on next use after a backoff; failed: crashed too often in a row, left stopped until icode restarts.
 */
export type ServerState = 'idle' | 'starting' | 'running' | 'crashed' | 'failed' | 'stopped';

export interface Timeouts {
  /** From spawn to the answer to `initialize`. */
  startMs: number;
  /** Any other request. */
  requestMs: number;
}

const MAX_CRASHES = 5;
const backoffMs = (crashes: number) => Math.min(250 * 2 ** (crashes - 1), 8000);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

class Timeout extends Error {}

/** One language server process, spoken to over stdio with vscode-languageserver-protocol's JSON-RPC. */
export class LanguageServer {
  state: ServerState = 'idle';
  /** Why it last crashed or failed, with the tail of its stderr. */
  error: string | undefined;
  restarts = 0;
  pid: number | undefined;
  capabilities: P.ServerCapabilities | undefined;

  private crashes = 0;
  private lastCrash = 0;
  private child: ChildProcessWithoutNullStreams | undefined;
  private connection: P.ProtocolConnection | undefined;
  private ready: Promise<P.ProtocolConnection> | undefined;
  private stderr = '';
  private readonly documents = new Map<string, { version: number; text: string }>();
  /** Diagnostics last published per file (keyed by path), with the publish sequence number. */
  private readonly published = new Map<string, { seq: number; items: P.Diagnostic[] }>();
  private seq = 0;
  private readonly listeners = new Set<(file: string) => void>();

  constructor(
    readonly spec: ServerSpec,
    /** The resolved executable. */
    readonly executable: string,
    private readonly root: string,
    private readonly env: Readonly<Record<string, string | undefined>>,
    private readonly timeouts: Timeouts,
    /** Wraps the server for the OS sandbox, when it runs in one. */
    private readonly wrap?: (file: string, args: string[]) => SandboxedProgram,
  ) {}

  /** Starts the server (once; again after a crash, after its backoff) and resolves when it is initialized. */
  start(): Promise<P.ProtocolConnection> {
    if (this.state === 'failed')
      return Promise.reject(
        new Error(`${this.spec.name} is stopped after ${MAX_CRASHES} crashes: ${this.error}`),
      );
    if (this.state === 'stopped') return Promise.reject(new Error(`${this.spec.name} was shut down`));
    this.ready ??= this.launch();
    return this.ready;
  }

  private async launch(): Promise<P.ProtocolConnection> {
    const wait = this.crashes ? backoffMs(this.crashes) - (Date.now() - this.lastCrash) : 0;
    if (wait > 0) await sleep(wait);
    this.state = 'starting';
    this.stderr = '';
    const program = this.wrap
      ? this.wrap(this.executable, [...this.spec.args])
      : { file: this.executable, args: [...this.spec.args], release: () => [] };
    // Only allow-listed variables: a server runs the project's code, which must not see tokens.
    const child = spawn(program.file, program.args, {
      cwd: this.root,
      env: { ...commandEnv(this.env), ...this.spec.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.once('exit', () => program.release());
    this.child = child;
    child.stderr.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-2000);
    });
    // Writes after the server died fail with EPIPE: the exit handler reports it, not the stream.
    child.stdin.on('error', () => {});
    const connection = P.createProtocolConnection(
      new P.StreamMessageReader(child.stdout),
      new P.StreamMessageWriter(child.stdin),
    );
    this.connection = connection;
    this.handle(connection);
    const exited = new Promise<never>((_, reject) => {
      // Rejected before the connection is disposed, so a start that fails reports why, not "disposed".
      child.once('error', (error) => {
        reject(new Error(`${this.spec.name} could not start: ${error.message}`));
        this.crashed(child, `could not start: ${error.message}`);
      });
      child.once('exit', (code, signal) => {
        const how = `exited (${signal ?? `code ${code}`})`;
        reject(new Error(`${this.spec.name} ${how}${this.stderrTail()}`));
        this.crashed(child, how);
      });
    });
    exited.catch(() => {});
    connection.listen();
    this.pid = child.pid;
    const root = pathToFileURL(this.root).href;
    let timer: NodeJS.Timeout | undefined;
    try {
      const init = await Promise.race([
        connection.sendRequest(P.InitializeRequest.type, {
          processId: process.pid,
          clientInfo: { name: 'icode' },
          rootUri: root,
          workspaceFolders: [{ uri: root, name: 'workspace' }],
          capabilities: CLIENT_CAPABILITIES,
          ...(this.spec.initializationOptions !== undefined
            ? { initializationOptions: this.spec.initializationOptions }
            : {}),
        }),
        exited,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Timeout()), this.timeouts.startMs);
        }),
      ]);
      this.capabilities = init.capabilities;
      await connection.sendNotification(P.InitializedNotification.type, {});
      this.state = 'running';
      return connection;
    } catch (error) {
      if (error instanceof Timeout) {
        this.kill(`did not finish initializing within ${this.timeouts.startMs} ms`);
        throw new Error(`${this.spec.name} did not finish initializing within ${this.timeouts.startMs} ms`);
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  private handle(connection: P.ProtocolConnection): void {
    connection.onNotification(P.PublishDiagnosticsNotification.type, (params) => {
      const file = toPath(params.uri);
      if (!file) return;
      this.published.set(file, { seq: ++this.seq, items: params.diagnostics });
      for (const listener of this.listeners) listener(file);
    });
    // What servers ask of a client: answered so they do not wait; icode offers no edits or UI here.
    connection.onRequest(P.ConfigurationRequest.type, (params) => params.items.map(() => null));
    connection.onRequest(P.RegistrationRequest.type, () => undefined);
    connection.onRequest(P.UnregistrationRequest.type, () => undefined);
    connection.onRequest(P.WorkDoneProgressCreateRequest.type, () => undefined);
    connection.onRequest(P.ShowMessageRequest.type, () => null);
    connection.onRequest(P.WorkspaceFoldersRequest.type, () => [
      { uri: pathToFileURL(this.root).href, name: 'workspace' },
    ]);
    connection.onRequest(P.ApplyWorkspaceEditRequest.type, () => ({
      applied: false,
      failureReason: 'icode applies edits through its own tools',
    }));
    connection.onNotification(P.LogMessageNotification.type, () => {});
    connection.onNotification(P.ShowMessageNotification.type, () => {});
    connection.onNotification(P.TelemetryEventNotification.type, () => {});
  }

  private crashed(child: ChildProcessWithoutNullStreams, how: string): void {
    if (child !== this.child) return;
    this.connection?.dispose();
    this.connection = undefined;
    this.child = undefined;
    this.pid = undefined;
    this.ready = undefined;
    this.documents.clear();
    this.published.clear();
    if (this.state === 'stopped') return;
    this.crashes += 1;
    this.restarts += 1;
    this.lastCrash = Date.now();
    this.error = `${how}${this.stderrTail()}`;
    this.state = this.crashes >= MAX_CRASHES ? 'failed' : 'crashed';
  }

  /** Stops a server that misbehaves; it counts as a crash, and the next use starts a new one. */
  private kill(reason: string): void {
    const child = this.child;
    if (!child) return;
    this.crashed(child, reason);
    child.kill('SIGKILL');
  }

  private stderrTail(): string {
    const tail = this.stderr.trim().split('\n').slice(-5).join('\n');
    return tail ? `; stderr: ${tail}` : '';
  }

  /** A request with a timeout; a server that does not answer in time is killed and restarted on next use. */
  async request<PP, R, PR, E, RO>(
    type: P.ProtocolRequestType<PP, R, PR, E, RO>,
    params: P.RequestParam<PP>,
  ): Promise<R> {
    const connection = await this.start();
    const source = new P.CancellationTokenSource();
    let timer: NodeJS.Timeout | undefined;
    try {
      const result = await Promise.race([
        connection.sendRequest(type, params, source.token),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Timeout()), this.timeouts.requestMs);
        }),
      ]);
      this.crashes = 0;
      return result;
    } catch (error) {
      if (error instanceof Timeout) {
        source.cancel();
        this.kill(`did not answer ${type.method} within ${this.timeouts.requestMs} ms`);
        throw new Error(
          `${this.spec.name} did not answer ${type.method} within ${this.timeouts.requestMs} ms; it was stopped and restarts on the next request`,
        );
      }
      if (!this.connection || this.connection !== connection)
        throw new Error(
          `${this.spec.name} stopped while answering ${type.method}: ${this.error ?? 'exited'}`,
        );
      throw new Error(`${this.spec.name}: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Opens the file on the server, or sends its new text when it changed on disk since icode last sent it.
   * Returns whether the server has new text (and so will publish new diagnostics).
   */
  async sync(file: string): Promise<boolean> {
    const connection = await this.start();
    const text = readFileSync(file, 'utf8');
    const uri = pathToFileURL(file).href;
    const doc = this.documents.get(file);
    if (!doc) {
      this.documents.set(file, { version: 1, text });
      await connection.sendNotification(P.DidOpenTextDocumentNotification.type, {
        textDocument: { uri, languageId: languageId(file), version: 1, text },
      });
      return true;
    }
    if (doc.text === text) return false;
    doc.version += 1;
    doc.text = text;
    await connection.sendNotification(P.DidChangeTextDocumentNotification.type, {
      textDocument: { uri, version: doc.version },
      contentChanges: [{ text }],
    });
    return true;
  }

  /** The diagnostics last published for a file, if any were. */
  known(file: string): P.Diagnostic[] | undefined {
    return this.published.get(file)?.items;
  }

  /**
   * Syncs the file and waits (at most `waitMs`) for the diagnostics the server publishes for its current
   * text. Servers publish in steps (syntax, then semantics); a short quiet period collects the last step.
   * Undefined when nothing was published in time.
   */
  async diagnostics(file: string, waitMs: number, quietMs = 100): Promise<P.Diagnostic[] | undefined> {
    const deadline = Date.now() + waitMs;
    const mark = this.seq;
    const changed = await this.sync(file);
    if (!changed && this.published.has(file)) return this.known(file);
    return new Promise((resolve) => {
      let quiet: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(quiet);
        clearTimeout(limit);
        this.listeners.delete(listener);
        const got = this.published.get(file);
        resolve(got && got.seq > mark ? got.items : undefined);
      };
      const listener = (published: string) => {
        if (published !== file) return;
        clearTimeout(quiet);
        quiet = setTimeout(done, Math.min(quietMs, Math.max(0, deadline - Date.now())));
      };
      const limit = setTimeout(done, Math.max(0, deadline - Date.now()));
      this.listeners.add(listener);
    });
  }

  /** Closes open documents, asks the server to shut down and exit; kills it if it does not. */
  async stop(): Promise<void> {
    const { connection, child } = this;
    this.state = 'stopped';
    if (!connection || !child) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    try {
      for (const file of this.documents.keys())
        await connection.sendNotification(P.DidCloseTextDocumentNotification.type, {
          textDocument: { uri: pathToFileURL(file).href },
        });
      await Promise.race([connection.sendRequest(P.ShutdownRequest.type), sleep(2000)]);
      await connection.sendNotification(P.ExitNotification.type);
    } catch {
      // Already gone.
    }
    await Promise.race([gone, sleep(2000)]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    connection.dispose();
  }
}

const CLIENT_CAPABILITIES: P.ClientCapabilities = {
  general: { positionEncodings: ['utf-16'] },
  workspace: { workspaceFolders: true, configuration: true, symbol: {} },
  textDocument: {
    synchronization: { dynamicRegistration: false, didSave: false },
    publishDiagnostics: { relatedInformation: true, versionSupport: true },
    hover: { contentFormat: ['markdown', 'plaintext'] },
    definition: { linkSupport: false },
    references: {},
    completion: { completionItem: { snippetSupport: false, documentationFormat: ['plaintext'] } },
    documentSymbol: { hierarchicalDocumentSymbolSupport: true },
  },
  window: { workDoneProgress: false },
};

/** The file path of a `file:` URI; undefined for other schemes. */
export function toPath(uri: string): string | undefined {
  try {
    return uri.startsWith('file:') ? fileURLToPath(uri) : undefined;
  } catch {
    return undefined;
  }
}
