import net from 'node:net';
import { Duplex } from 'node:stream';
import { ConflictError, errnoCode, NotFoundError } from '../../errors/index.js';
import { native } from '../../util/native.js';
import type { AttachStream, OutputChunk } from '../runtime.js';

// conmon's attach socket is SOCK_SEQPACKET: every packet it sends starts with a byte naming
// the pipe (2 stdout, 3 stderr); what a client sends is written to the container's stdin, and
// a client's EOF closes that stdin. The native bridge frames packets as [u32 BE length][packet].
const streamIds: Record<number, OutputChunk['stream']> = { 2: 'stdout', 3: 'stderr' };

/** Connects to a conmon attach socket; rejects with NotFoundError when nothing listens there. */
export function connectAttach(socketPath: string, what: string): AttachStream {
  let fd: number;
  try {
    fd = native().seqpacketBridge(socketPath);
  } catch (err: unknown) {
    const code = errnoCode(err);
    if (code === 'ENOENT') throw new NotFoundError(`no attach socket for ${what}`, { cause: err });
    if (code === 'ECONNREFUSED') {
      throw new ConflictError(`${what} is not running`, { cause: err });
    }
    throw err;
  }
  const socket = new net.Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
  return new AttachDuplex(socket);
}

class AttachDuplex extends Duplex {
  readonly #socket: net.Socket;
  #pending: Buffer = Buffer.alloc(0);

  constructor(socket: net.Socket) {
    super({ readableObjectMode: true, writableObjectMode: false, allowHalfOpen: true });
    this.#socket = socket;
    socket.on('data', (b: Buffer) => this.#onData(b));
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => {
      if (!this.readableEnded) this.push(null);
    });
  }

  #onData(b: Buffer): void {
    this.#pending = this.#pending.length === 0 ? b : Buffer.concat([this.#pending, b]);
    let off = 0;
    let paused = false;
    while (this.#pending.length - off >= 4) {
      const len = this.#pending.readUInt32BE(off);
      if (this.#pending.length - off - 4 < len) break;
      const packet = this.#pending.subarray(off + 4, off + 4 + len);
      off += 4 + len;
      const stream = streamIds[packet[0] ?? 0];
      if (stream && packet.length > 1) {
        const chunk: OutputChunk = { stream, data: Buffer.from(packet.subarray(1)) };
        if (!this.push(chunk)) paused = true;
      }
    }
    this.#pending = this.#pending.subarray(off);
    if (paused) this.#socket.pause();
  }

  override _read(): void {
    this.#socket.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#socket.write(chunk, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#socket.end(cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#socket.destroy();
    cb(err);
  }
}
