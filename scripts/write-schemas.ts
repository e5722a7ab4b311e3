// Writes JSON Schemas for editors: settings files, plugin.json and harness manifests.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import { SettingsSchema } from '../kernel/config.ts';
import { HarnessManifestSchema, PluginManifestSchema } from '../kernel/manifest.ts';
import { ScenarioSchema } from '../plugins/mock-anthropic/scenario.ts';
import { ExpectSchema, RunSchema } from '../plugins/parity/schema.ts';

const out = process.argv[2] ?? 'schemas';
mkdirSync(out, { recursive: true });
const schemas: Record<string, z.ZodType> = {
  'settings.schema.json': SettingsSchema,
  'plugin.schema.json': PluginManifestSchema,
  'harness.schema.json': HarnessManifestSchema,
  // One file, two readers: the mock reads the steps, the parity runner reads run and expect.
  'scenario.schema.json': ScenarioSchema.extend({
    run: RunSchema.optional(),
    expect: ExpectSchema.optional(),
  }),
};
for (const [file, schema] of Object.entries(schemas)) {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
  writeFileSync(join(out, file), `${JSON.stringify(json, null, 2)}\n`);
}
