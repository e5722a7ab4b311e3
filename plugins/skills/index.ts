import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import { definePlugin, defineTool, enabledClaudePlugins, parseFrontmatter } from '../../sdk/index.ts';

export interface Skill {
  name: string;
  description: string;
  /** The folder holding SKILL.md and whatever it refers to. */
  dir: string;
  source: string;
}

/** The `skills` service: the skills found, and a way for other plugins to add theirs. */
export interface SkillsService {
  list(): Skill[];
  /** Adds every `<dir>/<name>/SKILL.md` (a plugin's own skills folder); problems are returned. */
  addFolder(dir: string, source: string): string[];
}

declare module '../../kernel/registries.ts' {
  interface Services {
    skills: SkillsService;
  }
}

/** Reads the skills of a folder: each subfolder with a SKILL.md whose frontmatter has a description. */
export function readSkills(dir: string, source: string, problems: string[]): Skill[] {
  if (!existsSync(dir)) return [];
  const out: Skill[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const folder = join(dir, entry);
    const file = join(folder, 'SKILL.md');
    if (!statSync(folder).isDirectory() || !existsSync(file)) continue;
    try {
      const { data } = parseFrontmatter(readFileSync(file, 'utf8'), file);
      const name = typeof data.name === 'string' ? data.name : entry;
      if (typeof data.description !== 'string' || !data.description.trim()) {
        problems.push(`${file}: the frontmatter needs a description (when the model should use this skill)`);
        continue;
      }
      if (!/^[a-zA-Z0-9_:.-]{1,64}$/.test(name)) {
        problems.push(`${file}: the name "${name}" may only have letters, digits, _ . : and -`);
        continue;
      }
      out.push({ name, description: data.description.trim(), dir: folder, source });
    } catch (error) {
      problems.push(error instanceof Error ? error.message : String(error));
    }
  }
  return out;
}

export default definePlugin({
  config: z.strictObject({}),
  activate(ctx) {
    const problems: string[] = [];
    const skills = new Map<string, Skill>();
    const add = (found: Skill[]) => {
      for (const s of found) if (!skills.has(s.name)) skills.set(s.name, s);
    };
    // The project's skills win over the user's, which win over plugins' (first one of a name stays).
    add(readSkills(join(ctx.projectRoot, '.icode', 'skills'), 'project', problems));
    add(readSkills(join(ctx.projectRoot, '.claude', 'skills'), 'project', problems));
    add(readSkills(join(ctx.userDir, 'skills'), 'user', problems));
    // A Claude Code plugin's skills are `plugin:skill`, as Claude Code names them.
    // (One that cannot be read is reported by the commands plugin, once.)
    for (const p of enabledClaudePlugins(ctx).plugins)
      for (const dir of p.parts.skills)
        add(readSkills(dir, p.source, problems).map((s) => ({ ...s, name: `${p.record.name}:${s.name}` })));
    const health = () =>
      problems.length
        ? ctx.health.degraded(`skills: ${problems.join('; ')}`, 'fix the SKILL.md files named')
        : ctx.health.ok();
    health();

    const description = () =>
      `Load a skill: instructions (and files) for a kind of task. Use one when the task matches its description; its SKILL.md comes back with the folder it lives in.\n\nAvailable skills:\n${[
        ...skills.values(),
      ]
        .map((s) => `- ${s.name}: ${s.description}`)
        .join('\n')}`;
    // Only names and descriptions go to the model, in the tool's description, and only when there are skills.
    ctx.hooks.toolDefinitions.tap(async (defs) =>
      skills.size
        ? defs.map((d) => (d.name === 'Skill' ? { ...d, description: description() } : d))
        : defs.filter((d) => d.name !== 'Skill'),
    );
    ctx.tools.register(
      defineTool({
        name: 'Skill',
        description: 'Load a skill by name (see the list of available skills).',
        input: z.object({
          skill: z.string().min(1).describe('The skill name, as listed'),
          args: z.string().optional().describe('What you want to do with it, if it takes input'),
        }),
        mode: 'read-only',
        concurrencySafe: true,
        execute({ skill, args }) {
          const s = skills.get(skill);
          if (!s)
            throw new Error(`no skill "${skill}"; available: ${[...skills.keys()].join(', ') || 'none'}`);
          const file = join(s.dir, 'SKILL.md');
          const { body } = parseFrontmatter(readFileSync(file, 'utf8'), file);
          return `Skill "${s.name}" (${s.source}). Base directory: ${s.dir}\nFiles it mentions are relative to that folder.\n\n${body.trim()}${args ? `\n\nInput: ${args}` : ''}`;
        },
      }),
    );
    ctx.services.provide('skills', {
      list: () => [...skills.values()],
      addFolder: (dir, source) => {
        const found: string[] = [];
        add(readSkills(dir, source, found));
        problems.push(...found);
        health();
        return found;
      },
    });
  },
});
