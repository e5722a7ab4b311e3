// The Anthropic SDK as one CommonJS file (dist/anthropic-sdk.cjs), so the built CLI loads it through the
// same V8 code cache as itself instead of resolving and compiling its hundreds of ES modules each run.
export * from '@anthropic-ai/sdk';
export { default } from '@anthropic-ai/sdk';
