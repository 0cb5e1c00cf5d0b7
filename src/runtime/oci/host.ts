import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { BigIntStats } from 'node:fs';
import { InvalidArgumentError, errnoCode, isNotFound } from '../../errors/index.js';
import type { DeviceMapping, HostConfig } from '../../spec/engine.js';
import type { LinuxDevice } from '../../spec/oci-runtime.js';
import type { DeviceNumbers, MappedDevice } from './spec.js';
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

function deviceNumbers(rdev: bigint): DeviceNumbers {
  return {
    major: Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn)),
    minor: Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn)),
  };
}

function deviceOf(p: string, st: BigIntStats): LinuxDevice {
  return {
    path: p,
    type: st.isCharacterDevice() ? 'c' : 'b',
    ...deviceNumbers(st.rdev),
    fileMode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
  };
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
      out.push(deviceOf(p, st));
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

function systemMessage(err: unknown): string {
  const code = errnoCode(err);
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'ENOTDIR') return 'not a directory';
  return err instanceof Error ? err.message : String(err);
}

/**
 * The devices `--device` names, as dockerd gathers them at start: a device node maps to one
 * entry; a directory maps every device beneath it, its path under the container path. Throws
 * InvalidArgumentError with dockerd's words for a missing path or a file that is no device.
 */
export async function resolveDeviceMappings(
  mappings: readonly DeviceMapping[],
): Promise<MappedDevice[]> {
  const out: MappedDevice[] = [];
  for (const m of mappings) {
    const fail = (reason: string, cause?: unknown): never => {
      throw new InvalidArgumentError(
        `error gathering device information while adding custom device ${JSON.stringify(m.PathOnHost)}: ${reason}`,
        { cause },
      );
    };
    let st: BigIntStats;
    try {
      st = await fs.stat(m.PathOnHost, { bigint: true });
    } catch (err: unknown) {
      return fail(systemMessage(err), err);
    }
    const access = m.CgroupPermissions || 'rwm';
    const inContainer = m.PathInContainer || m.PathOnHost;
    if (st.isDirectory()) {
      for (const d of await listHostDevices(m.PathOnHost)) {
        out.push({
          device: { ...d, path: path.join(inContainer, path.relative(m.PathOnHost, d.path)) },
          access,
        });
      }
      continue;
    }
    if (!st.isCharacterDevice() && !st.isBlockDevice()) fail('not a device node');
    out.push({ device: { ...deviceOf(inContainer, st) }, access });
  }
  return out;
}

/**
 * The device numbers of the paths that blkio weight and throttle settings name, as dockerd
 * reads them (`stat <path>: no such file or directory` when one is missing).
 */
export async function blockDeviceNumbers(h: HostConfig): Promise<Map<string, DeviceNumbers>> {
  const paths = new Set(
    [
      ...(h.BlkioWeightDevice ?? []),
      ...(h.BlkioDeviceReadBps ?? []),
      ...(h.BlkioDeviceWriteBps ?? []),
      ...(h.BlkioDeviceReadIOps ?? []),
      ...(h.BlkioDeviceWriteIOps ?? []),
    ].map((d) => d.Path),
  );
  const out = new Map<string, DeviceNumbers>();
  for (const p of paths) {
    try {
      out.set(p, deviceNumbers((await fs.stat(p, { bigint: true })).rdev));
    } catch (err: unknown) {
      throw new InvalidArgumentError(`stat ${p}: ${systemMessage(err)}`, { cause: err });
    }
  }
  return out;
}
