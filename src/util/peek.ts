import { Readable } from 'node:stream';

/**
 * The first `n` bytes of a stream (fewer if it is shorter), to tell what it holds, and a
 * stream of all of it, those bytes included. Closing the returned stream ends the input's
 * iteration.
 */
export async function peekStream(
  input: Readable,
  n: number,
): Promise<{ head: Buffer; stream: Readable }> {
  const it = input[Symbol.asyncIterator]() as AsyncIterator<Buffer | Uint8Array | string>;
  const asBuffer = (v: Buffer | Uint8Array | string): Buffer =>
    Buffer.isBuffer(v) ? v : typeof v === 'string' ? Buffer.from(v) : Buffer.from(v);
  const chunks: Buffer[] = [];
  let len = 0;
  let ended = false;
  while (len < n) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    const b = asBuffer(r.value);
    chunks.push(b);
    len += b.length;
  }
  const head = Buffer.concat(chunks);
  async function* all(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    if (ended) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield asBuffer(r.value);
    }
  }
  const stream = Readable.from(all(), { objectMode: false });
  stream.on('close', () => {
    void it.return?.();
  });
  return { head, stream };
}
