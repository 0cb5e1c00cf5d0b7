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
  options: { stdout: boolean; stderr: boolean },
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
      // The detach keys are the attachment's to watch (it closes itself on them).
      socket.on('data', (chunk: Buffer) => {
        if (!input.write(chunk)) {
          socket.pause();
          input.once('drain', () => socket.resume());
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
