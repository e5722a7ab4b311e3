// The mock Anthropic API as a test fixture: a real server on loopback playing scripted scenarios. Plugin
// tests import it from here rather than from the mock-anthropic plugin's folder, which no other plugin's
// files may reach into (test/plugin-boundaries.test.ts).
export { loadScenarios } from '../plugins/mock-anthropic/scenario.ts';
export { type MockServer, startMockServer } from '../plugins/mock-anthropic/server.ts';
