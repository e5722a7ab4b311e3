import { join } from 'node:path';
import { expect, test } from 'vitest';
import { bootTestKernel } from '../../sdk/testing.ts';
import { builtinPlugins } from '../index.ts';

test('skills come from the project, the user and plugins; the model sees names and descriptions only', async () => {
  const h = await bootTestKernel({
    include: ['skills'],
    builtins: builtinPlugins,
    plugins: [join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'skills-plugin')],
    files: {
      '.icode/skills/deploy/SKILL.md':
        '---\ndescription: Deploy to staging\n---\nSECRET-BODY: run make deploy\n',
      '.icode/skills/broken/SKILL.md': 'no frontmatter at all\n',
    },
  });
  const { writeFileSync, mkdirSync } = await import('node:fs');
  mkdirSync(join(h.home, '.icode', 'skills', 'mine'), { recursive: true });
  writeFileSync(join(h.home, '.icode', 'skills', 'mine', 'SKILL.md'), '---\ndescription: Mine\n---\nx\n');
  await h.shutdown();
  // Booted again so the user's skill (written above) is found at activation.
  const again = await bootTestKernel({
    include: ['skills'],
    builtins: builtinPlugins,
    plugins: [join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'skills-plugin')],
    reuse: { home: h.home, project: h.project },
  });
  const names = (await again.kernel.services.get('skills')).list().map((s) => `${s.name} (${s.source})`);
  expect(names).toEqual(['deploy (project)', 'mine (user)', 'lint-fix (plugin skills-provider)']);
  const skill = (await again.kernel.tools.definitions()).find((d) => d.name === 'Skill')!;
  expect(skill.description).toContain('- deploy: Deploy to staging');
  expect(skill.description).toContain('- lint-fix: Fix lint errors');
  expect(skill.description).not.toContain('SECRET-BODY');
  const status = again.report.plugins.find((p) => p.name === 'skills')!;
  expect(status.state).toBe('degraded');
  expect(status.reason).toContain('broken/SKILL.md: the frontmatter needs a description');
  const loaded = await again.callTool('Skill', { skill: 'lint-fix' });
  expect(loaded.content).toContain('Run the linter with --fix first.');
  expect((await again.callTool('Skill', { skill: 'nope' })).content).toContain(
    'no skill "nope"; available: deploy, mine, lint-fix',
  );
  await again.shutdown();
});

test('without skills the Skill tool is not offered', async () => {
  const h = await bootTestKernel({ include: ['skills'], builtins: builtinPlugins });
  expect((await h.kernel.tools.definitions()).map((d) => d.name)).not.toContain('Skill');
  await h.shutdown();
});
