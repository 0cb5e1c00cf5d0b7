import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { isNotFound } from '../errors/index.js';

/**
 * Writes a file so that readers see either the old content or the new, never a mix: a temporary
 * file beside it, fsync, rename, fsync of the directory. A crash at any instant leaves either
 * the old file or the new one (plus, at worst, a `.tmp-*` file that {@link removeTempFiles}
 * sweeps).
 */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  options: { mode?: number; sync?: boolean } = {},
): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.tmp-${path.basename(file)}-${randomBytes(6).toString('hex')}`);
  const sync = options.sync ?? true;
  const handle = await fs.open(tmp, 'wx', options.mode ?? 0o644);
  try {
    await handle.writeFile(data);
    if (sync) await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.rename(tmp, file);
  } catch (err: unknown) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  if (sync) await syncDir(dir);
}

export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(value));
}

/** Reads a JSON file, or returns undefined when it does not exist. */
export async function readJsonIfExists<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as T;
  } catch (err: unknown) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Removes the temporary files a crash inside {@link writeFileAtomic} may have left in `dir`. */
export async function removeTempFiles(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err: unknown) {
    if (isNotFound(err)) return;
    throw err;
  }
  await Promise.all(
    names
      .filter((n) => n.startsWith('.tmp-'))
      .map((n) => fs.rm(path.join(dir, n), { force: true })),
  );
}
