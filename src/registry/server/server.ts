import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { errnoCode } from '../../errors/index.js';
import {
  allows,
  challenge,
  grant,
  parseBasic,
  parseScopes,
  signToken,
  verifyToken,
  type Access,
  type HtpasswdVerifier,
} from './auth.js';
import { DistributionError } from './errors.js';
import { accepts, OCI_INDEX } from './manifest.js';
import { checkName, parseDigestParam, parseReference, type Sha256 } from './names.js';
import { paginate, parseN } from './paging.js';
import { parseContentRange, parseRangeHeader, uploadRange } from './ranges.js';
import type { RegistryStore } from './registry.js';
import { isWrite, METHODS, parseRoute, requiredAction, type Route } from './routes.js';

/**
 * The Distribution API over a {@link RegistryStore}: request parsing, auth, limits, and the
 * spec's headers and error bodies. Storage decides nothing about HTTP; this file decides
 * nothing about files.
 */

export type AuthConfig =
  | { kind: 'none' }
  | { kind: 'htpasswd'; verifier: HtpasswdVerifier; realm: string }
  | {
      kind: 'token';
      verifier: HtpasswdVerifier;
      key: Buffer;
      service: string;
      /** The token endpoint's URL; default: this server's own /token, by the request's Host. */
      realm: string | undefined;
      ttlSeconds: number;
    };

export interface HandlerOptions {
  store: RegistryStore;
  auth: AuthConfig;
  /** Refuse every write with 405 UNSUPPORTED. */
  readOnly: boolean;
  /** Largest manifest body accepted (bytes). */
  maxManifestSize: number;
  /** Requests carrying blob data at once; TOOMANYREQUESTS (429) beyond. */
  maxConcurrentUploads: number;
  /** Whether the server speaks TLS (for the default token realm). */
  tls: boolean;
  log: (line: string) => void;
}

