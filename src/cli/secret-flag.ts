import { promises as fs } from 'node:fs';
import { csvFields } from './mount-flag.js';

/**
 * `build --secret` as docker buildx reads it: CSV fields `id=`, `src=`/`source=`, `env=` and
 * `type=file|env` (where `type=env,src=X` means the variable X); then as BuildKit's secrets
 * provider resolves it: a secret with neither file nor variable is the variable named by its
 * id when the environment has one, else the file of that name.
 */

/** BuildKit's limit for one secret file. */
export const maxSecretFileSize = 500 * 1024;

export interface SecretFlag {
  id: string;
  /** A file to read (relative to the working directory). */
  file?: string;
  /** An environment variable of the client to read. */
  env?: string;
}

/** Thrown for a bad `--secret`: one line that names the value as given. */
export class SecretFlagError extends Error {
  override name = 'SecretFlagError';
}

/** Parses one `--secret` value; SecretFlagError with buildx's words for each fault. */
export function parseSecretFlag(raw: string): SecretFlag {
  const fail = (msg: string): SecretFlagError =>
    new SecretFlagError(`invalid argument "${raw}" for "--secret" flag: ${msg}`);
  let id = '';
  let file = '';
  let env = '';
  let type = '';
  for (const field of csvFields(raw)) {
    const eq = field.indexOf('=');
    if (eq < 0) throw fail(`invalid field '${field}' must be a key=value pair`);
    const key = field.slice(0, eq).toLowerCase();
    const value = field.slice(eq + 1);
    switch (key) {
      case 'type':
        if (value !== 'file' && value !== 'env') throw fail(`unsupported secret type "${value}"`);
        type = value;
        break;
      case 'id':
        id = value;
        break;
      case 'source':
      case 'src':
        file = value;
        break;
      case 'env':
        env = value;
        break;
      default:
        throw fail(`unexpected key '${key}' in '${field}'`);
    }
  }
  if (type === 'env' && env === '') {
    env = file;
    file = '';
  }
  if (id === '') throw fail('secret missing ID');
  const out: SecretFlag = { id };
  if (file !== '') out.file = file;
  if (env !== '') out.env = env;
  return out;
}

/**
 * Reads the secrets' values, as BuildKit's store does: the default source by the id, a file
 * checked for existence and size, an unset variable given by `env=` read as empty. An id
 * given twice keeps the last. SecretFlagError for a file that cannot be read.
 */
export async function readSecrets(
  flags: readonly SecretFlag[],
  env: Readonly<Record<string, string | undefined>>,
): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  try {
    for (const f of flags) {
      let file = f.file;
      let name = f.env;
      if (file === undefined && name === undefined) {
        if (env[f.id] !== undefined) name = f.id;
        else file = f.id;
      }
      if (name !== undefined) {
        out.get(f.id)?.fill(0);
        out.set(f.id, Buffer.from(env[name] ?? '', 'utf8'));
        continue;
      }
      const path = file as string;
      let size: number;
      try {
        size = (await fs.stat(path)).size;
      } catch (err: unknown) {
        throw new SecretFlagError(`failed to stat ${path}: stat ${path}: ${errnoText(err)}`);
      }
      if (size > maxSecretFileSize)
        throw new SecretFlagError(`secret ${f.id} too big. max size 500KB`);
      let data: Buffer;
      try {
        data = await fs.readFile(path);
      } catch (err: unknown) {
        throw new SecretFlagError(`open ${path}: ${errnoText(err)}`);
      }
      if (data.length > maxSecretFileSize) {
        data.fill(0);
        throw new SecretFlagError(`secret ${f.id} too big. max size 500KB`);
      }
      out.get(f.id)?.fill(0);
      out.set(f.id, data);
    }
  } catch (err: unknown) {
    for (const b of out.values()) b.fill(0);
    throw err;
  }
  return out;
}

/** Go's words for the errors a file read meets. */
function errnoText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  if (code === 'ENOTDIR') return 'not a directory';
  return err instanceof Error ? err.message : String(err);
}
