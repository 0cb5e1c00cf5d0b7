import { Readable } from 'node:stream';
import { BuildStepError, type BuildMessage, type BuildRequest } from '../build/build.js';
import { InvalidArgumentError, NotImplementedError } from '../errors/index.js';
import type { Router } from './router.js';
import type { Exchange } from './exchange.js';
import type { Services } from './server.js';
import { qBool, qString } from './params.js';
import { maxSecretSize, maxSecretsPerBuild, wipeSecrets } from '../build/secrets.js';
import { jsonLine } from './streams.js';
import { sendError } from './server.js';

/** A JSON object query parameter of string (or null) values: `buildargs`, `labels`. */
function qJsonMap(ex: Exchange, name: string): Record<string, string | null> {
  const raw = qString(ex, name);
  if (raw === undefined) return {};
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (cause) {
    throw new InvalidArgumentError(`invalid ${name}: ${(cause as Error).message}`, { cause });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new InvalidArgumentError(`invalid ${name}: expected a JSON object`);
  }
  const out: Record<string, string | null> = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (val !== null && typeof val !== 'string') {
      throw new InvalidArgumentError(`invalid ${name}: ${k} is not a string`);
    }
    out[k] = val;
  }
  return out;
}

function qJsonList(ex: Exchange, name: string): string[] {
  const raw = qString(ex, name);
  if (raw === undefined) return [];
  try {
    const v: unknown = JSON.parse(raw);
    if (Array.isArray(v) && v.every((x): x is string => typeof x === 'string')) return v;
  } catch {
    // A plain value is a one-element list, as some clients send it.
  }
  return [raw];
}

/** The request as `POST /build` query parameters give it (dockerd's classic builder). */
export function buildRequestOf(ex: Exchange): BuildRequest {
  if (qString(ex, 'version') === '2') {
    throw new NotImplementedError('BuildKit (version=2) is not supported: use the classic builder');
  }
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(qJsonMap(ex, 'labels'))) labels[k] = v ?? '';
  const extraHosts = ex.query
    .getAll('extrahosts')
    .flatMap((h) => h.split(','))
    .filter((h) => h !== '');
  const req: BuildRequest = {
    tags: ex.query.getAll('t').filter((t) => t !== ''),
    dockerfile: qString(ex, 'dockerfile') ?? 'Dockerfile',
    buildArgs: qJsonMap(ex, 'buildargs'),
    labels,
    target: qString(ex, 'target') ?? '',
    noCache: qBool(ex, 'nocache'),
    pull: qBool(ex, 'pull'),
    quiet: qBool(ex, 'q'),
    networkMode: qString(ex, 'networkmode') ?? 'default',
    extraHosts,
    cacheFrom: qJsonList(ex, 'cachefrom'),
    remove: qBool(ex, 'rm', true),
  };
  const platform = qString(ex, 'platform');
  if (platform) req.platform = platform;
  return req;
}

/** The context: the body, or what `remote` names (a URL to a Dockerfile or a tarball). */
async function contextOf(ex: Exchange): Promise<Readable> {
  const remote = qString(ex, 'remote');
  if (remote === undefined) return ex.bodyStream();
  if (!/^https?:\/\//.test(remote)) {
    throw new NotImplementedError(`remote context ${remote}: only http(s) URLs are supported`);
  }
  const res = await fetch(remote);
  if (!res.ok || !res.body) {
    throw new InvalidArgumentError(`unable to download remote context ${remote}: ${res.status}`);
  }
  return Readable.from(Buffer.from(await res.arrayBuffer()));
}

/** The largest `POST /berth/build/secrets` body: every secret at its limit, in base64. */
const maxSecretsBody = Math.ceil((maxSecretsPerBuild * maxSecretSize * 4) / 3) + 1024 * 1024;

/**
 * The body of `POST /berth/build/secrets`: `{"Secrets":[{"ID":"x","Data":"<base64>"}]}`.
 * The raw bytes are wiped once parsed; an ID given twice keeps the last, as BuildKit's store.
 */
async function secretsBody(ex: Exchange): Promise<Map<string, Buffer>> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of ex.bodyStream()) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > maxSecretsBody) {
      for (const p of [...parts, b]) p.fill(0);
      throw new InvalidArgumentError('build secrets: request body too large');
    }
    parts.push(b);
  }
  const raw = Buffer.concat(parts);
  for (const p of parts) p.fill(0);
  let v: unknown;
  try {
    v = JSON.parse(raw.toString('utf8'));
  } catch {
    // The parser's message may quote the body: neither it nor the error goes on.
    throw new InvalidArgumentError('build secrets: the body is not valid JSON');
  } finally {
    raw.fill(0);
  }
  const list = (v as { Secrets?: unknown } | null)?.Secrets;
  if (!Array.isArray(list)) {
    throw new InvalidArgumentError('build secrets: expected {"Secrets":[{"ID","Data"}...]}');
  }
  const out = new Map<string, Buffer>();
  for (const item of list as unknown[]) {
    const { ID, Data } = (item ?? {}) as { ID?: unknown; Data?: unknown };
    if (typeof ID !== 'string' || typeof Data !== 'string') {
      wipeSecrets(out);
      throw new InvalidArgumentError('build secrets: each secret needs a string ID and Data');
    }
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(Data)) {
      wipeSecrets(out);
      throw new InvalidArgumentError(`build secrets: secret ${ID}: Data is not base64`);
    }
    out.set(ID, Buffer.from(Data, 'base64'));
  }
  return out;
}

export function buildRoutes(router: Router, services: Services): void {
  const { build } = services;

  // berth's own: secrets for `RUN --mount=type=secret`, staged in berthd's memory for the one
  // `POST /build?berthsecrets=<ID>` that claims them. The classic /build has no way to carry
  // them (BuildKit's /session stream does it for dockerd); the values stay out of every URL,
  // log line and record. 201 {"ID"}: a one-use handle that expires unclaimed after a minute.
  router.add('POST', '/berth/build/secrets', async (ex) => {
    const secrets = await secretsBody(ex);
    let id: string;
    try {
      // The store owns the bytes from here; they are wiped when claimed and used, or expired.
      id = build.stageSecrets(secrets);
    } catch (err: unknown) {
      wipeSecrets(secrets);
      throw err;
    }
    ex.json(201, { ID: id });
  });

  router.add('POST', '/build', async (ex) => {
    const req = buildRequestOf(ex);
    const handle = qString(ex, 'berthsecrets');
    if (handle !== undefined && handle !== '') req.secrets = build.takeSecrets(handle);
    try {
      await runBuild(ex, req);
    } finally {
      if (req.secrets) wipeSecrets(req.secrets);
    }
  });

  const runBuild = async (ex: Exchange, req: BuildRequest): Promise<void> => {
    const context = await contextOf(ex);
    // Like dockerd: an error before any output is an HTTP error, after it an errorDetail line.
    let started = false;
    const progress = (m: BuildMessage): void => {
      if (!started) {
        ex.stream(200, { 'Content-Type': 'application/json' });
        started = true;
      }
      ex.write(jsonLine(m));
    };
    try {
      await build.build(context, req, progress);
    } catch (err: unknown) {
      if (!started) {
        sendError(ex, err);
        return;
      }
      const message = err instanceof Error ? err.message : String(err);
      const detail: { message: string; code?: number } = { message };
      if (err instanceof BuildStepError) detail.code = err.code;
      ex.write(jsonLine({ errorDetail: detail, error: message }));
    }
    ex.end();
  };

  router.add('POST', '/build/prune', async (ex) => {
    const result = await build.prune({ all: qBool(ex, 'all') });
    ex.json(200, result);
  });
}
