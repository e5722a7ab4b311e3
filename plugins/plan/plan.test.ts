import { expect, test } from 'vitest';
import { bootTestKernel } from '../../sdk/testing.ts';
import { builtinPlugins } from '../index.ts';

test('ExitPlanMode outside plan mode is not asked and changes nothing; in plan mode it is always asked', async () => {
  const h = await bootTestKernel({ include: ['plan'], builtins: builtinPlugins, mode: 'workspace-write' });
  expect((await h.callTool('ExitPlanMode', { plan: 'x' })).content).toBe('Not in plan mode; go ahead.');
  await h.shutdown();
  const planning = await bootTestKernel({ include: ['plan'], builtins: builtinPlugins, mode: 'plan' });
  const r = await planning.callTool('ExitPlanMode', { plan: '1. do it' });
  // Headless, no one can approve: denied, with the plan in the question.
  expect(r.isError).toBe(true);
  expect(r.content).toContain('approve this plan and leave plan mode?');
  expect(r.content).toContain('1. do it');
  await planning.shutdown();
});
