import { request as httpRequest, type IncomingMessage, type ClientRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import type { Duplex, Readable } from 'node:stream';
import { jsonLines } from './streams.js';
import type { CreateContainerRequest, EngineEvent, ImageSummary } from '../spec/engine.js';

/** The newest Engine API version this client speaks. */
export const CLIENT_API_VERSION = '1.47';
export const DEFAULT_HOST = 'unix:///run/berth/berth.sock';

/** A failed API call: `statusCode` is the HTTP status (0 when the daemon is unreachable). */
export class ClientError extends Error {
  constructor(
    message: string,
    readonly statusCode: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ClientError';
  }
}

export type QueryValue = string | number | boolean | string[] | undefined | null;
export type Query = Record<string, QueryValue | Record<string, string[]>>;

export interface RequestOptions {
  query?: Query;
  /** A JSON value, raw bytes, or a stream (sent chunked). */
  body?: unknown;
  headers?: Record<string, string>;
  /** The body is not JSON (a tar stream, bytes). */
  rawBody?: boolean;
  signal?: AbortSignal;
  /** For hijack: whether the stream has a TTY (then it is raw, not multiplexed). */
  tty?: boolean;
}

export interface Hijacked {
  /** The raw connection: read output, write stdin, `end()` to half-close. */
  socket: Duplex;
  /**
   * True when output is multiplexed frames. Servers before API 1.42 label both kinds
   * raw-stream, so without the multiplexed content type this follows the caller's `tty` hint.
   */
  multiplexed: boolean;
}

export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  ImageID: string;
  Command: string;
  Created: number;
  State: string;
  Status: string;
  Ports: { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[];
  Labels: Record<string, string> | null;
  SizeRw?: number;
  SizeRootFs?: number;
  Mounts?: { Name?: string; Source?: string }[];
  NetworkSettings?: { Networks?: Record<string, unknown> };
}

export interface PingResult {
  apiVersion: string;
  osType: string;
  experimental: boolean;
  builderVersion?: string;
}

/** A typed Docker Engine API client; works against berthd and dockerd. */
export interface EngineClient {
  /** The host this client talks to (`unix:///...`). */
  readonly host: string;
  /** `/_ping`, with the headers the server negotiates by. */
  ping(): Promise<PingResult>;
  /** The version used for requests: min(server's, client's), found by one ping. */
  apiVersion(): Promise<string>;
  /** A request answering JSON (or nothing: 204/304 give undefined). Throws ClientError. */
  json<T>(method: string, path: string, options?: RequestOptions): Promise<T>;
  /** A request whose body is streamed back (logs, events, export). Throws on a non-2xx. */
  stream(method: string, path: string, options?: RequestOptions): Promise<IncomingMessage>;
  /** Attach / exec start: upgrades the connection and returns the raw socket. */
  hijack(method: string, path: string, options?: RequestOptions): Promise<Hijacked>;

  containerCreate(
    config: CreateContainerRequest,
    name?: string,
  ): Promise<{ Id: string; Warnings: string[] | null }>;
  containerStart(id: string): Promise<void>;
  containerList(options?: {
    all?: boolean;
    limit?: number;
    size?: boolean;
    filters?: Record<string, string[]>;
  }): Promise<ContainerSummary[]>;
  containerInspect(id: string, size?: boolean): Promise<Record<string, unknown>>;
  /**
   * Registers a wait and resolves once the server has (the response headers arrived), so that
   * a start sent afterwards cannot be missed; `result` settles when the condition holds.
   */
  containerWait(
    id: string,
    condition?: 'not-running' | 'next-exit' | 'removed',
  ): Promise<{ result: Promise<{ StatusCode: number; Error?: { Message: string } | null }> }>;
  containerStop(id: string, options?: { timeout?: number; signal?: string }): Promise<void>;
  containerKill(id: string, signal?: string): Promise<void>;
  containerRemove(id: string, options?: { force?: boolean; volumes?: boolean }): Promise<void>;
  containerResize(id: string, height: number, width: number): Promise<void>;
  containerAttach(
    id: string,
    options: {
      stdin: boolean;
      stdout: boolean;
      stderr: boolean;
      stream?: boolean;
      logs?: boolean;
      detachKeys?: string;
      /** The container's Config.Tty, to tell raw from multiplexed output. */
      tty: boolean;
    },
  ): Promise<Hijacked>;
  imageList(options?: {
    all?: boolean;
    digests?: boolean;
    filters?: Record<string, string[]>;
  }): Promise<ImageSummary[]>;
  imageInspect(name: string): Promise<Record<string, unknown>>;
  execCreate(id: string, config: Record<string, unknown>): Promise<{ Id: string }>;
  execStart(
    id: string,
    options: { Detach: boolean; Tty: boolean; ConsoleSize?: [number, number] },
  ): Promise<Hijacked | undefined>;
  execInspect(id: string): Promise<{ ExitCode: number | null; Running: boolean; Pid: number }>;
  execResize(id: string, height: number, width: number): Promise<void>;
  events(options: {
    since?: string;
    until?: string;
    filters?: Record<string, string[]>;
    signal?: AbortSignal;
  }): AsyncGenerator<EngineEvent>;
  /**
   * berth's `POST /berth/build/secrets`: hands build secrets to berthd's memory and returns the
   * one-use handle that `POST /build?berthsecrets=<handle>` claims them by. The values travel
   * in the request body only. A 404 means the engine is not berthd (dockerd has no such path).
   */
  stageBuildSecrets(secrets: ReadonlyMap<string, Buffer>): Promise<string>;
}

interface Endpoint {
  socketPath?: string;
  hostname?: string;
  port?: number;
}

/** TLS to a tcp host, as the docker CLI's --tls/--tlsverify: PEM bytes already read. */
export interface ClientTls {
  /** CAs the server's certificate must chain to; Node's defaults when absent. */
  ca?: Buffer;
  /** The client certificate and key presented to the server, when given. */
  cert?: Buffer;
  key?: Buffer;
  /** Check the server's certificate and name (--tlsverify); false is --tls alone. */
  verify: boolean;
}

/** Parses `unix:///path`, `/path`, `tcp://host:port`, `http://host:port`. */
export function parseHost(host: string): Endpoint {
  if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) };
  if (host.startsWith('/')) return { socketPath: host };
  const m = /^(?:tcp|http):\/\/([^:/]+)(?::(\d+))?\/?$/.exec(host);
  if (m) return { hostname: m[1] as string, port: Number(m[2] ?? 2375) };
  throw new ClientError(`unsupported host: ${host}`, 0);
}

