import type { Duplex, Readable, Writable } from 'node:stream';
import type { Exchange } from './exchange.js';

export type StreamName = 'stdin' | 'stdout' | 'stderr';

const STREAM_BYTE: Record<StreamName, number> = { stdin: 0, stdout: 1, stderr: 2 };

/** One frame of Docker's multiplexed stream: [stream, 0, 0, 0, size u32 BE] + payload. */
export function encodeFrame(stream: StreamName, data: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = STREAM_BYTE[stream];
  header.writeUInt32BE(data.length, 4);
  return Buffer.concat([header, data]);
}

/** The attach/logs content type dockerd picks for a client version. */
export function rawStreamType(tty: boolean, version: string): string {
  const [, minor = 0] = version.split('.').map(Number);
  return !tty && minor >= 42
    ? 'application/vnd.docker.multiplexed-stream'
    : 'application/vnd.docker.raw-stream';
}

/** Writes to an exchange, waiting for the peer when it pushes back. */
export async function writeOut(ex: Exchange, chunk: Buffer | string): Promise<void> {
  if (!ex.write(chunk)) await ex.drain();
}

/** Ends a JSON-lines stream entry. */
export function jsonLine(value: unknown): string {
  return JSON.stringify(value) + '\n';
}

/**
 * Copies input to the container, watching for the detach sequence (default ctrl-p ctrl-q).
 * Bytes of a partial match are held back until the next byte shows it is not the sequence.
 */
export function newEscapeFilter(
  keys: number[],
): (chunk: Buffer) => { data: Buffer; detach: boolean } {
  let held: number[] = [];
  return (chunk) => {
    const out: number[] = [];
    for (const byte of chunk) {
      if (byte === keys[held.length]) {
        held.push(byte);
        if (held.length === keys.length) {
          return { data: Buffer.from(out), detach: true };
        }
        continue;
      }
      out.push(...held);
      held = [];
      if (byte === keys[0]) held.push(byte);
      else out.push(byte);
    }
    return { data: Buffer.from(out), detach: false };
  };
}

/** Parses detach keys as docker spells them: `ctrl-p,ctrl-q`, `a`, `ctrl-@`. */
export function parseDetachKeys(spec: string | undefined): number[] {
  const text = spec === undefined || spec === '' ? 'ctrl-p,ctrl-q' : spec;
  return text.split(',').map((key) => {
    const k = key.trim().toLowerCase();
    if (k.startsWith('ctrl-') && k.length === 6) {
      const c = k.charCodeAt(5);
      if (c >= 0x61 && c <= 0x7a) return c - 0x60;
      const specials: Record<string, number> = {
        '@': 0,
        '[': 27,
        '\\': 28,
        ']': 29,
        '^': 30,
        _: 31,
      };
      const v = specials[k[5] as string];
      if (v !== undefined) return v;
    }
    if (k.length === 1) return k.charCodeAt(0);
    return 0x10;
  });
}

export interface Attached {
  output: Readable;
  input?: Writable;
  tty: boolean;
  close(): void;
}

/**
 * Runs a hijacked attach: output chunks go to the socket (framed unless TTY), socket bytes go
 * to the input. When the client half-closes, the container's stdin ends but output keeps
 * flowing; when the output ends the socket is closed.
 */
export function pumpAttachment(
  socket: Duplex,
  att: Attached,
  options: { detachKeys?: string; stdout: boolean; stderr: boolean },
): Promise<void> {
  return new Promise((resolve) => {
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      att.close();
      resolve();
    };
    att.output.on('data', (chunk: { stream: 'stdout' | 'stderr'; data: Buffer }) => {
      if (chunk.stream === 'stdout' && !options.stdout) return;
      if (chunk.stream === 'stderr' && !options.stderr) return;
      const payload = att.tty ? chunk.data : encodeFrame(chunk.stream, chunk.data);
      if (!socket.write(payload)) {
        att.output.pause();
        socket.once('drain', () => att.output.resume());
      }
    });
    att.output.on('end', () => {
      socket.end();
      finish();
    });
    att.output.on('error', () => {
      socket.destroy();
      finish();
    });
    socket.on('close', finish);
    socket.on('error', finish);
    const input = att.input;
    if (input) {
      const filter = att.tty ? newEscapeFilter(parseDetachKeys(options.detachKeys)) : undefined;
      socket.on('data', (chunk: Buffer) => {
        if (!filter) {
          if (!input.write(chunk)) {
            socket.pause();
            input.once('drain', () => socket.resume());
          }
          return;
        }
        const { data, detach } = filter(chunk);
        if (data.length > 0) input.write(data);
        if (detach) {
          socket.end();
          finish();
        }
      });
      socket.on('end', () => {
        if (!finished) input.end();
      });
      input.on('error', () => undefined);
    }
    // The body reader may have paused the socket; a data listener alone does not resume it.
    socket.resume();
  });
}

/** Streams a readable as the response body, honouring backpressure and client aborts. */
export async function pipeTo(ex: Exchange, source: Readable): Promise<void> {
  const abort = (): void => {
    source.destroy();
  };
  ex.signal.addEventListener('abort', abort);
  try {
    for await (const chunk of source) {
      await writeOut(ex, chunk as Buffer);
      if (ex.signal.aborted) break;
    }
  } finally {
    ex.signal.removeEventListener('abort', abort);
  }
  ex.end();
}
