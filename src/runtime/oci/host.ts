import { promises as fs } from 'node:fs';
import { isNotFound } from '../../errors/index.js';

// Host facts the pure spec builder takes as input.

/** A static init for --init: tini-static where installed (containers may lack a libc), else tini, else catatonit. */
export async function findInitBinary(): Promise<string | undefined> {
  for (const candidate of [
    '/usr/bin/tini-static',
    '/usr/bin/tini',
    '/usr/bin/catatonit',
    '/usr/libexec/podman/catatonit',
  ]) {
    try {
      await fs.access(candidate, fs.constants.X_OK);
      return candidate;
    } catch (err: unknown) {
      if (isNotFound(err)) continue;
      throw err;
    }
  }
  return undefined;
}
