import type { ResolvedConfig } from './config.ts';
import { type ErrorCode, ErrorCodes } from './errors.ts';
import { didYouMean, nearest, type Problem } from './json.ts';

export { didYouMean, nearest };

import type { PluginManifest } from './manifest.ts';
import type { PluginStatus } from './types.ts';

/** A plugin of the harness as the checks see it: its state and, when it could be read, its manifest. */
export interface PluginFacts {
  manifest?: PluginManifest;
  status: PluginStatus;
}

type Switch = 'tools' | 'commands' | 'hooks';
const NOUN: Record<Switch, string> = { tools: 'tool', commands: 'command', hooks: 'hook' };

/** The names of a kind a manifest declares, with aliases, and the prefixes of names only known at run time. */
function declaredBy(
  m: PluginManifest,
  kind: Switch,
): { names: string[]; aliases: Map<string, string>; prefixes: string[] } {
  const c = m.contributes;
  if (kind === 'tools') {
    const aliases = new Map(c.tools.flatMap((t) => (t.aliases ?? []).map((a) => [a, t.name] as const)));
    return { names: c.tools.map((t) => t.name), aliases, prefixes: c.dynamicTools };
  }
  if (kind === 'commands')
    return { names: c.commands.map((x) => x.name), aliases: new Map(), prefixes: c.dynamicCommands };
  return { names: c.hooks, aliases: new Map(), prefixes: [] };
}

const matchesPrefix = (name: string, prefixes: string[]) =>
  prefixes.some((p) => p === '*' || name.startsWith(p));

/**
 * What the `plugins` settings say that nothing will honour, as warnings located at the key: a plugin name
 * no harness entry, built-in or installed plugin has (with the nearest one), and a tool, command or hook
 * switch naming something its plugin does not contribute (with the plugin that does, or the nearest name).
 */
export function settingsWarnings(
  config: Pick<ResolvedConfig, 'settings' | 'locate'>,
  harness: readonly PluginFacts[],
  known: readonly string[],
): Problem[] {
  const warnings: Problem[] = [];
  const byName = new Map<string, PluginFacts>();
  // A duplicate entry is failed on its own; the first one is the plugin.
  for (const p of harness) if (!byName.has(p.status.name)) byName.set(p.status.name, p);
  const warn = (path: string[], message: string) => warnings.push({ message, location: config.locate(path) });
  for (const [name, settings] of Object.entries(config.settings.plugins)) {
    const plugin = byName.get(name);
    if (!plugin) {
      // Settings are shared by every harness: a plugin that exists but is not in this one is not a mistake.
      if (!known.includes(name))
        warn(
          ['plugins', name],
          `no plugin "${name}" in this harness, built in or installed${didYouMean(name, [...byName.keys(), ...known])}`,
        );
      continue;
    }
    const m = plugin.manifest;
    if (!m) continue;
    for (const kind of ['tools', 'commands', 'hooks'] as const) {
      const items = Object.keys(settings[kind] ?? {});
      // Most plugins' settings switch nothing: what they declare is looked at only when something is.
      if (!items.length) continue;
      const own = declaredBy(m, kind);
      for (const item of items) {
        if (own.names.includes(item) || matchesPrefix(item, own.prefixes)) continue;
        const path = ['plugins', name, kind, item];
        const canonical = own.aliases.get(item);
        if (canonical) {
          warn(path, `${item} is an alias of ${canonical}: use plugins.${name}.${kind}.${canonical}`);
          continue;
        }
        const owner = [...byName.values()].find((p) => {
          if (!p.manifest || p === plugin) return false;
          const other = declaredBy(p.manifest, kind);
          return other.names.includes(item) || other.aliases.has(item) || matchesPrefix(item, other.prefixes);
        });
        if (owner?.manifest) {
          const target = declaredBy(owner.manifest, kind).aliases.get(item) ?? item;
          warn(
            path,
            `${item} belongs to plugin ${owner.status.name}: use plugins.${owner.status.name}.${kind}.${target}`,
          );
          continue;
        }
        const near = didYouMean(item, own.names);
        const listed = own.names.length ? ` (it has: ${own.names.join(', ')})` : ` (it has no ${kind})`;
        warn(path, `plugin "${name}" has no ${NOUN[kind]} "${item}"${near || listed}`);
      }
    }
  }
  return warnings;
}

/** Something about the harness as a whole that will stop it from working, with what to do. */
export interface HarnessProblem {
  code: ErrorCode;
  message: string;
  fix: string;
}

const LIVE = new Set<PluginStatus['state']>(['active', 'degraded']);

/**
 * Problems of the composition rather than of one plugin: a harness that runs sessions (a plugin provides
 * the `session` service) needs a plugin providing the `model` service, or every prompt fails at its first
 * model request.
 */
export function harnessProblems(harness: readonly PluginFacts[], manifestFile: string): HarnessProblem[] {
  const provides = (service: string) =>
    harness.filter((p) => p.manifest?.contributes.services.includes(service));
  const sessions = provides('session').find((p) => LIVE.has(p.status.state));
  if (!sessions) return [];
  const models = provides('model');
  if (models.some((p) => LIVE.has(p.status.state))) return [];
  const down = models[0];
  if (down) {
    return [
      {
        code: ErrorCodes.SERVICE_MISSING,
        message: `the "model" service's plugin ${down.status.name} is ${down.status.state}, so ${sessions.status.name} cannot send a prompt to a model`,
        fix: `fix or enable ${down.status.name} (see its entry)`,
      },
    ];
  }
  return [
    {
      code: ErrorCodes.SERVICE_MISSING,
      message: `no plugin provides the "model" service, so ${sessions.status.name} cannot send a prompt to a model`,
      fix: `add "anthropic" to "plugins" in ${manifestFile} (or a plugin that provides "model")`,
    },
  ];
}
