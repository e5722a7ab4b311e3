import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse } from 'jsonc-parser';
import semver from 'semver';
import {
  ErrorCodes,
  IcodeError,
  type InstalledPlugin,
  KERNEL_VERSION,
  type PluginManifest,
  readPluginFolder,
} from '../../kernel/index.ts';
import { sdkFileHooks, sdkPeerProblem } from '../../kernel/sdk-loader.ts';
import { hostPackages, type Staged } from './stage.ts';

/** How long importing a plugin's module may take in the dry load. */
const DRY_LOAD_MS = 30_000;
const SECRETS = ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN'];
const LOADED = 'icode-dry-load: ok';

/** Asks the user whether to accept capabilities; resolves false for no (or no answer). */
export type Consent = (question: string) => Promise<boolean>;

export interface VerifyOptions {
  /** The version installed now, if any: its accepted capabilities need no new consent. */
  previous?: InstalledPlugin;
  /** Capabilities accepted elsewhere: those an approved project lock lists for this plugin. */
  accepted?: string[];
  /** `--yes`: accept whatever the plugin asks for. */
  yes?: boolean;
  consent: Consent;
  packageRoot: string;
  /** How to run the same command again accepting the capabilities. */
  again: string;
}

/**
 * Checks a staged plugin before it replaces anything, in the order that runs no plugin code until the user
 * has accepted what it asks for: a valid plugin.json naming this package, `engines.icode`, the SDK (peer)
 * ranges, its files, its capabilities, then a dry load. Throws ICODE_ERR_INSTALL_REFUSED saying which check
 * failed and what would fix it.
 */
export async function verifyStaged(staged: Staged, o: VerifyOptions): Promise<PluginManifest> {
  const { name, folder } = staged;
  let who = name;
  const refuse = (message: string, fix: string) =>
    new IcodeError(ErrorCodes.INSTALL_REFUSED, `${who}: ${message}`, fix);
  let manifest: PluginManifest;
  try {
    manifest = readPluginFolder(folder).manifest;
  } catch (error) {
    throw refuse(
      `not a valid icode plugin: ${(error as Error).message}`,
      'ask its author to fix plugin.json',
    );
  }
  who = `${name}@${manifest.version}`;
  if (manifest.name !== name)
    throw refuse(
      `its plugin.json names plugin "${manifest.name}", but the package is "${name}"`,
      'ask its author to make plugin.json and package.json agree on the name',
    );
  if (!semver.satisfies(KERNEL_VERSION, manifest.engines.icode, { includePrerelease: true }))
    throw refuse(
      `needs icode ${manifest.engines.icode}, this is ${KERNEL_VERSION}`,
      `install a version of ${name} whose engines.icode includes ${KERNEL_VERSION} (npm view ${name} versions)`,
    );
  const { version: packaged } = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8')) as {
    version?: string;
  };
  if (packaged !== manifest.version)
    throw refuse(
      `its plugin.json says version ${manifest.version}, its package.json ${packaged ?? 'none'}`,
      `ask its author to keep the two in step (icode-sdk manifest, in a scaffolded plugin's build, copies package.json's version into plugin.json)`,
    );
  const peer = peerMismatch(folder, o.packageRoot);
  if (peer)
    throw refuse(
      peer.said,
      `install a version of ${name} whose peerDependencies["${peer.peer}"] includes ${peer.provided} (npm view ${name} peerDependencies)`,
    );
  const missing = missingFiles(folder, manifest);
  if (missing.length)
    throw refuse(
      `${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not in the package: it was published without its build`,
      `ask its author to publish ${name} with its build (package.json "files"), or install a version that has it`,
    );
  const accepted = [...(o.previous?.capabilities ?? []), ...(o.accepted ?? [])];
  const asked = manifest.capabilities.filter((c) => !accepted.includes(c));
  if (asked.length && !o.yes) {
    const what = `asks for ${asked.join(', ')}${o.previous ? `, which ${o.previous.version} did not` : ''} (beyond the permission gate, which its tools still go through)`;
    if (!(await o.consent(`${who}: ${what}. Accept? [y/N] `)))
      throw refuse(what, `review the plugin, then run ${o.again} --yes to accept`);
  }
  const failure = await dryLoad(folder, manifest, o.packageRoot);
  if (failure)
    throw refuse(
      `${manifest.main} ${failure}`,
      `ask its author to fix ${manifest.main}, or install another version`,
    );
  return manifest;
}

/**
 * The SDK check: a plugin states the SDK (`@icode/sdk`, or `icode` for plugins written before the SDK was
 * a package of its own) and zod it was built against as peer dependencies; the running icode provides
 * them, so a range that excludes them would fail at its first import.
 */
