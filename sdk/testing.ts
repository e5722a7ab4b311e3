/**
 * A small kit for plugin authors: boot a real kernel with your plugin folder(s) in a temporary project,
 * call tools through the full contract (validation, permission gate, hooks), and shut down.
 *
 * @example
 * ```ts
 * import { bootTestKernel } from '@icode/sdk/testing';
 * import { expect, test } from 'vitest';
 *
 * test('shout upper-cases', async () => {
 *   const h = await bootTestKernel({ plugins: [new URL('..', import.meta.url).pathname] });
 *   const result = await h.callTool('shout', { text: 'hi' });
 *   expect(result.content).toBe('HI');
 *   await h.shutdown();
 * });
 * ```
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Settings } from '../kernel/config.ts';
import type { BuiltinPlugin } from '../kernel/host.ts';
import { type BootReport, Kernel } from '../kernel/kernel.ts';
import { loadHarnessManifest } from '../kernel/manifest.ts';
import type { PermissionMode, ToolResult } from '../kernel/types.ts';

export interface TestKernelOptions {
  /** Plugin folders (each with a plugin.json), booted in this order. */
  plugins?: string[];
  /** Built-in plugins to include by name (needs `builtins`). */
  include?: string[];
  builtins?: BuiltinPlugin[];
  /** Project settings, written to `<project>/.icode/settings.json`. */
  settings?: Settings;
  /** Files to create in the project folder, path → content. */
  files?: Record<string, string>;
  mode?: PermissionMode;
  /** Environment variables the plugins see (`ctx.env`), e.g. ANTHROPIC_BASE_URL. */
  env?: Record<string, string>;
  /** Boot again in the HOME and project of an earlier test kernel (what a user's second run sees). */
  reuse?: { home: string; project: string };
}

export interface TestKernel {
  kernel: Kernel;
  report: BootReport;
  project: string;
  home: string;
  callTool(name: string, input: unknown): Promise<ToolResult>;
  shutdown(): Promise<void>;
}

let counter = 0;

/**
 * Boots a kernel in a fresh temporary HOME and project folder, with the given plugin folders, settings
 * and files. Tool calls go through the whole contract: input validation, the permission gate, hooks.
 *
 * @example
 * ```ts
 * const h = await bootTestKernel({ plugins: ['./my-plugin'], files: { 'a.txt': 'hi' }, mode: 'workspace-write' });
 * expect(h.report.plugins[0]?.state).toBe('active');
 * expect((await h.callTool('my_tool', { path: 'a.txt' })).isError).toBe(false);
 * await h.shutdown();
 * ```
 */
export async function bootTestKernel(options: TestKernelOptions = {}): Promise<TestKernel> {
  const root = options.reuse ? join(options.reuse.project, '..') : mkdtempSync(join(tmpdir(), 'icode-test-'));
  const home = options.reuse?.home ?? join(root, 'home');
  const project = options.reuse?.project ?? join(root, 'project');
  mkdirSync(join(project, '.icode'), { recursive: true });
  mkdirSync(home, { recursive: true });
  if (options.settings)
    writeFileSync(join(project, '.icode', 'settings.json'), JSON.stringify(options.settings, null, 2));
  for (const [path, content] of Object.entries(options.files ?? {})) {
    mkdirSync(join(project, path, '..'), { recursive: true });
    writeFileSync(join(project, path), content);
  }
  const manifestFile = join(root, 'harness.json');
  const entries = [
    ...(options.include ?? []).map((name) => ({ name })),
    ...(options.plugins ?? []).map((path, i) => ({ name: nameAt(path, i), path })),
  ];
  writeFileSync(manifestFile, JSON.stringify({ name: 'test', plugins: entries }, null, 2));
  const kernel = await Kernel.create({
    cwd: project,
    home,
    env: {
      // PATH so plugins find the programs they run (rg, bash, language servers); HOME is the temp one.
      ...(process.env.PATH ? { PATH: process.env.PATH } : {}),
      HOME: home,
      ICODE_CONFIG_DIR: join(home, '.icode'),
      ...(options.mode ? { ICODE_PERMISSION_MODE: options.mode } : {}),
      ...options.env,
    },
    manifest: loadHarnessManifest(manifestFile),
    builtins: options.builtins ?? [],
    log: () => {},
  });
  const report = await kernel.boot();
  return {
    kernel,
    report,
    project,
    home,
    callTool: (name, input) => kernel.callTool({ id: `toolu_test_${++counter}`, name, input }),
    shutdown: () => kernel.shutdown(),
  };
}

// The manifest entry needs the plugin's name; an unreadable plugin.json is reported by the kernel itself.
function nameAt(path: string, index: number): string {
  try {
    return (JSON.parse(readFileSync(join(path, 'plugin.json'), 'utf8')) as { name: string }).name;
  } catch {
    return `plugin-${index}`;
  }
}
