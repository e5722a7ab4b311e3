import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import * as z from 'zod';
import { PluginManifestSchema } from '../kernel/index.ts';

test('docs/plugins.md documents every key of the plugin manifest schema', () => {
  const doc = readFileSync(join(import.meta.dirname, '..', 'docs', 'plugins.md'), 'utf8');
  const schema = z.toJSONSchema(PluginManifestSchema, { io: 'input', unrepresentable: 'any' }) as {
    properties: Record<string, { properties?: Record<string, unknown> }>;
  };
  const keys = [
    ...Object.keys(schema.properties).filter(
      (k) => k !== '$schema' && k !== 'engines' && k !== 'contributes',
    ),
    'engines.icode',
    ...Object.keys(schema.properties.contributes?.properties ?? {}).map((k) => `contributes.${k}`),
  ];
  const missing = keys.filter((k) => !doc.includes(`\`${k}\``) && !doc.includes(`\`${k}[]\``));
  expect(keys.length).toBeGreaterThan(15);
  expect(missing).toEqual([]);
});
