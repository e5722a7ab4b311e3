import { expect, test } from 'vitest';
import { bootTestKernel } from '../../sdk/testing.ts';
import { builtinPlugins } from '../index.ts';

test('without pwsh the plugin is degraded with how to install it, offers no tool, and the rest runs', async () => {
  const h = await bootTestKernel({
    include: ['powershell', 'file-tools'],
    builtins: builtinPlugins,
    settings: { plugins: { powershell: { config: { pwshPath: 'icode-no-such-pwsh' } } } },
    files: { 'a.txt': 'x' },
  });
  const status = h.report.plugins.find((p) => p.name === 'powershell')!;
  expect(status.state).toBe('degraded');
  expect(status.reason).toBe('PowerShell is off: icode-no-such-pwsh was not found');
  expect(status.fix).toContain('apt install powershell');
  expect(h.kernel.tools.names()).not.toContain('PowerShell');
  expect((await h.callTool('read_file', { path: 'a.txt' })).isError).toBe(false);
  await h.shutdown();
});
