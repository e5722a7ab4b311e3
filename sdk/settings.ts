import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { applyEdits, findNodeAtLocation, modify, parseTree } from 'jsonc-parser';

export type SettingsScope = 'user' | 'project' | 'local';

/** The settings file of a scope: `~/.icode/settings.json`, `.icode/settings.json`, `.icode/settings.local.json`. */
export function settingsPath(scope: SettingsScope, projectRoot: string, userDir: string): string {
  if (scope === 'user') return join(userDir, 'settings.json');
  return join(projectRoot, '.icode', scope === 'local' ? 'settings.local.json' : 'settings.json');
}

/**
 * Sets (or, with `undefined`, removes) one key of a settings file, keeping its comments and formatting;
 * the file and its folder are created when missing. Returns whether the key was there before.
 */
export function editSettings(file: string, path: Array<string | number>, value: unknown): boolean {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '{}\n';
  const tree = parseTree(text);
  const had = tree ? findNodeAtLocation(tree, path) !== undefined : false;
  const edits = modify(text, path, value, { formattingOptions: { insertSpaces: true, tabSize: 2 } });
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, applyEdits(text, edits));
  return had;
}

/** Adds a permission rule (`Bash(npm test:*)`) to `permissions.allow|ask|deny` of a settings file, once. */
export function addPermissionRule(file: string, effect: 'allow' | 'ask' | 'deny', rule: string): boolean {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '{}\n';
  const node = parseTree(text);
  const list = node ? findNodeAtLocation(node, ['permissions', effect]) : undefined;
  const rules = (list?.children ?? []).map((c) => c.value as unknown);
  if (rules.includes(rule)) return false;
  editSettings(file, ['permissions', effect, rules.length], rule);
  return true;
}

/**
 * Settings as `key = value  (layer)` lines, leaves only (`icode config show`, `/config`); `skip` leaves
 * out keys shown another way (the permission rules).
 */
export function settingLines(
  settings: unknown,
  origins: Readonly<Record<string, string>>,
  skip: (key: string) => boolean = () => false,
): string[] {
  const lines: string[] = [];
  const walk = (value: unknown, path: string[]) => {
    if (value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length) {
      for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
      return;
    }
    const key = path.join('.');
    if (!skip(key)) lines.push(`${key} = ${JSON.stringify(value)}  (${origins[key] ?? 'defaults'})`);
  };
  walk(settings, []);
  return lines;
}
