import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Registry credentials on the client side, as the docker CLI keeps them: berth's own
 * `~/.berth/config.json` (or `$BERTH_CONFIG/config.json`), written by `berth login`, and the
 * docker CLI's `~/.docker/config.json` (or `$DOCKER_CONFIG/config.json`), read only. Both have
 * the same shape: `auths` (base64 `user:password` by server), `credsStore` (a helper for every
 * server) and `credHelpers` (a helper per server), a helper being `docker-credential-<name>`.
 */

export interface Credentials {
  username?: string;
  password?: string;
  identitytoken?: string;
  serveraddress: string;
}

interface ConfigFile {
  auths?: Record<
    string,
    { auth?: string; identitytoken?: string; username?: string; password?: string }
  >;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [key: string]: unknown;
}

/** The server key Docker Hub is stored under. */
export const hubServer = 'https://index.docker.io/v1/';

export function berthConfigPath(): string {
  const dir = process.env.BERTH_CONFIG ?? path.join(os.homedir(), '.berth');
  return path.join(dir, 'config.json');
}

export function dockerConfigPath(): string {
  const dir = process.env.DOCKER_CONFIG ?? path.join(os.homedir(), '.docker');
  return path.join(dir, 'config.json');
}

/**
 * The registry a reference names, as the config key: `busybox` → Docker Hub's key,
 * `127.0.0.1:5000/app:1` → `127.0.0.1:5000` (the first component is a registry when it has a
 * `.` or `:` or is `localhost`, as Docker decides).
 */
export function serverForReference(ref: string): string {
  const i = ref.indexOf('/');
  if (i < 0) return hubServer;
  const first = ref.slice(0, i);
  if (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)
    return hubServer;
  return normalizeServer(first);
}

/** `https://host:5000/v2/` → `host:5000`; Docker Hub's names → its key. */
export function normalizeServer(server: string | undefined): string {
  const s = (server ?? '').trim();
  if (s === '') return hubServer;
  const host = s.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
  if (['index.docker.io', 'docker.io', 'registry-1.docker.io'].includes(host)) return hubServer;
  return host;
}

async function readConfig(file: string): Promise<ConfigFile> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    return parsed !== null && typeof parsed === 'object' ? (parsed as ConfigFile) : {};
  } catch {
    throw new Error(`${file}: not valid JSON`);
  }
}

async function writeConfig(file: string, config: ConfigFile): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  const handle = await fs.open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(config, null, '\t')}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(tmp, file);
}

/** Runs `docker-credential-<helper> <action>` with `input` on stdin. */
function runHelper(
  helper: string,
  action: string,
  input: string,
): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(`docker-credential-${helper}`, [action], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
    child.stdin.end(input);
  });
}

async function fromHelper(helper: string, server: string): Promise<Credentials | undefined> {
  let r: { code: number; out: string };
  try {
    r = await runHelper(helper, 'get', server);
  } catch (err: unknown) {
    throw new Error(
      `error getting credentials - err: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (r.code !== 0) {
    if (/credentials not found/i.test(r.out)) return undefined;
    throw new Error(
      `error getting credentials - err: exit status ${r.code}, out: \`${r.out.trim()}\``,
    );
  }
  const body = JSON.parse(r.out) as { Username?: string; Secret?: string };
  if (!body.Username && !body.Secret) return undefined;
  if (body.Username === '<token>')
    return { identitytoken: body.Secret ?? '', serveraddress: server };
  return { username: body.Username ?? '', password: body.Secret ?? '', serveraddress: server };
}

function fromAuths(config: ConfigFile, server: string): Credentials | undefined {
  const auths = config.auths ?? {};
  for (const [key, entry] of Object.entries(auths)) {
    if (normalizeServer(key) !== server) continue;
    const out: Credentials = { serveraddress: server };
    if (entry.auth) {
      const plain = Buffer.from(entry.auth, 'base64').toString('utf8');
      const i = plain.indexOf(':');
      if (i < 0) continue;
      out.username = plain.slice(0, i);
      out.password = plain.slice(i + 1);
    } else if (entry.username) {
      out.username = entry.username;
      out.password = entry.password ?? '';
    }
    if (entry.identitytoken) out.identitytoken = entry.identitytoken;
    if (out.username !== undefined || out.identitytoken !== undefined) return out;
  }
  return undefined;
}

async function fromConfig(config: ConfigFile, server: string): Promise<Credentials | undefined> {
  const helper = config.credHelpers?.[server] ?? config.credsStore;
  if (helper) {
    const c = await fromHelper(helper, server);
    if (c) return c;
  }
  return fromAuths(config, server);
}

/** Credentials for `server` (a normalised key): berth's config first, then docker's. */
export async function lookupCredentials(server: string): Promise<Credentials | undefined> {
  for (const file of [berthConfigPath(), dockerConfigPath()]) {
    const c = await fromConfig(await readConfig(file), server);
    if (c) return c;
  }
  return undefined;
}

/** `X-Registry-Auth` for a request about `ref`, or undefined when anonymous. */
export async function registryAuthHeader(ref: string): Promise<Record<string, string>> {
  const server = serverForReference(ref);
  const c = await lookupCredentials(server);
  return { 'X-Registry-Auth': encodeAuth(c ?? { serveraddress: server }) };
}

export function encodeAuth(c: Credentials | Record<string, string>): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

/** Saves credentials to berth's config (through its credsStore helper when it names one). */
export async function storeCredentials(c: Credentials): Promise<string> {
  const file = berthConfigPath();
  const config = await readConfig(file);
  const helper = config.credHelpers?.[c.serveraddress] ?? config.credsStore;
  if (helper) {
    const r = await runHelper(
      helper,
      'store',
      JSON.stringify({
        ServerURL: c.serveraddress,
        Username: c.username ?? '<token>',
        Secret: c.password ?? c.identitytoken ?? '',
      }),
    );
    if (r.code !== 0) throw new Error(`error storing credentials - err: ${r.out.trim()}`);
    return file;
  }
  const auths = { ...(config.auths ?? {}) };
  const entry: { auth?: string; identitytoken?: string } = {};
  if (c.username !== undefined)
    entry.auth = Buffer.from(`${c.username}:${c.password ?? ''}`).toString('base64');
  if (c.identitytoken) entry.identitytoken = c.identitytoken;
  auths[c.serveraddress] = entry;
  await writeConfig(file, { ...config, auths });
  return file;
}

/** Removes the credentials for `server` from berth's config; false when there were none. */
export async function eraseCredentials(server: string): Promise<boolean> {
  const file = berthConfigPath();
  const config = await readConfig(file);
  const helper = config.credHelpers?.[server] ?? config.credsStore;
  let found = false;
  if (helper) {
    const r = await runHelper(helper, 'erase', server);
    found = r.code === 0;
  }
  const auths = { ...(config.auths ?? {}) };
  for (const key of Object.keys(auths)) {
    if (normalizeServer(key) === server) {
      delete auths[key];
      found = true;
    }
  }
  if (found) await writeConfig(file, { ...config, auths });
  return found;
}