function peerMismatch(
  folder: string,
  packageRoot: string,
): { said: string; peer: string; provided: string } | undefined {
  const peers =
    (
      JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8')) as {
        peerDependencies?: Record<string, string>;
      }
    ).peerDependencies ?? {};
  const sdk = sdkPeerProblem(peers);
  if (sdk)
    return {
      said: `needs ${sdk.what} ${sdk.range} (peerDependencies), this icode provides ${sdk.provided}`,
      peer: sdk.peer,
      provided: sdk.provided,
    };
  const range = peers.zod;
  if (!range) return undefined;
  const zod = hostPackages(packageRoot).zod!;
  const { version } = JSON.parse(readFileSync(join(zod, 'package.json'), 'utf8')) as { version: string };
  if (!semver.validRange(range) || !semver.satisfies(version, range, { includePrerelease: true }))
    return {
      said: `needs zod ${range} (peerDependencies), this icode provides zod ${version}`,
      peer: 'zod',
      provided: version,
    };
  return undefined;
}

/**
 * Files the manifest points at that the package lacks: `main` (unless the plugin is command tools only and
 * does not name one: then it has no code) and the executables of its command tools.
 */
function missingFiles(folder: string, manifest: PluginManifest): string[] {
  const named =
    (parse(readFileSync(join(folder, 'plugin.json'), 'utf8')) as { main?: unknown }).main !== undefined;
  const files: Array<[file: string, role: string]> = [
    ...(named || !manifest.contributes.tools.some((t) => t.command)
      ? [[manifest.main, '"main"'] as [string, string]]
      : []),
    ...manifest.contributes.tools.flatMap((t) =>
      t.command?.startsWith('./') || t.command?.startsWith('../')
        ? [[t.command, `the command of tool ${t.name}`] as [string, string]]
        : [],
    ),
  ];
  return files
    .filter(([f]) => !isInside(resolve(folder, f), folder) || !existsSync(resolve(folder, f)))
    .map(([f, role]) => `${f} (${role})`);
}

const isInside = (file: string, dir: string) => {
  const rel = relative(dir, file);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..';
};

/**
 * Imports the plugin's module in a child process, as the host would, and checks its default export is a
 * plugin (has activate), without activating it. Returns why it failed, or undefined. A command-tools
 * plugin without code has nothing to load.
 */
/** The file `import PACKAGE` loads from a package folder: its exports' import condition, else `module` or `main`. */
function esmEntry(dir: string): string {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    exports?: { '.'?: { import?: unknown } };
    module?: string;
    main?: string;
  };
  const chosen = pkg.exports?.['.']?.import;
  return join(dir, typeof chosen === 'string' ? chosen : (pkg.module ?? pkg.main ?? 'index.js'));
}

function dryLoad(folder: string, manifest: PluginManifest, packageRoot: string): Promise<string | undefined> {
  const main = join(folder, manifest.main);
  if (!existsSync(main)) return Promise.resolve(undefined);
  // The plugin gets the SDK and zod as it will in icode: this icode's, whatever its node_modules hold.
  const hooks = sdkFileHooks(
    pathToFileURL(join(packageRoot, 'dist', 'sdk', 'index.js')).href,
    pathToFileURL(esmEntry(hostPackages(packageRoot).zod!)).href,
  );
  const script = `import { register } from 'node:module';
register(${JSON.stringify(hooks)});
let m;
try { m = await import(process.argv[1]); }
catch (e) { process.stderr.write(String(e instanceof Error ? e.message : e)); process.exit(2); }
if (typeof m.default?.activate !== 'function') process.exit(3);
process.stdout.write(${JSON.stringify(LOADED)});
process.exit(0);`;
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !SECRETS.includes(k)));
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', script, pathToFileURL(main).href],
      { cwd: folder, env, timeout: DRY_LOAD_MS, killSignal: 'SIGKILL', maxBuffer: 1024 * 1024 },
      (error, stdout, stderr) => {
        if (!error && stdout.endsWith(LOADED)) return done(undefined);
        const code = (error as { code?: unknown } | null)?.code;
        const killed = (error as { killed?: boolean } | null)?.killed;
        if (killed) return done(`did not finish loading within ${DRY_LOAD_MS / 1000} s`);
        if (code === 2) return done(`throws while loading: ${stderr.trim().slice(0, 1000)}`);
        if (code === 3) return done('does not export a plugin (default export with activate)');
        return done(
          `exited while loading (${code ?? 'no result'})${stderr.trim() ? `: ${stderr.trim().slice(0, 1000)}` : ''}`,
        );
      },
    );
  });
}