export function encodeQuery(query: Query | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null) continue;
    if (Array.isArray(v)) for (const item of v) params.append(k, item);
    else if (typeof v === 'object') {
      if (Object.keys(v).length > 0) params.set(k, JSON.stringify(v));
    } else if (typeof v === 'boolean') params.set(k, v ? '1' : '0');
    else params.set(k, String(v));
  }
  const s = params.toString();
  return s === '' ? '' : `?${s}`;
}

function compare(a: string, b: string): number {
  const [, am = 0] = a.split('.').map(Number);
  const [, bm = 0] = b.split('.').map(Number);
  return am - bm;
}

async function readAll(res: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of res) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

function isMultiplexed(res: IncomingMessage, tty: boolean | undefined): boolean {
  const type = String(res.headers['content-type'] ?? '');
  if (type.includes('multiplexed')) return true;
  return tty === undefined ? false : !tty;
}

async function errorFrom(res: IncomingMessage): Promise<ClientError> {
  const body = (await readAll(res)).toString('utf8').trim();
  let message = body;
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    if (typeof parsed.message === 'string') message = parsed.message;
  } catch {
    // dockerd answers some errors as plain text.
  }
  if (message === '') message = `${res.statusCode ?? 0} ${res.statusMessage ?? ''}`.trim();
  return new ClientError(message, res.statusCode ?? 0);
}

