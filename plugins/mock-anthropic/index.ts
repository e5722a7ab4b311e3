import { definePlugin } from '../../sdk/index.ts';
import { scenarioFolder } from './scenario.ts';
import { type MockServer, startMockServer } from './server.ts';

export default definePlugin({
  activate(ctx) {
    const servers = new Set<MockServer>();
    ctx.services.provide('mock-anthropic', {
      async start({ scenariosDir, port }) {
        const server = await startMockServer({
          scenarios: scenarioFolder(scenariosDir),
          ...(port ? { port } : {}),
        });
        servers.add(server);
        return server;
      },
    });
    ctx.onDispose(() => Promise.all([...servers].map((s) => s.close())));
  },
});
