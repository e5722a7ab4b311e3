import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadScenarios } from '../plugins/mock-anthropic/scenario.ts';
import { type MockServer, startMockServer } from '../plugins/mock-anthropic/server.ts';
import { makeWorld, runCli, write } from './helpers.ts';

/**
 * Load: 20 headless sessions at once in one project, against one mock server, on a 2-core machine.
 * Each must finish with its own complete session file (BENCHMARKS.md has the time and memory it takes).
 */
const SESSIONS = 20;
const w = makeWorld();
let mock: MockServer;
beforeAll(async () => {
  const dir = join(w.root, 'scenarios');
  write(join(dir, 'load.json'), {
    name: 'load',
    steps: [
      { content: [{ type: 'tool_use', name: 'read_file', input: { path: 'README.md' } }] },
      { content: [{ type: 'text', text: 'Read: {{tool_results}}' }] },
    ],
  });
  write(join(w.project, 'README.md'), '# load test\n');
  mock = await startMockServer({ scenarios: loadScenarios(dir) });
});
afterAll(() => mock?.close());

describe('load', () => {
  test(`${SESSIONS} concurrent headless sessions in one project all complete, each with its own session file`, async () => {
    w.env.ANTHROPIC_BASE_URL = mock.url;
    w.env.ANTHROPIC_API_KEY = 'sk-load';
    const runs = await Promise.all(
      Array.from({ length: SESSIONS }, (_, i) =>
        runCli(['-p', `run ${i} of the load PARITY_SCENARIO:load`, '--output-format', 'json'], { world: w }),
      ),
    );
    const ids = new Set<string>();
    for (const [i, r] of runs.entries()) {
      expect(r.code, `${r.stderr}\n${r.stdout}`).toBe(0);
      const result = JSON.parse(r.stdout);
      expect(result.result).toContain('# load test');
      ids.add(result.session_id);
      // Each session file holds its own prompt, once, and its tool call's result: nothing mixed or lost.
      const folder = join(w.userDir, 'projects', readdirSync(join(w.userDir, 'projects'))[0]!);
      const log = readFileSync(join(folder, `${result.session_id}.jsonl`), 'utf8');
      const lines = log.trim().split('\n');
      for (const line of lines) JSON.parse(line);
      expect(log.split(`run ${i} of the load`).length - 1).toBe(1);
      for (let j = 0; j < SESSIONS; j++) if (j !== i) expect(log).not.toContain(`run ${j} of the load `);
      expect(log).toContain('"tool_result"');
    }
    expect(ids.size).toBe(SESSIONS);
    const folder = join(w.userDir, 'projects', readdirSync(join(w.userDir, 'projects'))[0]!);
    const files = readdirSync(folder);
    expect(files.filter((f) => f.endsWith('.jsonl'))).toHaveLength(SESSIONS);
    expect(files.filter((f) => f.endsWith('.lock'))).toEqual([]);
  }, 120_000);
});
