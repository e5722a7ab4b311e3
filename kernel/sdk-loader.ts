import { existsSync, readFileSync } from 'node:fs';
import { register } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SDK_VERSION } from '../sdk/version.ts';
import { ErrorCodes, IcodeError } from './errors.ts';
import { KERNEL_VERSION } from './host.ts';
import { semverSays } from './manifest.ts';

/** What a plugin imports the SDK as: the SDK's own package, or the CLI package's subpath of the same module. */
const SDK_SPECIFIERS = ['@icode/sdk', 'icode/sdk'];
/** Where the host leaves its SDK for the stand-in module below: one slot per host in the process. */
const SDK_SLOTS = 'icode.sdk';

/**
 * Module hooks run on a thread of their own, so they cannot hand over the SDK object: they resolve the
 * SDK's names to a stand-in module (`source`, from `initialize`) that runs on this thread and re-exports
 * the object the host left in its slot. Written as a data: URL, so the CLI bundle, the SDK's own build
 * and the sources all register the same hooks with no file to locate beside them.
 */
const HOOKS = `let specifiers, url, source, zodUrl, zodSource;
export function initialize(data) {
  ({ specifiers, url, source, zodUrl, zodSource } = data);
}
export async function resolve(specifier, context, next) {
  if (specifiers.includes(specifier)) return { url, shortCircuit: true };
  if (specifier !== 'zod') return next(specifier, context);
  // A plugin's own zod wins; one without any gets the host's, the zod its SDK schemas are made with.
  try {
    return await next(specifier, context);
  } catch {
    return { url: zodUrl, shortCircuit: true };
  }
}
export function load(href, context, next) {
  if (href === url) return { format: 'module', source, shortCircuit: true };
  if (href === zodUrl) return { format: 'module', source: zodSource, shortCircuit: true };
  return next(href, context);
}
`;

/**
 * The same resolution for a process of its own that has the SDK as a file rather than an object (the
 * install's dry load, which imports a plugin before anything is swapped): module hooks, as a data: URL to
 * `register`, that resolve the SDK's names to `sdkUrl` and give zod to a plugin that has none from `zodUrl`.
 */
export function sdkFileHooks(sdkUrl: string, zodUrl: string): string {
  return `data:text/javascript,${encodeURIComponent(`const specifiers = ${JSON.stringify(SDK_SPECIFIERS)};
export async function resolve(specifier, context, next) {
  if (specifiers.includes(specifier)) return { url: ${JSON.stringify(sdkUrl)}, shortCircuit: true };
  if (specifier !== 'zod') return next(specifier, context);
  try {
    return await next(specifier, context);
  } catch {
    return { url: ${JSON.stringify(zodUrl)}, shortCircuit: true };
  }
}
`)}`;
}

let provided: Promise<void> | undefined;

/**
 * Prepares the import of a plugin module that is not built in (a harness manifest's `path`, an installed
 * package): checks the SDK range its package declares, then makes `icode/sdk` resolve, for every module
 * from then on, to this host's own SDK module (as VS Code provides `vscode`), wherever the plugin lives and
 * whatever copy of icode its node_modules holds: its classes (IcodeError) and helpers are the very ones
 * the host checks against. A plugin without a zod of its own gets the host's. The hooks cost a loader thread (about 0.1 s on a busy two-core machine), paid
 * once, on the first such plugin: a run with built-ins only never registers them.
 */
export async function provideSdk(moduleUrl: string): Promise<void> {
  checkSdkRange(fileURLToPath(moduleUrl));
  provided ??= registerSdk();
  await provided;
}

async function registerSdk(): Promise<void> {
  // The SDK is built on the kernel, not the other way round; the host reaches up to it only here, to hand
  // plugins the instance its own built-ins use.
  const [sdk, zod] = await Promise.all([import('../sdk/index.ts'), import('zod')]);
  const shared = globalThis as Record<symbol, unknown[]>;
  shared[Symbol.for(SDK_SLOTS)] ??= [];
  const slots = shared[Symbol.for(SDK_SLOTS)]!;
  // A second host in the process (a test runner that evaluates modules again per file) gets a slot and a URL
  // of its own: the module map keeps the first stand-in, and the newest hooks run first.
  const slot = slots.push({ sdk, zod }) - 1;
  const at = `globalThis[Symbol.for(${JSON.stringify(SDK_SLOTS)})][${slot}]`;
  // Re-exports every name of the object, reserved words too (zod exports `catch`): `export { _0 as catch }`.
  const reexport = (key: 'sdk' | 'zod', o: object) => {
    const names = Object.keys(o).filter((name) => name !== 'default' && /^[A-Za-z_$][\w$]*$/.test(name));
    const locals = names.map((name, i) => `_${i} = o[${JSON.stringify(name)}]`).join(', ');
    const specs = names.map((name, i) => `_${i} as ${name}`).join(', ');
    return `const o = ${at}.${key};\nconst ${locals};\nexport { ${specs} };\n`;
  };
  const source = reexport('sdk', sdk);
  const zodSource = `${reexport('zod', zod)}export default o.default ?? o.z;\n`;
  register(`data:text/javascript,${encodeURIComponent(HOOKS)}`, {
    data: {
      specifiers: SDK_SPECIFIERS,
      url: `icode:sdk/${slot}`,
      source,
      zodUrl: `icode:zod/${slot}`,
      zodSource,
    },
  });
}

/**
 * A plugin states the SDK it was built against as a peer dependency on `@icode/sdk` (its own semver,
 * checked against the SDK this icode provides) or, as plugins written before the SDK was a package of its
 * own do, on `icode` (checked against the kernel's version), in its package.json: the nearest one above
 * its module (Node's own rule for which package a file belongs to). A range that excludes what this icode
 * provides is refused like an `engines.icode` range, at every load (icode may have been upgraded since
 * the install checked).
 */
function checkSdkRange(file: string): void {
  const pkg = nearestPackage(dirname(file));
  if (!pkg) return;
  let peers: Record<string, unknown>;
  try {
    peers =
      (JSON.parse(readFileSync(pkg, 'utf8')) as { peerDependencies?: Record<string, unknown> })
        .peerDependencies ?? {};
  } catch {
    // An unreadable package.json is Node's to report, when it imports the module.
    return;
  }
  const problem = sdkPeerProblem(peers);
  if (problem)
    throw new IcodeError(
      ErrorCodes.ENGINE_MISMATCH,
      `needs ${problem.what} ${problem.range} (peerDependencies in ${pkg}), this icode provides ${problem.provided}`,
      `use a version of the plugin whose peerDependencies["${problem.peer}"] includes ${problem.provided}`,
    );
}

/** What this icode provides to plugins, by the peer dependency names a plugin states it with. */
export const PROVIDED_SDK: Readonly<Record<string, string>> = {
  '@icode/sdk': SDK_VERSION,
  icode: KERNEL_VERSION,
};

/** The first SDK peer range (`@icode/sdk`, `icode`) that excludes what this icode provides, if any. */
export function sdkPeerProblem(
  peers: Record<string, unknown>,
): { peer: string; what: string; range: string; provided: string } | undefined {
  for (const [peer, provided] of Object.entries(PROVIDED_SDK)) {
    const range = peers[peer];
    if (typeof range !== 'string' || semverSays('satisfies', provided, range)) continue;
    return { peer, what: peer === 'icode' ? 'icode/sdk' : peer, range, provided };
  }
  return undefined;
}

function nearestPackage(dir: string): string | undefined {
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) return file;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}
