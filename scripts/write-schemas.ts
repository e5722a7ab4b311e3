// Writes JSON Schemas for editors: settings files, plugin.json and harness manifests.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import { SettingsSchema } from '../kernel/config.ts';
import { HarnessManifestSchema, PluginManifestSchema } from '../kernel/manifest.ts';
import { ScenarioSchema } from '../plugins/mock-anthropic/scenario.ts';

const out = process.argv[2] ?? 'schemas';
mkdirSync(out, { recursive: true });
const schemas: Record<string, z.ZodType> = {
  'settings.schema.json': SettingsSchema,
  'plugin.schema.json': PluginManifestSchema,
  'harness.schema.json': HarnessManifestSchema,
  'scenario.schema.json': ScenarioSchema,
};
for (const [file, schema] of Object.entries(schemas)) {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
  writeFileSync(join(out, file), `${JSON.stringify(json, null, 2)}\n`);
}
