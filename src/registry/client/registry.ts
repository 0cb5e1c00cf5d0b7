import { Transform, type Readable } from 'node:stream';
import type { Info, Ingester } from '../../content/content.js';
import {
  ForbiddenError,
  InvalidArgumentError,
  NotFoundError,
  SystemError,
  UnauthorizedError,
  UnavailableError,
} from '../../errors/index.js';
import { sha256, type Digest } from '../../util/digest.js';
import type { AuthConfig } from './auth-config.js';
import { parseChallenges, type Challenge } from './challenge.js';
import { endpointsFor, type Endpoint, type RegistryHostOptions } from './hosts.js';
import { manifestAccept } from './manifest.js';
import {
  discard,
  loadTls,
  readBody,
  send,
  type HttpResponse,
  type TlsMaterial,
} from './transport.js';

/**
 * The distribution API (OCI distribution-spec v1) spoken to one repository of one registry:
 * endpoint choice (mirrors, insecure fallback to HTTP), authentication (anonymous, basic, bearer
 * tokens from the challenge's realm), manifests, blobs with resumed downloads, uploads and
 * cross-repository mounts.
 */

export interface RegistryOptions {
  hosts: RegistryHostOptions;
  /** Docker's certs.d layout: `<certsDir>/<host:port>/ca.crt`. */
  certsDir: string;
}

export interface FetchedManifest {
  body: Buffer;
  mediaType: string | undefined;
  digest: Digest;
}

export interface Repository {
  /** The reference's domain (`docker.io`, `127.0.0.1:5000`). */
  readonly domain: string;
  /** Path in the registry (`library/busybox`). */
  readonly path: string;
  /** A manifest by tag or digest, its digest verified when asked by digest. NotFoundError when unknown. */
  getManifest(reference: string): Promise<FetchedManifest>;
  /**
   * Downloads a blob into the content store, resuming with Range requests after a cut, and
   * commits it only when digest and size match (InvalidArgumentError otherwise; nothing kept).
   */
  fetchBlob(
    desc: { digest: string; size: number },
    content: Ingester,
    onProgress?: (current: number) => void,
  ): Promise<Info>;
  /** Whether the registry has the blob in this repository. */
  blobExists(digest: string): Promise<boolean>;
  /** Mounts a blob from another repository of the same registry; false when it declined. */
  mountBlob(digest: string, from: string): Promise<boolean>;
  /** Uploads a blob (monolithic PUT). `open` gives its bytes. */
  pushBlob(
    desc: { digest: string; size: number },
    open: () => Promise<Readable>,
    onProgress?: (current: number) => void,
  ): Promise<void>;
  /** Puts a manifest under a tag or digest; returns its digest. */
  putManifest(reference: string, body: Buffer, mediaType: string): Promise<Digest>;
  /** Every tag of the repository. */
  listTags(): Promise<string[]>;
}

interface RegistryErrorBody {
  errors?: { code?: string; message?: string; detail?: unknown }[];
}

/** `manifest unknown: manifest unknown`, as distribution's errcode prints a registry's error. */
export async function registryMessage(res: HttpResponse): Promise<string> {
  let text = '';
  try {
    text = (await readBody(res, 1 << 20)).toString('utf8');
  } catch {
    return `HTTP ${res.status}`;
  }
  try {
    const body = JSON.parse(text) as RegistryErrorBody;
    if (Array.isArray(body.errors) && body.errors.length > 0) {
      return body.errors
        .map((e) => `${(e.code ?? 'unknown').toLowerCase().replace(/_/g, ' ')}: ${e.message ?? ''}`)
        .join(', ');
    }
  } catch {
    // Not JSON: the status says it.
  }
  return text.trim() !== '' && text.length < 200
    ? `HTTP ${res.status}: ${text.trim()}`
    : `HTTP ${res.status}`;
}

/** Connection to one registry host: the endpoint chosen, its TLS, and tokens by scope. */
class Session {
  readonly domain: string;
  readonly #options: RegistryOptions;
  readonly #auth: AuthConfig;
  #base: string | undefined;
  #endpoint: Endpoint | undefined;
  #tls: TlsMaterial = {};
  #challenge: Challenge | undefined;
  readonly #tokens = new Map<string, string>();

  constructor(domain: string, auth: AuthConfig, options: RegistryOptions) {
    this.domain = domain;
    this.#auth = auth;
    this.#options = options;
  }

