import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, NotFoundError, UnavailableError } from '../errors/index.js';
import { mountAll, unmountAll } from '../mount/mount-linux.js';
import type { HostConfigMount } from '../spec/engine.js';
import type { SecretMount } from './dockerfile/instructions.js';

/**
 * Build secrets (`RUN --mount=type=secret`) on the daemon's side: the staging store that holds
 * them between `POST /berth/build/secrets` and the `POST /build` that claims them, and the
 * per-RUN tmpfs their files are mounted from. Secret bytes live in memory and on that tmpfs
 * only: never in a file on disk, a record, a log line, an image or a cache key.
 */

/** BuildKit's limit for one secret (its secrets provider refuses larger files). */
export const maxSecretSize = 500 * 1024;
/** How many secrets one build may be given. */
export const maxSecretsPerBuild = 128;
/** How long staged secrets wait for their build before they are dropped. */
export const defaultStagedTtlMs = 60_000;
/** How many stagings may wait at once (each is at most 128 × 500 KiB). */
export const maxStaged = 32;

export type Secrets = ReadonlyMap<string, Buffer>;

/** Checks a set of secrets as a client sent it: ids and sizes. InvalidArgumentError. */
export function checkSecrets(secrets: Secrets): void {
  if (secrets.size > maxSecretsPerBuild)
    throw new InvalidArgumentError(
      `too many secrets: ${secrets.size} (at most ${maxSecretsPerBuild})`,
    );
  for (const [id, data] of secrets) {
    if (id === '') throw new InvalidArgumentError('secret missing ID');
    if (data.length > maxSecretSize)
      throw new InvalidArgumentError(`secret ${id} too big. max size 500KB`);
  }
}

/** Overwrites secret bytes once nothing needs them any more. */
export function wipeSecrets(secrets: Secrets): void {
  for (const b of secrets.values()) b.fill(0);
}

export interface StagedSecrets {
  /**
   * Holds `secrets` for one coming build and returns the handle the build names them by:
   * 32 random bytes in hex, worthless once claimed or expired. UnavailableError when too many
   * stagings are waiting.
   */
  stage(secrets: Secrets): string;
  /**
   * The secrets staged under `handle`, removed from the store (a handle is good once).
   * NotFoundError when it is unknown, used or expired.
   */
  take(handle: string): Map<string, Buffer>;
  /** Drops (and wipes) everything still waiting. */
  close(): void;
}

/** The staging store: a map in memory, each entry dropped after `ttlMs` unless claimed. */
export function newStagedSecrets(options: { ttlMs?: number; max?: number } = {}): StagedSecrets {
  const ttl = options.ttlMs ?? defaultStagedTtlMs;
  const max = options.max ?? maxStaged;
  const waiting = new Map<string, { secrets: Map<string, Buffer>; timer: NodeJS.Timeout }>();
  const drop = (handle: string): void => {
    const e = waiting.get(handle);
    if (!e) return;
    clearTimeout(e.timer);
    waiting.delete(handle);
    wipeSecrets(e.secrets);
  };
  return {
    stage(secrets) {
      checkSecrets(secrets);
      if (waiting.size >= max)
        throw new UnavailableError('too many build secret stagings waiting for their builds');
      const handle = randomBytes(32).toString('hex');
      const timer = setTimeout(() => drop(handle), ttl);
      timer.unref();
      waiting.set(handle, { secrets: new Map(secrets), timer });
      return handle;
    },
    take(handle) {
      const e = waiting.get(handle);
      if (!e) throw new NotFoundError('build secrets not found: unknown, already used or expired');
      clearTimeout(e.timer);
      waiting.delete(handle);
      return e.secrets;
    },
    close() {
      for (const h of [...waiting.keys()]) drop(h);
    },
  };
}

/** What one RUN gets of its secret mounts. */
export interface RunSecrets {
  /** Read-only binds of the secret files from the RUN's tmpfs. */
  mounts: HostConfigMount[];
  /** `NAME=value` for the `env=` mounts: the process environment of that RUN only. */
  env: string[];
  /** The file targets (absolute), which are no part of the step's layer. */
  targets: string[];
  /** Unmounts the tmpfs (its files go with it) and removes its mount point. */
  release(): Promise<void>;
}

/**
 * Puts a RUN's secrets in place: a tmpfs at `dir` (made here, mode 0700) with one file per
 * mount that asks for a file, owned and moded as the mount says; a missing secret is left out,
 * unless required (InvalidArgumentError `secret <id>: not found`, BuildKit's words).
 */
export async function mountRunSecrets(
  dir: string,
  specs: readonly SecretMount[],
  secrets: Secrets,
  /** Container ids → host ids (the daemon's --userns-remap); identity without it. */
  hostIds?: (uid: number, gid: number) => { uid: number; gid: number },
): Promise<RunSecrets> {
  const out: RunSecrets = { mounts: [], env: [], targets: [], release: async () => {} };
  const present: { spec: SecretMount; data: Buffer }[] = [];
  for (const spec of specs) {
    const data = secrets.get(spec.id);
    if (data === undefined) {
      if (spec.required) throw new InvalidArgumentError(`secret ${spec.id}: not found`);
      continue;
    }
    present.push({ spec, data });
    if (spec.env !== undefined) out.env.push(`${spec.env}=${data.toString('utf8')}`);
  }
  const files = present.filter((p) => p.spec.target !== undefined);
  if (files.length === 0) return out;
  await fs.mkdir(dir, { mode: 0o700 });
  const size = files.reduce((n, f) => n + f.data.length, 0) + 64 * 1024;
  try {
    await mountAll(
      [
        {
          type: 'tmpfs',
          source: 'tmpfs',
          options: ['nosuid', 'nodev', 'noexec', 'mode=0700', `size=${size}`],
        },
      ],
      dir,
    );
  } catch (err: unknown) {
    await fs.rmdir(dir).catch(() => undefined);
    throw err;
  }
  out.release = async () => {
    await unmountAll(dir, { detach: true });
    await fs.rmdir(dir).catch(() => undefined);
  };
  try {
    for (const [i, { spec, data }] of files.entries()) {
      const file = path.join(dir, `secret-${i}`);
      await fs.writeFile(file, data, { mode: 0o600, flag: 'wx' });
      const owner = hostIds ? hostIds(spec.uid, spec.gid) : { uid: spec.uid, gid: spec.gid };
      await fs.chown(file, owner.uid, owner.gid);
      await fs.chmod(file, spec.mode & 0o7777);
      const target = spec.target as string;
      out.mounts.push({ Type: 'bind', Source: file, Target: target, ReadOnly: true });
      out.targets.push(target);
    }
  } catch (err: unknown) {
    await out.release();
    throw err;
  }
  return out;
}

/** Unmounts the secret tmpfs a crashed build left under `workDir` (before it is removed). */
export async function releaseLeftSecrets(workDir: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(workDir);
  } catch {
    return;
  }
  for (const n of names) {
    if (n.startsWith(secretDirPrefix)) await unmountAll(path.join(workDir, n), { detach: true });
  }
}

/** Name prefix of a RUN's secret tmpfs inside the build's scratch directory. */
export const secretDirPrefix = 'secrets-';

/** A fresh secret tmpfs mount point inside the build's scratch directory. */
export function secretDir(workDir: string): string {
  return path.join(workDir, `${secretDirPrefix}${randomBytes(6).toString('hex')}`);
}
