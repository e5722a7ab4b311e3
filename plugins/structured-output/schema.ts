import { Ajv, type ValidateFunction } from 'ajv';
import { ErrorCodes, IcodeError } from '../../sdk/index.ts';

/** Compiles a JSON Schema, or says what is wrong with it (for --json-schema FILE). */
export function compileSchema(schema: unknown, where: string): ValidateFunction {
  try {
    return new Ajv({ allErrors: true, strict: false }).compile(schema as object);
  } catch (error) {
    throw new IcodeError(
      ErrorCodes.CONFIG_INVALID,
      `${where} is not a valid JSON Schema: ${error instanceof Error ? error.message : error}`,
      'fix the schema (see https://json-schema.org), e.g. { "type": "object", "properties": { … }, "required": [ … ] }',
    );
  }
}