  /** Pings `/v2/` on each endpoint in turn and keeps the first that answers as a registry. */
  async connect(): Promise<void> {
    if (this.#base !== undefined) return;
    const errors: string[] = [];
    for (const ep of endpointsFor(this.domain, this.#options.hosts)) {
      const tlsMaterial = await loadTls(this.#options.certsDir, ep.hostDir);
      const bases = ep.url.startsWith('http:')
        ? [ep.url]
        : ep.insecure
          ? [ep.url, ep.url.replace(/^https:/, 'http:')]
          : [ep.url];
      for (const base of bases) {
        try {
          const res = await send({
            method: 'GET',
            url: `${base}/v2/`,
            tls: tlsMaterial,
            insecure: ep.insecure,
            timeoutMs: 15_000,
          });
          discard(res);
          if (res.status !== 200 && res.status !== 401) {
            errors.push(`${base}/v2/: HTTP ${res.status}`);
            continue;
          }
          this.#base = base;
          this.#endpoint = ep;
          this.#tls = tlsMaterial;
          this.#challenge = pickChallenge(res);
          return;
        } catch (err: unknown) {
          errors.push(`Get "${base}/v2/": ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    }
    throw new UnavailableError(errors.join('; ') || `no endpoint for ${this.domain}`);
  }

  get base(): string {
    if (this.#base === undefined) throw new SystemError('registry session not connected');
    return this.#base;
  }

  #basic(): string | undefined {
    const { username, password } = this.#auth;
    if (username === undefined || password === undefined) return undefined;
    return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }

  async #token(challenge: Challenge, scopes: string[]): Promise<string> {
    const key = scopes.join(' ');
    const cached = this.#tokens.get(key);
    if (cached !== undefined) return cached;
    if (this.#auth.registrytoken !== undefined) return this.#auth.registrytoken;
    const realm = challenge.params.realm;
    if (realm === undefined)
      throw new UnauthorizedError(`${this.domain}: bearer challenge without realm`);
    const u = new URL(realm);
    if (challenge.params.service !== undefined)
      u.searchParams.set('service', challenge.params.service);
    for (const s of scopes) u.searchParams.append('scope', s);
    const headers: Record<string, string> = {};
    let res: HttpResponse;
    const refresh = this.#auth.identitytoken;
    if (refresh !== undefined) {
      // An identity token is an OAuth2 refresh token: exchanged by a form POST to the realm.
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: refresh,
        client_id: 'berth',
      });
      if (challenge.params.service !== undefined) form.set('service', challenge.params.service);
      if (scopes.length > 0) form.set('scope', scopes.join(' '));
      res = await send({
        method: 'POST',
        url: realm,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: Buffer.from(form.toString()),
        tls: this.#tls,
        insecure: this.#endpoint?.insecure ?? false,
      });
    } else {
      const basic = this.#basic();
      if (basic !== undefined) {
        headers.Authorization = basic;
        u.searchParams.set('account', this.#auth.username ?? '');
      }
      res = await send({
        method: 'GET',
        url: u.toString(),
        headers,
        tls: this.#tls,
        insecure: this.#endpoint?.insecure ?? false,
      });
    }
    if (res.status === 401 || res.status === 403) {
      const msg = await registryMessage(res);
      throw new UnauthorizedError(`Get "${realm}": unauthorized: ${msg}`);
    }
    if (res.status !== 200)
      throw new UnavailableError(`token server ${realm}: ${await registryMessage(res)}`);
    const body = JSON.parse((await readBody(res)).toString('utf8')) as {
      token?: string;
      access_token?: string;
    };
    const token = body.token ?? body.access_token;
    if (token === undefined) throw new UnauthorizedError(`token server ${realm} gave no token`);
    this.#tokens.set(key, token);
    return token;
  }

  async #authorization(scopes: string[]): Promise<string | undefined> {
    const c = this.#challenge;
    if (c === undefined) return undefined;
    if (c.scheme === 'basic') return this.#basic();
    if (c.scheme === 'bearer') return `Bearer ${await this.#token(c, scopes)}`;
    return undefined;
  }

  /**
   * One request with authentication: on a 401 the challenge it carries is taken up and the
   * request sent once more. Redirects (blob storage elsewhere) are followed for GET and HEAD,
   * without the registry's credentials when they leave its host.
   */
  async request(
    method: string,
    pathOrUrl: string,
    options: {
      scopes: string[];
      headers?: Record<string, string>;
      body?: () => Promise<Buffer | Readable>;
    },
  ): Promise<HttpResponse> {
    await this.connect();
    let url = pathOrUrl.startsWith('http') ? pathOrUrl : `${this.base}${pathOrUrl}`;
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { ...options.headers };
      const authz = await this.#authorization(options.scopes);
      if (authz !== undefined) headers.Authorization = authz;
      let res = await send({
        method,
        url,
        headers,
        ...(options.body ? { body: await options.body() } : {}),
        tls: this.#tls,
        insecure: this.#endpoint?.insecure ?? false,
      });
      for (let hops = 0; [301, 302, 303, 307, 308].includes(res.status) && hops < 5; hops++) {
        const location = res.headers.location;
        discard(res);
        if (location === undefined || (method !== 'GET' && method !== 'HEAD')) break;
        const next = new URL(location, url);
        const same = next.host === new URL(url).host;
        url = next.toString();
        const h: Record<string, string> = { ...options.headers };
        if (same && authz !== undefined) h.Authorization = authz;
        res = await send({
          method,
          url,
          headers: h,
          tls: this.#tls,
          insecure: this.#endpoint?.insecure ?? false,
        });
      }
      if (res.status === 401 && attempt === 0) {
        const c = pickChallenge(res);
        discard(res);
        if (c !== undefined) {
          this.#challenge = c;
          this.#tokens.delete(options.scopes.join(' '));
          continue;
        }
        return res;
      }
      return res;
    }
  }
}

function pickChallenge(res: HttpResponse): Challenge | undefined {
  const h = res.headers['www-authenticate'];
  const all = (Array.isArray(h) ? h : h !== undefined ? [h] : []).flatMap(parseChallenges);
  return all.find((c) => c.scheme === 'bearer') ?? all.find((c) => c.scheme === 'basic');
}

const sessions = new WeakMap<RegistryOptions, Map<string, Session>>();

function sessionFor(domain: string, auth: AuthConfig, options: RegistryOptions): Session {
  // One session per registry and credentials: tokens are reused across a pull's requests.
  let byKey = sessions.get(options);
  if (!byKey) {
    byKey = new Map();
    sessions.set(options, byKey);
  }
  const key = `${domain}\n${JSON.stringify(auth)}`;
  let s = byKey.get(key);
  if (!s) {
    s = new Session(domain, auth, options);
    byKey.set(key, s);
    if (byKey.size > 64) byKey.delete(byKey.keys().next().value as string);
  }
  return s;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

const maxResumes = 5;
/** Manifests larger than this are refused, as containerd and distribution limit them (4 MiB). */
const maxManifestBytes = 4 << 20;

class RemoteRepository implements Repository {
  readonly domain: string;
  readonly path: string;
  readonly #session: Session;
  readonly #scopes: string[];

  constructor(session: Session, repoPath: string, push: boolean) {
    this.domain = session.domain;
    this.path = repoPath;
    this.#session = session;
    this.#scopes = [`repository:${repoPath}:${push ? 'pull,push' : 'pull'}`];
  }

  #name(): string {
    return `${this.domain}/${this.path}`;
  }

  async #fail(res: HttpResponse, what: string): Promise<never> {
    const msg = await registryMessage(res);
    if (res.status === 404) throw new NotFoundError(`${what}: ${msg}`);
    if (res.status === 401) throw new UnauthorizedError(`${what}: ${msg}`);
    if (res.status === 403) throw new ForbiddenError(`${what}: ${msg}`);
    if (res.status === 400) throw new InvalidArgumentError(`${what}: ${msg}`);
    throw new UnavailableError(`${what}: ${msg}`);
  }

  async getManifest(reference: string): Promise<FetchedManifest> {
    const sep = reference.startsWith('sha256:') ? '@' : ':';
    const res = await this.#session.request('GET', `/v2/${this.path}/manifests/${reference}`, {
      scopes: this.#scopes,
      headers: { Accept: manifestAccept.join(', ') },
    });
    if (res.status === 404) {
      const msg = await registryMessage(res);
      throw new NotFoundError(`manifest for ${this.#name()}${sep}${reference} not found: ${msg}`);
    }
    if (res.status === 401 || res.status === 403) {
      const msg = await registryMessage(res);
      throw new (res.status === 401 ? UnauthorizedError : ForbiddenError)(
        `pull access denied for ${this.#name()}, repository does not exist or may require 'docker login': ${msg}`,
      );
    }
    if (res.status !== 200) await this.#fail(res, `manifest for ${this.#name()}${sep}${reference}`);
    const declared = Number(res.headers['content-length'] ?? 0);
    if (declared > maxManifestBytes) {
      discard(res);
      throw new InvalidArgumentError(
        `manifest for ${this.#name()}${sep}${reference} is ${declared} bytes, over the limit of ${maxManifestBytes}`,
      );
    }
    let body: Buffer;
    try {
      body = await readBody(res, maxManifestBytes);
    } catch (cause: unknown) {
      throw new InvalidArgumentError(
        `manifest for ${this.#name()}${sep}${reference} is over the limit of ${maxManifestBytes} bytes`,
        { cause },
      );
    }
    const digest = sha256(body);
    if (sep === '@' && digest !== reference) {
      throw new InvalidArgumentError(
        `manifest verification failed for digest ${reference}: the registry sent ${digest}`,
      );
    }
    const header = res.headers['docker-content-digest'];
    if (typeof header === 'string' && header.startsWith('sha256:') && header !== digest) {
      throw new InvalidArgumentError(
        `manifest for ${this.#name()}${sep}${reference}: the registry says ${header}, its bytes are ${digest}`,
      );
    }
    const ct = res.headers['content-type'];
    return { body, mediaType: typeof ct === 'string' ? ct : undefined, digest };
  }

  async fetchBlob(
    desc: { digest: string; size: number },
    content: Ingester,
    onProgress?: (current: number) => void,
  ): Promise<Info> {
    let writer = await content.writer();
    try {
      let failures = 0;
      for (;;) {
        const from = writer.written;
        const res = await this.#session.request('GET', `/v2/${this.path}/blobs/${desc.digest}`, {
          scopes: this.#scopes,
          headers: from > 0 ? { Range: `bytes=${from}-` } : {},
        });
        if (res.status === 200 && from > 0) {
          // No range support: start over.
          await writer.abort();
          writer = await content.writer();
        } else if (res.status !== 200 && res.status !== 206) {
          await this.#fail(res, `blob ${desc.digest} of ${this.#name()}`);
        }
        try {
          for await (const chunk of res.body) {
            await writer.write(chunk as Buffer);
            if (writer.written > desc.size)
              throw new InvalidArgumentError(
                `blob ${desc.digest} is larger than the manifest says`,
              );
            onProgress?.(writer.written);
          }
        } catch (err: unknown) {
          if (err instanceof InvalidArgumentError) throw err;
          if (++failures > maxResumes) throw err;
          await sleep(100 * failures);
          continue;
        }
        if (writer.written < desc.size) {
          if (++failures > maxResumes)
            throw new UnavailableError(
              `blob ${desc.digest}: connection closed early, too many times`,
            );
          await sleep(100 * failures);
          continue;
        }
        break;
      }
      try {
        return await writer.commit(desc.digest as Digest, desc.size);
      } catch (cause: unknown) {
        if (cause instanceof InvalidArgumentError)
          throw new InvalidArgumentError(
            `filesystem layer verification failed for digest ${desc.digest}`,
            { cause },
          );
        throw cause;
      }
    } finally {
      await writer.abort();
    }
  }

  async blobExists(digest: string): Promise<boolean> {
    const res = await this.#session.request('HEAD', `/v2/${this.path}/blobs/${digest}`, {
      scopes: this.#scopes,
    });
    discard(res);
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    return this.#fail(res, `blob ${digest} of ${this.#name()}`);
  }

