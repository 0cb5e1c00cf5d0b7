import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import { InvalidArgumentError } from '../errors/index.js';

/** Headers dockerd puts on every response; the docker CLI negotiates from Api-Version. */
export const API_VERSION = '1.47';
export const MIN_API_VERSION = '1.24';
export const SERVER_HEADERS: Record<string, string> = {
  'Api-Version': API_VERSION,
  'Docker-Experimental': 'false',
  Ostype: 'linux',
  Server: 'Berth/0.1.0 (linux)',
};

/**
 * One request and the way to answer it. A plain request answers through node's
 * ServerResponse; an upgrade request (attach, exec start) arrives as a bare socket, so every
 * answer is written as raw HTTP/1.1 on it and the connection closes afterwards.
 */
export interface Exchange {
  readonly req: IncomingMessage;
  readonly method: string;
  /** The path without the `/v1.NN` prefix. */
  path: string;
  /** The API version the client asked for (the prefix), or the server's. */
  version: string;
  query: URLSearchParams;
  params: Record<string, string>;
  /** True once a status line has gone out. */
  readonly headersSent: boolean;
  /** True when the client sent `Upgrade: tcp` (hijack). */
  readonly upgrade: boolean;
  /** The whole body (for JSON). */
  body(): Promise<Buffer>;
  /** The body as a stream (archives, image tarballs). */
  bodyStream(): Readable;
  json(status: number, value: unknown): void;
  /** A response with no body (204, 304, or 200 with a Content-Length of 0). */
  empty(status: number, headers?: Record<string, string>): void;
  text(status: number, text: string, contentType?: string): void;
  /** Starts a streamed response of unknown length. */
  stream(status: number, headers: Record<string, string>): void;
  write(chunk: Buffer | string): boolean;
  end(): void;
  /** Waits until the peer is ready for more (after write returned false). */
  drain(): Promise<void>;
  /**
   * Takes the connection over for a raw bidirectional stream: `101 UPGRADED` when the client
   * asked for an upgrade, else `200 OK` followed by raw bytes.
   */
  hijack(contentType: string): Duplex;
  /** Aborts when the client goes away. */
  readonly signal: AbortSignal;
  /** Breaks the connection after a failure in the middle of a stream. */
  destroy(): void;
}

