import type { Readable } from 'node:stream';

export type StreamName = 'stdin' | 'stdout' | 'stderr';

export interface Frame {
  stream: StreamName;
  data: Buffer;
}

const NAMES: StreamName[] = ['stdin', 'stdout', 'stderr'];

/** Encodes one multiplexed frame (what a server sends; handy for tests). */
export function encodeFrame(stream: StreamName, data: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = NAMES.indexOf(stream);
  header.writeUInt32BE(data.length, 4);
  return Buffer.concat([header, data]);
}

/**
 * A push-style demuxer for Docker's multiplexed stream: feed it bytes in any chunking; it calls
 * `onFrame` for each complete frame. `pending()` tells how many bytes of a partial frame wait.
 */
export function newDemuxer(onFrame: (frame: Frame) => void): {
  push(chunk: Buffer): void;
  pending(): number;
} {
  let buf: Buffer = Buffer.alloc(0);
  return {
    push(chunk: Buffer): void {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      while (buf.length >= 8) {
        const size = buf.readUInt32BE(4);
        if (buf.length < 8 + size) break;
        const kind = buf[0] as number;
        const stream: StreamName = kind === 2 ? 'stderr' : kind === 0 ? 'stdin' : 'stdout';
        onFrame({ stream, data: buf.subarray(8, 8 + size) });
        buf = buf.subarray(8 + size);
      }
    },
    pending(): number {
      return buf.length;
    },
  };
}

/** Frames of a multiplexed stream, in order. */
export async function* demux(source: Readable): AsyncGenerator<Frame> {
  const frames: Frame[] = [];
  const d = newDemuxer((f) => frames.push(f));
  for await (const chunk of source) {
    d.push(chunk as Buffer);
    while (frames.length > 0) yield frames.shift() as Frame;
  }
}

/** Parsed values of a JSON-lines (or concatenated JSON) stream such as `/events`. */
export async function* jsonLines<T = unknown>(source: Readable): AsyncGenerator<T> {
  let text = '';
  for await (const chunk of source) {
    text += (chunk as Buffer).toString('utf8');
    let nl: number;
    while ((nl = text.indexOf('\n')) >= 0) {
      const line = text.slice(0, nl).trim();
      text = text.slice(nl + 1);
      if (line !== '') yield JSON.parse(line) as T;
    }
  }
  if (text.trim() !== '') yield JSON.parse(text) as T;
}