  async #startUpload(
    query: string,
    scopes: string[],
  ): Promise<{ status: number; location?: string }> {
    const res = await this.#session.request('POST', `/v2/${this.path}/blobs/uploads/${query}`, {
      scopes,
      headers: { 'Content-Length': '0' },
    });
    discard(res);
    if (res.status !== 201 && res.status !== 202)
      await this.#fail(res, `upload to ${this.#name()}`);
    const loc = res.headers.location;
    return {
      status: res.status,
      ...(loc !== undefined ? { location: new URL(loc, this.#session.base).toString() } : {}),
    };
  }

  async mountBlob(digest: string, from: string): Promise<boolean> {
    const q = `?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`;
    const started = await this.#startUpload(q, [...this.#scopes, `repository:${from}:pull`]);
    if (started.status === 201) return true;
    if (started.location !== undefined) {
      // Declined: the upload it opened instead is not needed.
      const res = await this.#session.request('DELETE', started.location, { scopes: this.#scopes });
      discard(res);
    }
    return false;
  }

  async pushBlob(
    desc: { digest: string; size: number },
    open: () => Promise<Readable>,
    onProgress?: (current: number) => void,
  ): Promise<void> {
    const started = await this.#startUpload('', this.#scopes);
    if (started.location === undefined)
      throw new UnavailableError(`${this.#name()}: upload without Location`);
    const u = new URL(started.location);
    u.searchParams.set('digest', desc.digest);
    let sent = 0;
    const res = await this.#session.request('PUT', u.toString(), {
      scopes: this.#scopes,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(desc.size) },
      body: async () => {
        sent = 0;
        const counter = new Transform({
          transform(chunk: Buffer, _enc, cb): void {
            sent += chunk.length;
            onProgress?.(sent);
            cb(null, chunk);
          },
        });
        const src = await open();
        src.on('error', (e) => counter.destroy(e));
        return src.pipe(counter);
      },
    });
    if (res.status !== 201) await this.#fail(res, `blob upload ${desc.digest} to ${this.#name()}`);
    discard(res);
  }

  async putManifest(reference: string, body: Buffer, mediaType: string): Promise<Digest> {
    const res = await this.#session.request('PUT', `/v2/${this.path}/manifests/${reference}`, {
      scopes: this.#scopes,
      headers: { 'Content-Type': mediaType },
      body: async () => body,
    });
    if (res.status !== 201 && res.status !== 200)
      await this.#fail(res, `manifest ${this.#name()}:${reference}`);
    discard(res);
    return sha256(body);
  }

  async listTags(): Promise<string[]> {
    const res = await this.#session.request('GET', `/v2/${this.path}/tags/list`, {
      scopes: this.#scopes,
    });
    if (res.status !== 200) await this.#fail(res, `tags of ${this.#name()}`);
    const body = JSON.parse((await readBody(res)).toString('utf8')) as { tags?: string[] | null };
    return body.tags ?? [];
  }
}