class HttpEngineClient implements EngineClient {
  private readonly endpoint: Endpoint;
  private negotiated?: Promise<string>;
  private readonly tls: ClientTls | undefined;

  constructor(
    readonly host: string,
    fixedVersion?: string,
    tls?: ClientTls,
  ) {
    this.endpoint = parseHost(host);
    if (fixedVersion !== undefined) this.negotiated = Promise.resolve(fixedVersion);
    this.tls = this.endpoint.socketPath === undefined ? tls : undefined;
    if (this.tls && !/:\d+\/?$/.test(host.replace(/^[a-z]+:\/\//, ''))) {
      // The docker CLI's default port with TLS.
      this.endpoint.port = 2376;
    }
  }

  private tlsOptions(): Record<string, unknown> {
    const t = this.tls;
    // Without TLS no server name is sent; an empty one spares the http agent working it out
    // from the Host header, whose first IP test compiles a large regular expression (~5 ms of
    // every CLI command's start-up).
    if (!t) return { servername: '' };
    return {
      ...(t.ca ? { ca: t.ca } : {}),
      ...(t.cert ? { cert: t.cert } : {}),
      ...(t.key ? { key: t.key } : {}),
      rejectUnauthorized: t.verify,
      minVersion: 'TLSv1.2',
      // The server's name is checked against the host dialled, not the Host header; an IP
      // address is never sent as SNI.
      servername: isIP(this.endpoint.hostname ?? '') ? '' : this.endpoint.hostname,
    };
  }

  private connectError(cause: unknown): ClientError {
    const where = this.host;
    return new ClientError(
      `Cannot connect to the berth daemon at ${where}. Is the daemon running?`,
      0,
      { cause },
    );
  }

  private send(
    method: string,
    path: string,
    options: RequestOptions,
    onRequest?: (req: ClientRequest) => void,
  ): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { ...(options.headers ?? {}) };
      let payload: Buffer | undefined;
      let streamBody: Readable | undefined;
      const body = options.body;
      if (body !== undefined) {
        if (options.rawBody && body instanceof Buffer) payload = body;
        else if (options.rawBody) streamBody = body as Readable;
        else {
          payload = Buffer.from(JSON.stringify(body));
          headers['Content-Type'] ??= 'application/json';
        }
      }
      if (payload !== undefined) headers['Content-Length'] = String(payload.length);
      else if (streamBody === undefined && method !== 'GET' && method !== 'HEAD') {
        headers['Content-Length'] = '0';
      }
      const req = (this.tls ? httpsRequest : httpRequest)({
        ...this.endpoint,
        ...this.tlsOptions(),
        method,
        path,
        headers: { Host: 'berth', 'User-Agent': 'berth-cli/0.1.0', ...headers },
        ...(options.signal ? { signal: options.signal } : {}),
      });
      req.on('error', (err: Error & { code?: string }) => {
        if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED' || err.code === 'EACCES') {
          reject(this.connectError(err));
        } else if (this.tls && !options.signal?.aborted) {
          // A refused handshake (no or an unknown client certificate, an untrusted server).
          reject(
            new ClientError(`error during connect: ${this.host}: ${err.message}`, 0, {
              cause: err,
            }),
          );
        } else reject(err);
      });
      req.on('response', resolve);
      onRequest?.(req);
      if (streamBody) streamBody.pipe(req);
      else req.end(payload);
    });
  }

  async ping(): Promise<PingResult> {
    const res = await this.send('GET', '/_ping', {});
    await readAll(res);
    if ((res.statusCode ?? 500) >= 400 && res.headers['api-version'] === undefined) {
      throw new ClientError(`ping failed: ${res.statusCode ?? 0}`, res.statusCode ?? 0);
    }
    const h = res.headers;
    return {
      apiVersion: String(h['api-version'] ?? '1.24'),
      osType: String(h['ostype'] ?? ''),
      experimental: h['docker-experimental'] === 'true',
      ...(h['builder-version'] !== undefined
        ? { builderVersion: String(h['builder-version']) }
        : {}),
    };
  }

  apiVersion(): Promise<string> {
    this.negotiated ??= this.ping().then((p) =>
      compare(p.apiVersion, CLIENT_API_VERSION) < 0 ? p.apiVersion : CLIENT_API_VERSION,
    );
    // A failed negotiation is retried on the next call.
    this.negotiated.catch(() => {
      this.negotiated = undefined;
    });
    return this.negotiated;
  }

  private async url(path: string, query?: Query): Promise<string> {
    return `/v${await this.apiVersion()}${path}${encodeQuery(query)}`;
  }

  async stream(
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<IncomingMessage> {
    const res = await this.send(method, await this.url(path, options.query), options);
    if ((res.statusCode ?? 500) >= 400) throw await errorFrom(res);
    return res;
  }

  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.stream(method, path, options);
    const body = (await readAll(res)).toString('utf8').trim();
    if (body === '') return undefined as T;
    try {
      return JSON.parse(body) as T;
    } catch (cause) {
      throw new ClientError(
        `bad JSON from the daemon: ${body.slice(0, 200)}`,
        res.statusCode ?? 0,
        { cause },
      );
    }
  }

  async hijack(method: string, path: string, options: RequestOptions = {}): Promise<Hijacked> {
    const url = await this.url(path, options.query);
    return new Promise((resolve, reject) => {
      this.send(
        method,
        url,
        {
          ...options,
          headers: { ...(options.headers ?? {}), Connection: 'Upgrade', Upgrade: 'tcp' },
        },
        (req) => {
          req.on('upgrade', (res: IncomingMessage, socket: Duplex, head: Buffer) => {
            if (head.length > 0) socket.unshift(head);
            resolve({ socket, multiplexed: isMultiplexed(res, options.tty) });
          });
        },
      ).then(async (res) => {
        // No upgrade: an error, or a server that streams raw on a plain response.
        if ((res.statusCode ?? 500) >= 400) reject(await errorFrom(res));
        else {
          resolve({ socket: res.socket as Duplex, multiplexed: isMultiplexed(res, options.tty) });
        }
      }, reject);
    });
  }

  containerCreate(
    config: CreateContainerRequest,
    name?: string,
  ): Promise<{ Id: string; Warnings: string[] | null }> {
    return this.json('POST', '/containers/create', { query: { name }, body: config });
  }

  async stageBuildSecrets(secrets: ReadonlyMap<string, Buffer>): Promise<string> {
    const body = Buffer.from(
      JSON.stringify({
        Secrets: [...secrets].map(([ID, data]) => ({ ID, Data: data.toString('base64') })),
      }),
    );
    try {
      const res = await this.json<{ ID?: unknown }>('POST', '/berth/build/secrets', {
        body,
        rawBody: true,
        headers: { 'Content-Type': 'application/json' },
      });
      if (typeof res?.ID !== 'string')
        throw new ClientError('build secrets: no ID in the answer', 0);
      return res.ID;
    } finally {
      body.fill(0);
    }
  }

  async containerStart(id: string): Promise<void> {
    await this.json('POST', `/containers/${encodeURIComponent(id)}/start`);
  }

  containerList(
    options: {
      all?: boolean;
      limit?: number;
      size?: boolean;
      filters?: Record<string, string[]>;
    } = {},
  ): Promise<ContainerSummary[]> {
    return this.json('GET', '/containers/json', {
      query: {
        all: options.all || undefined,
        limit: options.limit,
        size: options.size || undefined,
        filters: options.filters,
      },
    });
  }

  containerInspect(id: string, size = false): Promise<Record<string, unknown>> {
    return this.json('GET', `/containers/${encodeURIComponent(id)}/json`, {
      query: { size: size || undefined },
    });
  }

  async containerWait(
    id: string,
    condition: 'not-running' | 'next-exit' | 'removed' = 'not-running',
  ): Promise<{ result: Promise<{ StatusCode: number; Error?: { Message: string } | null }> }> {
    const res = await this.stream('POST', `/containers/${encodeURIComponent(id)}/wait`, {
      query: { condition },
    });
    const result = readAll(res).then((b) => {
      const text = b.toString('utf8').trim();
      if (text === '') throw new ClientError('wait: the daemon closed the connection', 0);
      return JSON.parse(text) as { StatusCode: number; Error?: { Message: string } | null };
    });
    result.catch(() => undefined);
    return { result };
  }

  async containerStop(
    id: string,
    options: { timeout?: number; signal?: string } = {},
  ): Promise<void> {
    await this.json('POST', `/containers/${encodeURIComponent(id)}/stop`, {
      query: { t: options.timeout, signal: options.signal },
    });
  }

  async containerKill(id: string, signal?: string): Promise<void> {
    await this.json('POST', `/containers/${encodeURIComponent(id)}/kill`, { query: { signal } });
  }

  async containerRemove(
    id: string,
    options: { force?: boolean; volumes?: boolean } = {},
  ): Promise<void> {
    await this.json('DELETE', `/containers/${encodeURIComponent(id)}`, {
      query: { force: options.force || undefined, v: options.volumes || undefined },
    });
  }

  async containerResize(id: string, height: number, width: number): Promise<void> {
    await this.json('POST', `/containers/${encodeURIComponent(id)}/resize`, {
      query: { h: height, w: width },
    });
  }

  containerAttach(
    id: string,
    options: {
      stdin: boolean;
      stdout: boolean;
      stderr: boolean;
      stream?: boolean;
      logs?: boolean;
      detachKeys?: string;
      /** The container's Config.Tty, to tell raw from multiplexed output. */
      tty: boolean;
    },
  ): Promise<Hijacked> {
    return this.hijack('POST', `/containers/${encodeURIComponent(id)}/attach`, {
      query: {
        stream: options.stream ?? true,
        stdin: options.stdin,
        stdout: options.stdout,
        stderr: options.stderr,
        logs: options.logs || undefined,
        detachKeys: options.detachKeys,
      },
      tty: options.tty,
    });
  }

  imageList(
    options: { all?: boolean; digests?: boolean; filters?: Record<string, string[]> } = {},
  ): Promise<ImageSummary[]> {
    return this.json('GET', '/images/json', {
      query: {
        all: options.all || undefined,
        digests: options.digests || undefined,
        filters: options.filters,
      },
    });
  }

  imageInspect(name: string): Promise<Record<string, unknown>> {
    return this.json('GET', `/images/${name}/json`);
  }

  execCreate(id: string, config: Record<string, unknown>): Promise<{ Id: string }> {
    return this.json('POST', `/containers/${encodeURIComponent(id)}/exec`, { body: config });
  }

  async execStart(
    id: string,
    options: { Detach: boolean; Tty: boolean; ConsoleSize?: [number, number] },
  ): Promise<Hijacked | undefined> {
    if (options.Detach) {
      await this.json('POST', `/exec/${id}/start`, { body: options });
      return undefined;
    }
    return this.hijack('POST', `/exec/${id}/start`, { body: options, tty: options.Tty });
  }

  execInspect(id: string): Promise<{ ExitCode: number | null; Running: boolean; Pid: number }> {
    return this.json('GET', `/exec/${id}/json`);
  }

  async execResize(id: string, height: number, width: number): Promise<void> {
    await this.json('POST', `/exec/${id}/resize`, { query: { h: height, w: width } });
  }

  async *events(options: {
    since?: string;
    until?: string;
    filters?: Record<string, string[]>;
    signal?: AbortSignal;
  }): AsyncGenerator<EngineEvent> {
    const res = await this.stream('GET', '/events', {
      query: { since: options.since, until: options.until, filters: options.filters },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    yield* jsonLines<EngineEvent>(res);
  }
}

/**
 * A client for `host`. `apiVersion` fixes the version (skipping the ping), as DOCKER_API_VERSION
 * does for the docker CLI.
 */
export function newClient(
  host: string,
  options: { apiVersion?: string; tls?: ClientTls } = {},
): EngineClient {
  return new HttpEngineClient(host, options.apiVersion, options.tls);
}