/** Most repositories one catalog page lists (distribution's default `maxentries`). */
const CATALOG_MAX_ENTRIES = 1000;

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Builds the request handler of `berth registry serve`. */
export function newRegistryHandler(options: HandlerOptions): Handler {
  const state = { uploading: 0 };
  return (req, res) => {
    handle(options, state, req, res).catch((err: unknown) => {
      // A client that goes away mid-response is not the registry's failure.
      const gone = res.destroyed || errnoCode(err) === 'ERR_STREAM_PREMATURE_CLOSE';
      if (!gone) options.log(`registry: ${req.method} ${req.url}: ${errMessage(err)}`);
      if (!res.headersSent) sendError(req, res, internal());
      else res.destroy();
    });
  };
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function internal(): DistributionError {
  return new DistributionError('UNKNOWN');
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

/**
 * Most of a refused request's unread body that is read and dropped before the error goes out.
 * A client still sending when the connection closes meets a reset before it can read the
 * answer, so a small body (an oversized manifest) is taken in full; a larger one (an upload
 * refused up front) is not worth the wait, and its connection closes.
 */
const DRAIN_LIMIT = 16 * 1024 * 1024;

function sendError(req: IncomingMessage, res: ServerResponse, err: DistributionError): void {
  const raw = req.headers['content-length'];
  const declared = raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : undefined;
  const pending =
    !req.readableEnded &&
    (req.headers['transfer-encoding'] !== undefined || raw === undefined || declared !== 0);
  if (pending && !req.destroyed && declared !== undefined && declared <= DRAIN_LIMIT) {
    req.once('end', () => writeError(req, res, err, {}));
    req.once('error', () => res.destroy());
    req.resume();
    return;
  }
  writeError(req, res, err, pending ? { Connection: 'close' } : {});
}

function writeError(
  req: IncomingMessage,
  res: ServerResponse,
  err: DistributionError,
  extra: Record<string, string>,
): void {
  const headers: Record<string, string> = { ...err.headers, ...extra };
  if (req.method === 'HEAD') {
    res.writeHead(err.status, headers);
    res.end();
    return;
  }
  sendJson(res, err.status, err.body(), headers);
}

function empty(res: ServerResponse, status: number, headers: Record<string, string>): void {
  res.writeHead(status, { 'Content-Length': '0', ...headers });
  res.end();
}

async function handle(
  o: HandlerOptions,
  state: { uploading: number },
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
  const method = req.method ?? 'GET';
  // Routed on the path as sent: URL's parser would resolve `..` segments before the name check.
  const rawPath = (req.url ?? '/').split('?')[0] as string;
  let url = new URL('http://registry.invalid/');
  try {
    url = new URL(req.url ?? '/', 'http://registry.invalid');
    const route = parseRoute(rawPath);
    if (!route) {
      throw new DistributionError('NAME_UNKNOWN', { path: rawPath }, { message: 'not found' });
    }
    if (route.kind === 'token') {
      await issueToken(o, req, res, url);
      return;
    }
    if (!METHODS[route.kind].includes(method)) {
      throw new DistributionError('UNSUPPORTED', { method }, { message: 'method not allowed' });
    }
    const access = await authorize(o, req, route, method);
    if (o.readOnly && isWrite(method)) {
      throw new DistributionError('UNSUPPORTED', 'registry is in read-only mode');
    }
    const carriesData =
      (route.kind === 'uploads' && url.searchParams.has('digest')) ||
      (route.kind === 'upload' && (method === 'PATCH' || method === 'PUT'));
    if (carriesData) {
      if (state.uploading >= o.maxConcurrentUploads) {
        throw new DistributionError(
          'TOOMANYREQUESTS',
          { limit: o.maxConcurrentUploads },
          { message: 'too many concurrent uploads', headers: { 'Retry-After': '1' } },
        );
      }
      state.uploading++;
      try {
        await dispatch(o, req, res, url, route, method, access);
      } finally {
        state.uploading--;
      }
      return;
    }
    await dispatch(o, req, res, url, route, method, access);
  } catch (err: unknown) {
    if (err instanceof DistributionError) {
      if (err.status >= 500) o.log(`registry: ${method} ${rawPath}: ${err.message}`);
      // Failing after the status line went out, the only honest signal left is a cut connection.
      if (res.headersSent) res.destroy();
      else sendError(req, res, err);
      return;
    }
    if (err instanceof TypeError && errnoCode(err) === 'ERR_INVALID_URL') {
      sendError(
        req,
        res,
        new DistributionError('NAME_UNKNOWN', undefined, { message: 'not found' }),
      );
      return;
    }
    throw err;
  }
}

/** What the caller may do, for checks beyond the route's own (a mount's source repository). */
interface Granted {
  canPull(name: string): boolean;
}

const everything: Granted = { canPull: () => true };

async function authorize(
  o: HandlerOptions,
  req: IncomingMessage,
  route: Route,
  method: string,
): Promise<Granted> {
  const auth = o.auth;
  if (auth.kind === 'none') return everything;
  const header = req.headers.authorization;
  if (auth.kind === 'htpasswd') {
    const creds = parseBasic(header);
    if (creds && (await auth.verifier.verify(creds.user, creds.password))) return everything;
    throw challenge({ kind: 'basic', realm: auth.realm });
  }
  const realm =
    auth.realm ?? `${o.tls ? 'https' : 'http'}://${req.headers.host ?? 'localhost'}/token`;
  let type = 'repository';
  let name: string | undefined;
  let action: string = requiredAction(method);
  let scope: string | undefined;
  if (route.kind === 'catalog') {
    type = 'registry';
    name = 'catalog';
    action = '*';
    scope = 'registry:catalog:*';
  } else if (route.kind !== 'base' && route.kind !== 'token') {
    name = route.name;
    scope = `repository:${name}:${action === 'push' ? 'pull,push' : action}`;
  }
  const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  const claims = m
    ? verifyToken(m[1] as string, auth.key, { service: auth.service, now: Date.now() })
    : undefined;
  if (!claims) {
    throw challenge({
      kind: 'bearer',
      realm,
      service: auth.service,
      scope,
      ...(m ? { error: 'invalid_token' } : {}),
    });
  }
  if (name !== undefined && !allows(claims.access, type, name, action)) {
    throw challenge(
      { kind: 'bearer', realm, service: auth.service, scope, error: 'insufficient_scope' },
      claims.access.length === 0 ? undefined : { granted: claims.access },
    );
  }
  return { canPull: (repo) => allows(claims.access, 'repository', repo, 'pull') };
}

async function issueToken(
  o: HandlerOptions,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const auth = o.auth;
  if (auth.kind !== 'token') {
    throw new DistributionError('UNSUPPORTED', 'token auth is not enabled', { status: 404 });
  }
  let params = url.searchParams;
  if (req.method === 'POST') {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req as AsyncIterable<Buffer>) {
      size += c.byteLength;
      if (size > 64 * 1024) throw new DistributionError('SIZE_INVALID', 'token request too large');
      chunks.push(c);
    }
    params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  }
  let user: string | undefined;
  const basic = parseBasic(req.headers.authorization);
  const creds =
    basic ??
    (params.get('grant_type') === 'password'
      ? { user: params.get('username') ?? '', password: params.get('password') ?? '' }
      : undefined);
  if (creds) {
    if (!(await auth.verifier.verify(creds.user, creds.password))) {
      throw new DistributionError('UNAUTHORIZED', 'invalid username or password');
    }
    user = creds.user;
  } else if (req.method === 'POST') {
    throw new DistributionError('UNSUPPORTED', 'only the password grant is supported', {
      status: 400,
    });
  }
  const service = params.get('service') ?? auth.service;
  if (service !== auth.service) {
    throw new DistributionError('DENIED', `unknown service ${JSON.stringify(service)}`);
  }
  // Anonymous callers get a token that grants nothing: the registry then answers 401 per request.
  const access: Access[] = user === undefined ? [] : grant(parseScopes(params.getAll('scope')));
  const now = Math.floor(Date.now() / 1000);
  const token = signToken(
    {
      iss: auth.service,
      sub: user ?? '',
      aud: auth.service,
      iat: now,
      nbf: now,
      exp: now + auth.ttlSeconds,
      access,
    },
    auth.key,
  );
  sendJson(res, 200, {
    token,
    access_token: token,
    expires_in: auth.ttlSeconds,
    issued_at: new Date(now * 1000).toISOString(),
  });
}

function contentLength(req: IncomingMessage): number | undefined {
  const raw = req.headers['content-length'];
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) throw new DistributionError('SIZE_INVALID', 'invalid Content-Length');
  return Number(raw);
}

