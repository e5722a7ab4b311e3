import { describe, expect, test } from 'vitest';
import { costOf, resolveModel } from './models.ts';

describe('models', () => {
  test('aliases resolve to current ids; other names pass through', () => {
    expect(resolveModel('opus')).toBe('claude-opus-5-5');
    expect(resolveModel('sonnet')).toBe('claude-sonnet-5-5');
    expect(resolveModel('haiku')).toBe('claude-haiku-4-5');
    expect(resolveModel('claude-opus-4-1-20250805')).toBe('claude-opus-4-1-20250805');
  });

  test('cost counts input, output, cache writes (1.25x) and cache reads (0.1x) at the model price', () => {
    const usage = {
      input_tokens: 1e6,
      output_tokens: 1e6,
      cache_creation_input_tokens: 1e6,
      cache_read_input_tokens: 1e6,
    };
    expect(costOf('claude-sonnet-5-5', usage)).toBeCloseTo(2 + 10 + 2.5 + 0.2);
    expect(costOf('claude-opus-5-5', usage)).toBeCloseTo(4 + 20 + 5 + 0.4);
    expect(costOf('claude-opus-4-1-20250805', usage)).toBeCloseTo(15 + 75 + 18.75 + 1.5);
    expect(
      costOf('claude-haiku-4-5', { ...usage, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 }),
    ).toBeCloseTo(6);
    expect(costOf('some-proxy-model', usage)).toBe(0);
  });
});
