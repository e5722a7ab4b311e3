// node-fetch as one CommonJS file (dist/node-fetch.cjs) for the Anthropic SDK. Node's built-in fetch
// (undici) costs ~90 ms on its first request and its keep-alive socket holds the process open after the
// reply; node-fetch runs on node:http (see BENCHMARKS.md). tr46 requires Node's deprecated `punycode`
// module; the build aliases it to the npm package of the same code, so Node 21+ prints no warning.
export { default } from 'node-fetch';
