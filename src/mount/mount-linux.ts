import { promises as fs } from 'node:fs';
import path from 'node:path';
import { errnoCode, InvalidArgumentError } from '../errors/index.js';
import { MountFlags, native, UmountFlags } from '../util/native.js';
import type { Mount } from './mount.js';

/** Options that are mount flags rather than filesystem data: [set, clear]. */
const flagOptions: Record<string, [number, number]> = {
  ro: [MountFlags.RDONLY, 0],
  rw: [0, MountFlags.RDONLY],
  nosuid: [MountFlags.NOSUID, 0],
  suid: [0, MountFlags.NOSUID],
  nodev: [MountFlags.NODEV, 0],
  dev: [0, MountFlags.NODEV],
  noexec: [MountFlags.NOEXEC, 0],
  exec: [0, MountFlags.NOEXEC],
  bind: [MountFlags.BIND, 0],
  rbind: [MountFlags.BIND | MountFlags.REC, 0],
  remount: [MountFlags.REMOUNT, 0],
  defaults: [0, 0],
};

const propagationOptions: Record<string, number> = {
  private: MountFlags.PRIVATE,
  rprivate: MountFlags.PRIVATE | MountFlags.REC,
  slave: MountFlags.SLAVE,
  rslave: MountFlags.SLAVE | MountFlags.REC,
  shared: MountFlags.SHARED,
  rshared: MountFlags.SHARED | MountFlags.REC,
};

/**
 * The kernel copies mount data into one page; overlay's options beyond that are cut off, which
 * shows as a failed mount (or, worse, a silently shorter lowerdir). 4096 is the page size on
 * every architecture berth runs on, and the smallest anywhere.
 */
const mountDataLimit = 4095;

interface ParsedOptions {
  flags: number;
  propagation: number;
  data: string[];
}

function parseOptions(options: readonly string[]): ParsedOptions {
  let flags = 0;
  let propagation = 0;
  const data: string[] = [];
  for (const opt of options) {
    const flag = flagOptions[opt];
    const prop = propagationOptions[opt];
    if (flag) {
      flags = (flags | flag[0]) & ~flag[1];
    } else if (prop !== undefined) {
      propagation |= prop;
    } else {
      data.push(opt);
    }
  }
  return { flags, propagation, data };
}

/**
 * Mounts each of `mounts` on `target`, in order (later ones stack on earlier ones, as
 * containerd's mount.All does). When one fails, those already mounted are unmounted again.
 */
export async function mountAll(mounts: readonly Mount[], target: string): Promise<void> {
  const abs = path.resolve(target);
  let done = 0;
  try {
    for (const m of mounts) {
      mountOne(m, abs);
      done++;
    }
  } catch (err: unknown) {
    for (; done > 0; done--) await unmount(abs, { detach: true });
    throw err;
  }
}

function mountOne(m: Mount, target: string): void {
  const { flags, propagation, data } = parseOptions(m.options);
  const n = native();
  if (m.type === 'bind' || m.type === 'rbind' || (flags & MountFlags.BIND) !== 0) {
    const bindFlags =
      MountFlags.BIND | (m.type === 'rbind' ? MountFlags.REC : 0) | (flags & MountFlags.REC);
    n.mount(m.source, target, null, bindFlags, null);
    // The kernel ignores every flag but MS_REC on the first bind mount: read-only, nosuid and
    // the like only take effect on a remount of the bind.
    const extra = flags & ~(MountFlags.BIND | MountFlags.REC);
    if (extra !== 0) {
      try {
        n.mount(null, target, null, MountFlags.REMOUNT | MountFlags.BIND | extra, null);
      } catch (err: unknown) {
        n.umount(target, UmountFlags.DETACH);
        throw err;
      }
    }
  } else if (m.type === 'overlay') {
    mountOverlay(m.source, target, flags, data);
  } else {
    n.mount(m.source, target, m.type, flags, data.length > 0 ? data.join(',') : null);
  }
  if (propagation !== 0) n.mount(null, target, null, propagation, null);
}

