import type { ValidateFunction } from 'ajv';
import * as z from 'zod';
import { definePlugin, defineTool, type SessionInfo } from '../../sdk/index.ts';

const NAME = 'StructuredOutput';
const DESCRIPTION =
  'Give your final answer as JSON matching the required schema. Call this once you are done; if it reports errors, fix the JSON and call it again.';

export default definePlugin({
  config: z.strictObject({
    /** How many times the model is sent back when it ends without a valid StructuredOutput call. */
    retries: z.number().int().min(0).max(5).default(2),
  }),
  activate(ctx) {
    const sessions = new Map<
      string,
      { validate: ValidateFunction; schema: Record<string, unknown>; value?: { value: unknown } }
    >();
    // The API wants an object schema for tool input; any other schema is wrapped in { "value": … }.
    const wrapped = (schema: Record<string, unknown>) => schema.type === 'object';

    // A session asks for structured output through its info (the tool list is built before it starts).
    // ajv loads only for a run that asks for structured output.
    const state = async (session: SessionInfo | undefined) => {
      if (!session?.jsonSchema) return undefined;
      let s = sessions.get(session.id);
      if (!s) {
        const { compileSchema } = await import('./schema.ts');
        s = { validate: compileSchema(session.jsonSchema, '--json-schema'), schema: session.jsonSchema };
        sessions.set(session.id, s);
      }
      return s;
    };
    ctx.hooks.sessionStart.tap(async (session) => {
      await state(session);
    });
    ctx.hooks.toolDefinitions.tap(async (defs, session) => {
      const s = await state(session);
      const rest = defs.filter((d) => d.name !== NAME);
      if (!s) return rest;
      const schema = wrapped(s.schema)
        ? s.schema
        : { type: 'object', properties: { value: s.schema }, required: ['value'] };
      return [...rest, { name: NAME, description: DESCRIPTION, input_schema: schema }];
    });
    ctx.hooks.stop.tap(async ({ session, continuations }) => {
      const s = await state(session);
      if (!s || s.value || continuations >= ctx.config.retries) return undefined;
      return {
        continueWith: `You have not given the final answer through the ${NAME} tool yet. Call ${NAME} with JSON that matches the schema.`,
      };
    });

    ctx.tools.register(
      defineTool({
        name: NAME,
        description: DESCRIPTION,
        input: z.looseObject({}),
        inputSchema: { type: 'object' },
        mode: 'read-only',
        execute(input, tctx) {
          const s = tctx.sessionId ? sessions.get(tctx.sessionId) : undefined;
          if (!s)
            throw new Error(
              `${NAME} is only available when the run asks for structured output (--json-schema)`,
            );
          const value = wrapped(s.schema) ? input : (input as { value?: unknown }).value;
          if (!s.validate(value)) {
            const errors = (s.validate.errors ?? []).map(
              (e) =>
                `${e.instancePath || '(root)'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`,
            );
            throw new Error(
              `the JSON does not match the schema:\n${errors.join('\n')}\nFix it and call ${NAME} again.`,
            );
          }
          s.value = { value };
          return 'Structured output accepted. You are done: end your turn.';
        },
      }),
    );
    ctx.services.provide('structured-output', { get: (id) => sessions.get(id)?.value });
  },
});
