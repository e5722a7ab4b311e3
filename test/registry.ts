import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** A real npm registry (verdaccio) on loopback, holding only what a test publishes to it. */
export interface Registry {
  url: string;
  /**
   * What npm needs to use this registry alone: its URL, a token to publish with, and a cache of its own
   * (so nothing comes from another registry's cached packages).
   */
  env: Record<string, string>;
  /** `npm publish FOLDER` (lifecycle scripts off: a folder from node_modules is published as it is). */
  publish(folder: string): Promise<void>;
  stop(): void;
}

const root = join(import.meta.dirname, '..');

/**
 * Starts verdaccio in its own process on a free loopback port, with its storage in a temporary folder and
 * no uplink, and makes a user to publish with, as `npm adduser` would.
 */
export async function startRegistry(): Promise<Registry> {
  const home = mkdtempSync(join(tmpdir(), 'icode-verdaccio-'));
  const config = join(home, 'config.yaml');
  writeFileSync(
    config,
    [
      `storage: ${join(home, 'storage')}`,
      `auth: { htpasswd: { file: ${join(home, 'htpasswd')}, max_users: 10 } }`,
      'uplinks: {}',
      "packages: { '**': { access: $all, publish: $authenticated } }",
      // TypeScript's tarball is ~5 MB; the default limit is 10 MB of JSON-encoded (base64) body.
      'max_body_size: 100mb',
      'log: { type: stdout, format: pretty, level: error }',
      '',
    ].join('\n'),
  );
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as { port: number };
      probe.close(() => resolve(free));
    });
  });
  const url = `http://127.0.0.1:${port}/`;
  const verdaccio = spawn(
    process.execPath,
    [
      join(root, 'node_modules', 'verdaccio', 'bin', 'verdaccio'),
      '--config',
      config,
      '--listen',
      `127.0.0.1:${port}`,
    ],
    { stdio: 'ignore' },
  );
  const stop = () => verdaccio.kill();
  try {
    const exited = new Promise<never>((_, reject) =>
      verdaccio.once('exit', (code) => reject(new Error(`verdaccio exited (${code}) before it answered`))),
    );
    exited.catch(() => {});
    for (let i = 0; ; i++) {
      const up = await Promise.race([
        fetch(`${url}-/ping`).then(
          (r) => r.ok,
          () => false,
        ),
        exited,
      ]);
      if (up) break;
      if (i > 300) throw new Error('verdaccio did not answer within 30 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    const user = await fetch(`${url}-/user/org.couchdb.user:author`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'author', password: 'a-long-password' }),
    });
    const { token } = (await user.json()) as { token: string };
    const npmrc = join(home, 'npmrc');
    writeFileSync(npmrc, `registry=${url}\n//127.0.0.1:${port}/:_authToken=${token}\n`);
    const env = {
      npm_config_registry: url,
      npm_config_userconfig: npmrc,
      npm_config_cache: join(home, 'npm-cache'),
      npm_config_audit: 'false',
      npm_config_fund: 'false',
      npm_config_update_notifier: 'false',
    };
    return {
      url,
      env,
      publish: async (folder) => {
        await promisify(execFile)('npm', ['publish', folder, '--ignore-scripts'], {
          env: { ...process.env, ...env },
        });
      },
      stop,
    };
  } catch (error) {
    stop();
    throw error;
  }
}