function mountOverlay(source: string, target: string, flags: number, data: string[]): void {
  const joined = data.join(',');
  if (joined.length <= mountDataLimit) {
    native().mount(source, target, 'overlay', flags, joined);
    return;
  }
  const dirs = overlayDirs(data);
  const common = commonParent(dirs);
  const short = data.map((opt) => relativeOption(opt, common));
  const shortData = short.join(',');
  if (shortData.length > mountDataLimit) {
    throw new InvalidArgumentError(
      `overlay mount options are ${shortData.length} bytes even relative to ${common}; the limit is ${mountDataLimit}`,
    );
  }
  // overlayfs resolves relative lowerdir/upperdir/workdir against the calling process's working
  // directory, which is the only way to shorten the paths of a deep chain below the one-page
  // limit on mount data. The working directory is process-wide, but the native mount call is
  // synchronous: no other JavaScript runs between chdir and its restoration, and berth does no
  // relative-path file I/O on libuv's threads. (chdir is not available in worker threads, so
  // this must run on the main thread.)
  const cwd = process.cwd();
  process.chdir(common);
  try {
    native().mount(source, target, 'overlay', flags, shortData);
  } finally {
    process.chdir(cwd);
  }
}

function overlayDirs(data: readonly string[]): string[] {
  const dirs: string[] = [];
  for (const opt of data) {
    const [key, value] = splitOption(opt);
    if (value === undefined) continue;
    if (key === 'lowerdir') dirs.push(...value.split(':'));
    else if (key === 'upperdir' || key === 'workdir') dirs.push(value);
  }
  if (dirs.length === 0 || dirs.some((d) => !path.isAbsolute(d))) {
    throw new InvalidArgumentError('overlay mount options too long and not absolute paths');
  }
  return dirs;
}

function splitOption(opt: string): [string, string | undefined] {
  const eq = opt.indexOf('=');
  return eq < 0 ? [opt, undefined] : [opt.slice(0, eq), opt.slice(eq + 1)];
}

function relativeOption(opt: string, base: string): string {
  const [key, value] = splitOption(opt);
  if (value === undefined) return opt;
  const rel = (p: string): string => path.relative(base, p) || '.';
  if (key === 'lowerdir') return `lowerdir=${value.split(':').map(rel).join(':')}`;
  if (key === 'upperdir' || key === 'workdir') return `${key}=${rel(value)}`;
  return opt;
}

function commonParent(dirs: readonly string[]): string {
  const split = dirs.map((d) => path.resolve(d).split('/'));
  const first = split[0] ?? [''];
  let n = 0;
  while (n < first.length && split.every((parts) => parts[n] === first[n])) n++;
  return first.slice(0, n).join('/') || '/';
}

/**
 * Unmounts the topmost mount on `target`. Not being mounted (EINVAL) or not existing (ENOENT)
 * is not an error. `detach` unmounts lazily (MNT_DETACH), for mounts still in use.
 */
export async function unmount(target: string, options: { detach?: boolean } = {}): Promise<void> {
  try {
    native().umount(path.resolve(target), options.detach ? UmountFlags.DETACH : 0);
  } catch (err: unknown) {
    const code = errnoCode(err);
    if (code === 'EINVAL' || code === 'ENOENT') return;
    throw err;
  }
}

/** Unmounts every mount stacked on `target`. */
export async function unmountAll(
  target: string,
  options: { detach?: boolean } = {},
): Promise<void> {
  const abs = path.resolve(target);
  // Each umount removes the topmost mount; EINVAL says nothing is mounted there any more.
  for (;;) {
    try {
      native().umount(abs, options.detach ? UmountFlags.DETACH : 0);
    } catch (err: unknown) {
      const code = errnoCode(err);
      if (code === 'EINVAL' || code === 'ENOENT') return;
      throw err;
    }
  }
}

/** Whether `p` is the mount point of some mount (per /proc/self/mountinfo). */
export async function isMountPoint(p: string): Promise<boolean> {
  let real: string;
  try {
    real = await fs.realpath(p);
  } catch (err: unknown) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
  const info = await fs.readFile('/proc/self/mountinfo', 'utf8');
  for (const line of info.split('\n')) {
    const field = line.split(' ')[4];
    if (field !== undefined && unescapeMountinfo(field) === real) return true;
  }
  return false;
}

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}