function headerBlock(status: number, headers: Record<string, string>): string {
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`];
  for (const [k, v] of Object.entries({ ...SERVER_HEADERS, ...headers })) lines.push(`${k}: ${v}`);
  lines.push(`Date: ${new Date().toUTCString()}`);
  return lines.join('\r\n') + '\r\n\r\n';
}

class PlainExchange implements Exchange {
  path: string;
  version = API_VERSION;
  query: URLSearchParams;
  params: Record<string, string> = {};
  readonly upgrade = false;
  readonly signal: AbortSignal;
  private consumed = false;
  private hijacked = false;

  constructor(
    readonly req: IncomingMessage,
    private readonly res: ServerResponse,
  ) {
    const url = new URL(req.url ?? '/', 'http://berth');
    this.path = url.pathname;
    this.query = url.searchParams;
    const ac = new AbortController();
    this.signal = ac.signal;
    res.on('close', () => ac.abort());
  }

  get method(): string {
    return this.req.method ?? 'GET';
  }

  get headersSent(): boolean {
    return this.res.headersSent || this.hijacked;
  }

  async body(): Promise<Buffer> {
    this.consumed = true;
    const parts: Buffer[] = [];
    for await (const chunk of this.req) parts.push(chunk as Buffer);
    return Buffer.concat(parts);
  }

  bodyStream(): Readable {
    this.consumed = true;
    return this.req;
  }

  private head(status: number, headers: Record<string, string>): void {
    for (const [k, v] of Object.entries(SERVER_HEADERS)) this.res.setHeader(k, v);
    this.res.writeHead(status, headers);
    // Unread request bodies would otherwise stall a keep-alive connection.
    if (!this.consumed) this.req.resume();
  }

  json(status: number, value: unknown): void {
    const body = JSON.stringify(value) + '\n';
    this.head(status, {
      'Content-Type': 'application/json',
      'Content-Length': String(Buffer.byteLength(body)),
    });
    this.res.end(body);
  }

  empty(status: number, headers: Record<string, string> = {}): void {
    const extra: Record<string, string> =
      status === 304 || status === 204 ? {} : { 'Content-Length': '0' };
    this.head(status, { ...extra, ...headers });
    this.res.end();
  }

  text(status: number, text: string, contentType = 'text/plain; charset=utf-8'): void {
    this.head(status, {
      'Content-Type': contentType,
      'Content-Length': String(Buffer.byteLength(text)),
    });
    this.res.end(text);
  }

  stream(status: number, headers: Record<string, string>): void {
    this.head(status, headers);
    this.res.flushHeaders();
  }

  write(chunk: Buffer | string): boolean {
    return this.res.write(chunk);
  }

  end(): void {
    this.res.end();
  }

  drain(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }

  hijack(contentType: string): Duplex {
    // Without an upgrade the stream still goes raw on the connection (no chunking), which then
    // closes, the way dockerd answers a non-upgrade attach.
    this.res.useChunkedEncodingByDefault = false;
    this.res.shouldKeepAlive = false;
    this.head(200, { 'Content-Type': contentType });
    this.res.flushHeaders();
    this.hijacked = true;
    return this.req.socket;
  }

  destroy(): void {
    this.res.destroy();
  }
}

class UpgradeExchange implements Exchange {
  path: string;
  version = API_VERSION;
  query: URLSearchParams;
  params: Record<string, string> = {};
  readonly upgrade = true;
  readonly signal: AbortSignal;
  private sent = false;
  private bodyRead?: Promise<Buffer>;

  constructor(
    readonly req: IncomingMessage,
    private readonly socket: Duplex,
    head: Buffer,
  ) {
    const url = new URL(req.url ?? '/', 'http://berth');
    this.path = url.pathname;
    this.query = url.searchParams;
    // Hold the client's bytes (stdin) until a handler takes them; a flowing socket with no
    // listener would drop them.
    socket.pause();
    if (head.length > 0) socket.unshift(head);
    const ac = new AbortController();
    this.signal = ac.signal;
    socket.on('close', () => ac.abort());
  }

  get method(): string {
    return this.req.method ?? 'GET';
  }

  get headersSent(): boolean {
    return this.sent;
  }

  body(): Promise<Buffer> {
    this.bodyRead ??= this.readBody();
    return this.bodyRead;
  }

  // Node does not parse the body of an upgrade request: read Content-Length bytes off the
  // socket and leave the rest (the client's stdin) there.
  private readBody(): Promise<Buffer> {
    const length = Number(this.req.headers['content-length'] ?? 0);
    if (!Number.isFinite(length) || length <= 0) return Promise.resolve(Buffer.alloc(0));
    return new Promise((resolve, reject) => {
      const parts: Buffer[] = [];
      let have = 0;
      const onData = (chunk: Buffer): void => {
        const need = length - have;
        if (chunk.length > need) {
          parts.push(chunk.subarray(0, need));
          have = length;
          this.socket.pause();
          this.socket.unshift(chunk.subarray(need));
        } else {
          parts.push(chunk);
          have += chunk.length;
        }
        if (have >= length) {
          cleanup();
          this.socket.pause();
          resolve(Buffer.concat(parts));
        }
      };
      const onEnd = (): void => {
        cleanup();
        reject(new InvalidArgumentError('request body ended early'));
      };
      const cleanup = (): void => {
        this.socket.off('data', onData);
        this.socket.off('end', onEnd);
      };
      this.socket.on('data', onData);
      this.socket.on('end', onEnd);
      this.socket.resume();
    });
  }

  bodyStream(): Readable {
    return this.socket;
  }

  private raw(status: number, headers: Record<string, string>, body?: Buffer | string): void {
    this.sent = true;
    this.socket.write(headerBlock(status, headers));
    if (body !== undefined) this.socket.end(body);
  }

  json(status: number, value: unknown): void {
    const body = JSON.stringify(value) + '\n';
    this.raw(
      status,
      {
        'Content-Type': 'application/json',
        'Content-Length': String(Buffer.byteLength(body)),
        Connection: 'close',
      },
      body,
    );
  }

  empty(status: number, headers: Record<string, string> = {}): void {
    const extra: Record<string, string> =
      status === 304 || status === 204 ? {} : { 'Content-Length': '0' };
    this.raw(status, { ...extra, Connection: 'close', ...headers }, '');
  }

  text(status: number, text: string, contentType = 'text/plain; charset=utf-8'): void {
    this.raw(
      status,
      {
        'Content-Type': contentType,
        'Content-Length': String(Buffer.byteLength(text)),
        Connection: 'close',
      },
      text,
    );
  }

  stream(status: number, headers: Record<string, string>): void {
    this.raw(status, { ...headers, Connection: 'close' });
  }

  write(chunk: Buffer | string): boolean {
    return this.socket.write(chunk);
  }

  end(): void {
    this.socket.end();
  }

  drain(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  hijack(contentType: string): Duplex {
    this.sent = true;
    const lines = [
      'HTTP/1.1 101 UPGRADED',
      `Content-Type: ${contentType}`,
      'Connection: Upgrade',
      'Upgrade: tcp',
    ];
    this.socket.write(lines.join('\r\n') + '\r\n\r\n');
    return this.socket;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export function plainExchange(req: IncomingMessage, res: ServerResponse): Exchange {
  return new PlainExchange(req, res);
}

export function upgradeExchange(req: IncomingMessage, socket: Duplex, head: Buffer): Exchange {
  return new UpgradeExchange(req, socket, head);
}
