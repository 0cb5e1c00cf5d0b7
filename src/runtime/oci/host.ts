import { promises as fs } from 'node:fs';
import path from 'node:path';
import { isNotFound } from '../../errors/index.js';
import type { LinuxDevice } from '../../spec/oci-runtime.js';
import { knownCapabilities } from './spec.js';

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

// Directories under /dev whose nodes are per-container or not devices to hand on.
const skippedDevDirs = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);

/** Every character and block device under /dev, as a privileged container gets them. */
export async function listHostDevices(root = '/dev'): Promise<LinuxDevice[]> {
  const out: LinuxDevice[] = [];
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (err: unknown) {
      if (isNotFound(err)) return;
      throw err;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (!(dir === root && skippedDevDirs.has(e.name))) await walk(p);
        continue;
      }
      if (!e.isCharacterDevice() && !e.isBlockDevice()) continue;
      if (p === path.join(root, 'console')) continue;
      let st;
      try {
        st = await fs.stat(p, { bigint: true });
      } catch (err: unknown) {
        if (isNotFound(err)) continue;
        throw err;
      }
      const rdev = st.rdev;
      const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
      const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
      out.push({
        path: p,
        type: e.isCharacterDevice() ? 'c' : 'b',
        major,
        minor,
        fileMode: Number(st.mode & 0o7777n),
        uid: Number(st.uid),
        gid: Number(st.gid),
      });
    }
  };
  await walk(root);
  return out;
}

/**
 * The capabilities this process may hand on (its bounding set), which is what a privileged
 * container gets; in a restricted environment that is fewer than the kernel knows.
 */
export async function hostCapabilities(): Promise<string[]> {
  const status = await fs.readFile('/proc/self/status', 'utf8');
  const hex = /^CapBnd:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  if (!hex) return [...knownCapabilities];
  const mask = BigInt(`0x${hex}`);
  return knownCapabilities.filter((_c, i) => (mask >> BigInt(i)) & 1n);
}
