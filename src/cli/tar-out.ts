import { createWriteStream } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ExitError } from './command.js';

/** Writes a tar stream to `-o file`, or to stdout unless it is a terminal. */
export async function tarTo(
  source: Readable,
  output: string | undefined,
  stdout: Writable,
  what: string,
): Promise<void> {
  if (output === undefined || output === '-') {
    if ((stdout as unknown as { isTTY?: boolean }).isTTY) {
      source.destroy();
      throw new ExitError(
        `cowardly refusing to save to a terminal. Use the -o flag or redirect`,
        1,
      );
    }
    for await (const chunk of source) {
      if (!stdout.write(chunk as Buffer)) await new Promise((r) => stdout.once('drain', r));
    }
    return;
  }
  try {
    await pipeline(source, createWriteStream(output));
  } catch (cause) {
    throw new ExitError(`failed to ${what}: ${(cause as Error).message}`, 1);
  }
}