function hasBody(req: IncomingMessage): boolean {
  const n = contentLength(req);
  return (n !== undefined && n > 0) || req.headers['transfer-encoding'] !== undefined;
}

async function readManifestBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooBig = (): DistributionError =>
    new DistributionError('MANIFEST_INVALID', `manifest exceeds the size limit of ${limit} bytes`, {
      status: 413,
      message: 'manifest too large',
    });
  const declared = contentLength(req);
  if (declared !== undefined && declared > limit) throw tooBig();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.byteLength;
    if (size > limit) throw tooBig();
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

function uploadHeaders(name: string, uuid: string, offset: number): Record<string, string> {
  return {
    Location: `/v2/${name}/blobs/uploads/${uuid}`,
    Range: uploadRange(offset),
    'Docker-Upload-UUID': uuid,
  };
}

function blobCreated(name: string, digest: Sha256): Record<string, string> {
  return { Location: `/v2/${name}/blobs/${digest}`, 'Docker-Content-Digest': digest };
}

/** The chunk position a PATCH or PUT declares: Content-Range checked against Content-Length. */
function chunkOptions(req: IncomingMessage): { start?: number; length?: number } {
  const length = contentLength(req);
  const cr = req.headers['content-range'];
  if (cr === undefined) return length === undefined ? {} : { length };
  const range = parseContentRange(cr);
  if (!range) {
    throw new DistributionError(
      'BLOB_UPLOAD_INVALID',
      `malformed Content-Range ${JSON.stringify(cr)}`,
      {
        status: 416,
      },
    );
  }
  const n = range.end - range.start + 1;
  if (length !== undefined && length !== n) {
    throw new DistributionError('SIZE_INVALID', { contentLength: length, contentRange: cr });
  }
  return { start: range.start, length: n };
}

