/**
 * The icode plugin SDK: what a plugin author imports as `@icode/sdk` (the package of its own, sdk/package.json)
 * or `icode/sdk` (the same module, as the CLI package's subpath).
 *
 * @example
 * ```ts
 * import { definePlugin, defineTool } from '@icode/sdk';
 * import * as z from 'zod';
 *
 * const shout = defineTool({
 *   name: 'shout',
 *   description: 'Upper-cases a text',
 *   input: z.object({ text: z.string() }),
 *   mode: 'read-only',
 *   execute: ({ text }) => text.toUpperCase(),
 * });
 *
 * export default definePlugin({
 *   activate(ctx) {
 *     ctx.tools.register(shout);
 *   },
 * });
 * ```
 */
import type { z } from 'zod';
import type { PluginDefinition } from '../kernel/host.ts';
import type { Command, Tool } from '../kernel/types.ts';

export { CLAUDE_MODE_OF, CLAUDE_PERMISSION_MODES } from '../kernel/claude-settings.ts';
export type { ResolvedConfig, Settings } from '../kernel/config.ts';
export { PERMISSION_MODES } from '../kernel/config.ts';
export type { SourceLocation } from '../kernel/errors.ts';
export { ErrorCodes, formatLocation, IcodeError } from '../kernel/errors.ts';
export type { HookName, HookTaps, PermissionAnswer, ReadyInfo, ShutdownInfo } from '../kernel/hooks.ts';
export type { Logger, PluginContext, PluginDefinition } from '../kernel/host.ts';
export { loadJsonFile, parseJsonDocument } from '../kernel/json.ts';
export type { PluginManifest } from '../kernel/manifest.ts';
export { importModule } from '../kernel/modules.ts';
export { asJudged, isInside, resolveReal } from '../kernel/paths.ts';
export { suggestedRules } from '../kernel/permissions.ts';
export type { CommandOutcome, Services } from '../kernel/registries.ts';
export { parseSlashCommand } from '../kernel/registries.ts';
export type * from '../kernel/types.ts';
export { pickAnswer } from './answers.ts';
export { ProjectApprovals } from './approvals.ts';
export {
  CLAUDE_TOOL_NAMES,
  type ClaudeMarketplace,
  type ClaudePluginManifest,
  type ClaudePluginParts,
  type ClaudePluginRecord,
  claudeFolders,
  claudePluginFolder,
  claudePluginId,
  claudePluginParts,
  claudeToolInput,
  claudeToolName,
  claudeToolResponse,
  commandsRun,
  type EnabledClaudePlugin,
  enabledClaudePlugins,
  icodeToolInput,
  icodeToolName,
  isClaudePlugin,
  readClaudeManifest,
  readClaudePlugins,
  toolNamesFor,
  withPluginRoot,
} from './claude-plugins.ts';
export { CONTEXT_FILES, contextFiles, userMemory } from './context-files.ts';
export {
  approvedTarget,
  checkedTarget,
  MAX_FILE_BYTES,
  readJudged,
  readJudgedChunks,
  readText,
  statTarget,
  targetPath,
  writeAtomic,
} from './file-target.ts';
export { listOf, parseFrontmatter } from './frontmatter.ts';
export {
  findCell,
  newCell,
  parseNotebook,
  renderNotebook,
  replaceCell,
  serializeNotebook,
} from './notebook.ts';
export { capOutput, findExecutable, hostGit } from './process.ts';
export { projectSlug } from './projects.ts';
export {
  checkServer,
  HOOK_EVENTS,
  type HookEvent,
  HookMatcherSchema,
  HooksSchema,
  McpServerEntrySchema,
  type ServerConfig,
} from './run-config.ts';
export {
  CREDENTIAL_PATHS,
  cachedProbe,
  commandEnv,
  ENV_ALLOW,
  expandPaths,
  gitIdentity,
  PROTECTED_PATHS,
  probeSandbox,
  type SandboxedProgram,
  type SandboxPolicy,
  type SandboxProbe,
  sandboxArgs,
  sandboxed,
  sharedProbe,
  workspacePolicy,
} from './sandbox.ts';
export type {
  CapturedRequest,
  MockAnthropicServer,
  MockAnthropicService,
  Question,
  QuestionsService,
  StructuredOutputService,
  TaskRecord,
  TaskStatus,
  TasksService,
} from './services.ts';
export type {
  CompactionReport,
  LockHolder,
  SessionEvent,
  SessionResult,
  SessionRunOptions,
  SessionService,
  SessionSummary,
  UnlockReport,
} from './session.ts';
export {
  addPermissionRule,
  editSettings,
  type SettingsScope,
  settingLines,
  settingsPath,
} from './settings.ts';
export { pluginLines } from './status.ts';
export { transcript } from './transcript.ts';
export { SDK_VERSION } from './version.ts';

/**
 * Declares a plugin module. The plugin's identity (name, version, engines, what it contributes) lives in
 * its static `plugin.json`; this is its behaviour. `config` is a zod schema for `plugins.<name>.config`,
 * validated before `activate` runs.
 *
 * @example
 * ```ts
 * import { definePlugin } from '@icode/sdk';
 * import * as z from 'zod';
 *
 * export default definePlugin({
 *   config: z.object({ greeting: z.string().default('hello') }),
 *   activate(ctx) {
 *     ctx.log.info(ctx.config.greeting);
 *     ctx.onDispose(() => ctx.log.info('bye'));
 *   },
 * });
 * ```
 */
export function definePlugin<C extends z.ZodType = z.ZodType<Record<string, unknown>>>(
  definition: PluginDefinition<C>,
): PluginDefinition<C> {
  return definition;
}

/**
 * Declares a tool. Its `input` (a `z.object`) becomes the JSON Schema the model sees, and every call is
 * validated against it before `execute` runs. Invalid input, a permission denial or a thrown error all
 * become an `is_error` tool result the model can act on; a tool never crashes the session.
 *
 * @example
 * ```ts
 * import { defineTool, resolveReal } from '@icode/sdk';
 * import { readFile } from 'node:fs/promises';
 * import * as z from 'zod';
 *
 * export const cat = defineTool({
 *   name: 'cat',
 *   description: 'Prints a file',
 *   input: z.object({ path: z.string() }),
 *   mode: 'read-only',
 *   // What the permission gate judges: the file, resolved (symlinks too) from the session's folder.
 *   subjects: ({ path }, ctx) => ({ kind: 'path', values: [resolveReal(path, ctx.cwd)] }),
 *   execute: ({ path }, ctx) => readFile(resolveReal(path, ctx.cwd), 'utf8'),
 * });
 * ```
 */
export function defineTool<S extends z.ZodObject>(tool: Tool<S>): Tool<S> {
  if (!/^[a-zA-Z0-9_-]{1,64}$/.test(tool.name)) {
    throw new TypeError(`tool name "${tool.name}" must be 1-64 letters, digits, _ or -`);
  }
  return tool;
}

/**
 * Declares a slash command (`/name args`). What `run` returns is shown to the user.
 *
 * @example
 * ```ts
 * import { defineCommand } from '@icode/sdk';
 *
 * export const hello = defineCommand({
 *   name: 'hello',
 *   description: 'Says hello',
 *   run: (args) => `hello ${args || 'world'}`,
 * });
 * ```
 */
export function defineCommand(command: Command): Command {
  return command;
}
