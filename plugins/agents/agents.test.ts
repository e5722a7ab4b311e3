import { expect, test } from 'vitest';
import { bootTestKernel } from '../../sdk/testing.ts';
import { builtinPlugins } from '../index.ts';

test('custom agents from the project and the user are offered with the built-in ones; a bad file degrades with its path', async () => {
  const h = await bootTestKernel({
    include: ['session', 'agents'],
    builtins: builtinPlugins,
    files: {
      '.icode/agents/reviewer.md':
        '---\nname: reviewer\ndescription: Reviews a diff for bugs\ntools: read_file, grep_search\nmodel: haiku\npermissionMode: read-only\n---\nReview like a senior engineer.\n',
      '.icode/agents/explore.md':
        '---\ndescription: The project explores its own way\n---\nUse the map in docs/.\n',
      '.icode/agents/bad.md': '---\ndescription: x\npermissionMode: yolo\n---\n',
    },
  });
  const agent = (await h.kernel.tools.definitions()).find((d) => d.name === 'Agent')!;
  expect(agent.description).toContain('- general: General-purpose');
  expect(agent.description).toContain('- reviewer: Reviews a diff for bugs');
  expect(agent.description).toContain('- explore: The project explores its own way');
  const status = h.report.plugins.find((p) => p.name === 'agents')!;
  expect(status.state).toBe('degraded');
  expect(status.reason).toMatch(/bad\.md: permissionMode "yolo" is not one of/);
  const unknown = await h.callTool('Agent', { description: 'x', prompt: 'y', subagent_type: 'nope' });
  expect(unknown.isError).toBe(true);
  expect(unknown.content).toContain('no agent type "nope"; available: general, explore, plan, reviewer');
  await h.shutdown();
});

test("an agent's tools list keeps rules with spaces whole, like a command's allowed-tools", async () => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { loadAgents } = await import('./index.ts');
  const dir = mkdtempSync(join(tmpdir(), 'icode-agents-'));
  writeFileSync(join(dir, 'diff.md'), '---\ndescription: d\ntools: read_file, Bash(git diff:*)\n---\nx\n');
  const problems: string[] = [];
  expect(loadAgents(dir, 'project', problems)[0]?.tools).toEqual(['read_file', 'Bash(git diff:*)']);
  expect(problems).toEqual([]);
});