/** A repository of a registry, for pulling (`push` false) or pushing. */
export function openRepository(
  domain: string,
  repoPath: string,
  auth: AuthConfig,
  options: RegistryOptions,
  push = false,
): Repository {
  return new RemoteRepository(sessionFor(domain, auth, options), repoPath, push);
}

/**
 * Checks credentials against a registry as `docker login` does: `/v2/` with them (through the
 * token server when it answers with a bearer challenge). UnauthorizedError when refused.
 */
export async function checkLogin(
  domain: string,
  auth: AuthConfig,
  options: RegistryOptions,
): Promise<void> {
  const session = new Session(domain, auth, options);
  const res = await session.request('GET', '/v2/', { scopes: [] });
  const status = res.status;
  const msg = status === 200 ? '' : await registryMessage(res);
  if (status === 200) {
    discard(res);
    return;
  }
  if (status === 401)
    throw new UnauthorizedError(
      `login attempt to ${session.base}/v2/ failed with status: 401 Unauthorized`,
    );
  throw new UnavailableError(`login to ${domain}: ${msg}`);
}

export interface SearchResult {
  name: string;
  description: string;
  star_count: number;
  is_official: boolean;
  is_automated: boolean;
}

/** `GET /v1/search` of a registry (Docker Hub's index, or one that offers it). */
export async function searchRegistry(
  domain: string,
  term: string,
  limit: number,
  auth: AuthConfig,
  options: RegistryOptions,
): Promise<SearchResult[]> {
  const session = new Session(domain === 'docker.io' ? 'index.docker.io' : domain, auth, options);
  const q = new URLSearchParams({ q: term, n: String(limit) });
  const res = await session.request('GET', `/v1/search?${q.toString()}`, { scopes: [] });
  if (res.status !== 200) {
    throw new UnavailableError(
      `Unexpected status code ${res.status}: ${await registryMessage(res)}`,
    );
  }
  const body = JSON.parse((await readBody(res)).toString('utf8')) as { results?: SearchResult[] };
  return (body.results ?? []).map((r) => ({
    name: String(r.name),
    description: String(r.description ?? ''),
    star_count: Number(r.star_count ?? 0),
    is_official: Boolean(r.is_official),
    is_automated: Boolean(r.is_automated),
  }));
}
