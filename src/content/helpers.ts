import type { Readable } from 'node:stream';
import type { Digest } from '../util/digest.js';
import type { Info, Ingester, Provider } from './content.js';

/** Reads a whole committed blob into memory; NotFoundError when absent. */
export async function readBlob(provider: Provider, digest: Digest): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await provider.reader(digest)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Writes one blob from memory and commits it, verified against `expected` when given
 * (InvalidArgumentError on mismatch, and nothing is published).
 */
export async function writeBlob(
  ingester: Ingester,
  data: Uint8Array,
  expected?: Digest,
): Promise<Info> {
  const writer = await ingester.writer();
  try {
    await writer.write(data);
    return await writer.commit(expected, data.byteLength);
  } finally {
    await writer.abort();
  }
}

/**
 * Writes one blob from a stream and commits it, verified against `expected` (digest and,
 * when given, size).
 */
export async function writeStream(
  ingester: Ingester,
  readable: Readable,
  expected?: Digest,
  size?: number,
): Promise<Info> {
  const writer = await ingester.writer();
  try {
    for await (const chunk of readable) {
      await writer.write(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array));
    }
    return await writer.commit(expected, size);
  } finally {
    await writer.abort();
  }
}