async function dispatch(
  o: HandlerOptions,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  route: Route,
  method: string,
  granted: Granted,
): Promise<void> {
  const store = o.store;
  const q = url.searchParams;
  switch (route.kind) {
    case 'base':
      sendJson(res, 200, {});
      return;
    case 'token':
      return;
    case 'catalog': {
      const page = paginate(await store.listRepositories(), {
        n: parseN(q.get('n')),
        last: q.get('last'),
        path: '/v2/_catalog',
        maxN: CATALOG_MAX_ENTRIES,
      });
      sendJson(res, 200, { repositories: page.items }, page.link ? { Link: page.link } : {});
      return;
    }
    case 'tags': {
      const page = paginate(await store.listTags(route.name), {
        n: parseN(q.get('n')),
        last: q.get('last'),
        path: `/v2/${route.name}/tags/list`,
      });
      sendJson(
        res,
        200,
        { name: route.name, tags: page.items },
        page.link ? { Link: page.link } : {},
      );
      return;
    }
    case 'manifest': {
      const ref = parseReference(route.reference);
      if (method === 'PUT') {
        const body = await readManifestBody(req, o.maxManifestSize);
        const { digest, subject } = await store.putManifest(
          route.name,
          ref,
          body,
          req.headers['content-type'],
        );
        const headers: Record<string, string> = {
          Location: `/v2/${route.name}/manifests/${digest}`,
          'Docker-Content-Digest': digest,
        };
        if (subject) headers['OCI-Subject'] = subject;
        empty(res, 201, headers);
        return;
      }
      if (method === 'DELETE') {
        await store.deleteManifest(route.name, ref);
        empty(res, 202, {});
        return;
      }
      const m = await store.getManifest(route.name, ref, method === 'GET');
      if (!accepts(req.headers.accept, m.mediaType)) {
        throw new DistributionError(
          'MANIFEST_UNKNOWN',
          { mediaType: m.mediaType, accept: req.headers.accept },
          { message: `manifest is ${m.mediaType}, which the Accept header does not list` },
        );
      }
      const headers = {
        'Content-Type': m.mediaType,
        'Content-Length': String(m.size),
        'Docker-Content-Digest': m.digest,
        ETag: `"${m.digest}"`,
      };
      res.writeHead(200, headers);
      res.end(method === 'GET' ? m.body : undefined);
      return;
    }
    case 'blob': {
      const digest = parseDigestParam(route.digest);
      if (method === 'DELETE') {
        await store.deleteBlob(route.name, digest);
        empty(res, 202, {});
        return;
      }
      const info = await store.statBlob(route.name, digest);
      const range = parseRangeHeader(req.headers.range, info.size);
      const base = {
        'Docker-Content-Digest': digest,
        'Content-Type': 'application/octet-stream',
        'Accept-Ranges': 'bytes',
        ETag: `"${digest}"`,
      };
      if (range === 'unsatisfiable') {
        res.writeHead(416, {
          ...base,
          'Content-Range': `bytes */${info.size}`,
          'Content-Length': '0',
        });
        res.end();
        return;
      }
      if (method === 'HEAD') {
        res.writeHead(range ? 206 : 200, {
          ...base,
          'Content-Length': String(range ? range.end - range.start + 1 : info.size),
          ...(range ? { 'Content-Range': `bytes ${range.start}-${range.end}/${info.size}` } : {}),
        });
        res.end();
        return;
      }
      const reader = await store.openBlob(route.name, digest, range);
      res.writeHead(range ? 206 : 200, {
        ...base,
        'Content-Length': String(range ? range.end - range.start + 1 : info.size),
        ...(range ? { 'Content-Range': `bytes ${range.start}-${range.end}/${info.size}` } : {}),
      });
      await pipeline(reader.stream, res);
      return;
    }
    case 'uploads': {
      const mount = q.get('mount');
      const from = q.get('from');
      if (mount !== null && from !== null) {
        const digest = parseDigestParam(mount);
        checkName(from);
        if (granted.canPull(from)) {
          const info = await store.mountBlob(route.name, from, digest);
          if (info) {
            empty(res, 201, blobCreated(route.name, digest));
            return;
          }
        }
      }
      const digestParam = q.get('digest');
      if (digestParam !== null) {
        const digest = parseDigestParam(digestParam);
        const up = await store.startUpload(route.name);
        try {
          const length = contentLength(req);
          await store.appendUpload(
            route.name,
            up.uuid,
            req,
            length === undefined ? {} : { length },
          );
          await store.completeUpload(route.name, up.uuid, digest);
        } catch (err: unknown) {
          await store.cancelUpload(route.name, up.uuid).catch(() => undefined);
          throw err;
        }
        empty(res, 201, blobCreated(route.name, digest));
        return;
      }
      const up = await store.startUpload(route.name);
      empty(res, 202, uploadHeaders(route.name, up.uuid, up.offset));
      return;
    }
    case 'upload': {
      if (method === 'GET') {
        const st = await store.uploadStatus(route.name, route.uuid);
        empty(res, 204, uploadHeaders(route.name, st.uuid, st.offset));
        return;
      }
      if (method === 'DELETE') {
        await store.cancelUpload(route.name, route.uuid);
        empty(res, 204, {});
        return;
      }
      if (method === 'PATCH') {
        const st = await store.appendUpload(route.name, route.uuid, req, chunkOptions(req));
        empty(res, 202, uploadHeaders(route.name, st.uuid, st.offset));
        return;
      }
      const digestParam = q.get('digest');
      if (digestParam === null) {
        throw new DistributionError('DIGEST_INVALID', 'the digest parameter is required');
      }
      const digest = parseDigestParam(digestParam);
      if (hasBody(req)) await store.appendUpload(route.name, route.uuid, req, chunkOptions(req));
      else await store.uploadStatus(route.name, route.uuid);
      await store.completeUpload(route.name, route.uuid, digest);
      empty(res, 201, blobCreated(route.name, digest));
      return;
    }
    case 'referrers': {
      const digest = parseDigestParam(route.digest);
      const artifactType = q.get('artifactType');
      let manifests = await store.referrers(route.name, digest);
      const headers: Record<string, string> = { 'Content-Type': OCI_INDEX };
      if (artifactType !== null) {
        manifests = manifests.filter((d) => d.artifactType === artifactType);
        headers['OCI-Filters-Applied'] = 'artifactType';
      }
      const body = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests });
      res.writeHead(200, { ...headers, 'Content-Length': String(Buffer.byteLength(body)) });
      res.end(body);
      return;
    }
  }
}
