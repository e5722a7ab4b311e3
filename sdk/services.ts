/**
 * The services that plugins share, typed once for every plugin: built-in and third-party alike get
 * `ctx.services.get('session')` (and the others below) typed from the SDK, without importing the plugin
 * that provides it. A plugin implements its service from these types; a service used only by its own
 * plugin and the CLI keeps its type beside the plugin.
 */
import type { SessionService } from './session.ts';

/**
 * Where a task stands: queued (waiting for a free slot), running, or ended (the rest).
 *
 * @example
 * ```ts
 * const ended = (status: TaskStatus) => !['queued', 'running'].includes(status);
 * ```
 */
export type TaskStatus = 'queued' | 'running' | 'completed' | 'failed' | 'stopped' | 'interrupted';

/**
 * A background sub-agent of the project, as the `tasks` service stores it (one JSON file each).
 *
 * @example
 * ```ts
 * const line = (task: TaskRecord) => `${task.id} ${task.status} ${task.description}`;
 * ```
 */
export interface TaskRecord {
  id: string;
  description: string;
  prompt: string;
  status: TaskStatus;
  /** The icode process that runs (or ran) it. */
  pid: number;
  createdAt: string;
  startedAt?: string;
  endedAt?: string;
  result?: string;
  error?: string;
  sessionId?: string;
  outputFile: string;
  /** Set when a team created it. */
  team?: string;
}

/**
 * The `tasks` service: background sub-agents of this project (teams and schedules build on it).
 *
 * @example
 * ```ts
 * const review = async (ctx: PluginContext) => {
 *   const tasks = await ctx.services.get('tasks');
 *   const task = tasks.create({ prompt: 'Review the diff', description: 'review' });
 *   return (await tasks.settled(task.id)).result;
 * };
 * ```
 */
export interface TasksService {
  create(input: { prompt: string; description: string; team?: string }): TaskRecord;
  get(id: string): TaskRecord | undefined;
  list(): TaskRecord[];
  stop(id: string): TaskRecord;
  /** Resolves when the task has ended (or at once if it has). */
  settled(id: string): Promise<TaskRecord>;
}

/**
 * A request as the mock Anthropic API received it, for tests that assert what a client really sent.
 *
 * @example
 * ```ts
 * const messageCalls = (requests: CapturedRequest[]) => requests.filter((r) => r.path === '/v1/messages');
 * ```
 */
export interface CapturedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: unknown;
}

/**
 * A running mock Anthropic API on loopback: point `ANTHROPIC_BASE_URL` at `url`.
 *
 * @example
 * ```ts
 * const env = (server: MockAnthropicServer) => ({ ANTHROPIC_BASE_URL: server.url, ANTHROPIC_API_KEY: 'sk-test' });
 * ```
 */
export interface MockAnthropicServer {
  url: string;
  port: number;
  /** Every API request received, oldest first (also at `GET /__mock/requests`). */
  requests: CapturedRequest[];
  reset(): void;
  close(): Promise<void>;
}

/**
 * The `mock-anthropic` service: starts mock API servers that play scripted scenarios, closed when the
 * plugin deactivates.
 *
 * @example
 * ```ts
 * const serve = async (ctx: PluginContext) => {
 *   const mock = await ctx.services.get('mock-anthropic');
 *   return mock.start({ scenariosDir: join(ctx.projectRoot, 'scenarios') });
 * };
 * ```
 */
export interface MockAnthropicService {
  start(options: { scenariosDir: string; port?: number }): Promise<MockAnthropicServer>;
}

/**
 * A question the model asks the person (AskUserQuestion).
 *
 * @example
 * ```ts
 * const prompt = (q: Question) => [q.question, ...q.options.map((o, i) => `  ${i + 1}. ${o}`)].join('\n');
 * ```
 */
export interface Question {
  question: string;
  /** Choices to pick from; the person may also answer in their own words. */
  options: string[];
  multiSelect: boolean;
}

/**
 * The `questions` service: whoever can ask the person (the UI, or stdin) answers AskUserQuestion.
 *
 * @example
 * ```ts
 * const alwaysFirst = async (ctx: PluginContext) =>
 *   (await ctx.services.get('questions')).setAsker(async (q) => q.options[0]);
 * ```
 */
export interface QuestionsService {
  setAsker(asker: ((q: Question) => Promise<string | undefined>) | undefined): void;
}

/**
 * The `structured-output` service: what a session gave through StructuredOutput (`--json-schema`).
 *
 * @example
 * ```ts
 * const answer = async (ctx: PluginContext, sessionId: string) =>
 *   (await ctx.services.get('structured-output')).get(sessionId)?.value;
 * ```
 */
export interface StructuredOutputService {
  /** The accepted answer of a session, or undefined when it gave none. */
  get(sessionId: string): { value: unknown } | undefined;
}

declare module '../kernel/registries.ts' {
  interface Services {
    session: SessionService;
    tasks: TasksService;
    'mock-anthropic': MockAnthropicService;
    questions: QuestionsService;
    'structured-output': StructuredOutputService;
  }
}
