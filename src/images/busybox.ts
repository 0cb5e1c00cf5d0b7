import { promises as fs } from 'node:fs';
import path from 'node:path/posix';
import tar from 'tar-stream';
import { run } from '../util/exec.js';

/** The accounts of Docker Hub's busybox image. */
const passwd = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
`;

const group = `root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
utmp:x:43:
plugdev:x:46:
staff:x:50:
lock:x:54:
netdev:x:82:
users:x:100:
nogroup:x:65534:
`;

const baseDirs: Record<string, number> = {
  bin: 0o755,
  dev: 0o755,
  etc: 0o755,
  home: 0o755,
  proc: 0o755,
  root: 0o700,
  sbin: 0o755,
  sys: 0o755,
  tmp: 0o1777,
  usr: 0o755,
  'usr/bin': 0o755,
  'usr/sbin': 0o755,
  var: 0o755,
  'var/spool': 0o755,
  'var/spool/mail': 0o755,
  'var/www': 0o755,
};

export interface BusyboxRootfs {
  /** The uncompressed layer tarball. */
  tar: Buffer;
  /** The time every entry carries, and the image's creation time: the binary's mtime. */
  created: Date;
  /** BusyBox's version line, for the image's history. */
  version: string;
}

/** Applet paths relative to `/`, from `busybox --list-full` (`usr/bin/env`, `sbin/ifconfig`). */
export function appletLinks(listFull: string): { name: string; target: string }[] {
  const out: { name: string; target: string }[] = [];
  const seen = new Set<string>();
  for (const raw of listFull.split('\n')) {
    const name = path.normalize(raw.trim()).replace(/^\/+/, '');
    if (name === '' || name === '.' || name.startsWith('..') || seen.has(name)) continue;
    // Only the usual bin directories: anything else (`linuxrc`) is for booting a kernel.
    if (!/^(?:usr\/)?s?bin\/[^/]+$/.test(name) || name === 'bin/busybox') continue;
    seen.add(name);
    out.push({ name, target: path.relative(path.dirname(name), 'bin/busybox') });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * A busybox rootfs as one tarball, made from the host's static busybox: the binary, one
 * relative symlink per applet, the usual directories and Docker Hub busybox's /etc/passwd and
 * /etc/group. Entries are in a fixed order with fixed owners and times, so the same binary
 * always gives the same bytes (and the same image ID).
 */
export async function busyboxRootfs(busyboxPath: string): Promise<BusyboxRootfs> {
  const [binary, stat, list, help] = await Promise.all([
    fs.readFile(busyboxPath),
    fs.stat(busyboxPath),
    run(busyboxPath, ['--list-full']),
    run(busyboxPath, ['--help'], { allowFailure: true }),
  ]);
  const created = new Date(Math.floor(stat.mtimeMs / 1000) * 1000);
  const version = (help.stdout.split('\n')[0] ?? '').trim();
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (b: unknown) => chunks.push(b as Buffer));
  const finished = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  const common = { uid: 0, gid: 0, uname: 'root', gname: 'root', mtime: created };
  const add = (
    header: Partial<tar.Header> & { name: string },
    body?: Buffer | string,
  ): Promise<void> =>
    new Promise((resolve, reject) => {
      pack.entry({ ...common, ...header }, body ?? '', (err) => (err ? reject(err) : resolve()));
    });
  const links = appletLinks(list.stdout);
  const dirs = new Map(Object.entries(baseDirs));
  for (const l of links) {
    for (let d = path.dirname(l.name); d !== '.'; d = path.dirname(d)) {
      if (!dirs.has(d)) dirs.set(d, 0o755);
    }
  }
  for (const d of [...dirs.keys()].sort()) {
    await add({ name: `${d}/`, type: 'directory', mode: dirs.get(d) ?? 0o755 });
    if (d === 'bin') await add({ name: 'bin/busybox', type: 'file', mode: 0o755 }, binary);
    if (d === 'etc') {
      await add({ name: 'etc/group', type: 'file', mode: 0o644 }, group);
      await add({ name: 'etc/passwd', type: 'file', mode: 0o644 }, passwd);
    }
  }
  for (const l of links) {
    await add({ name: l.name, type: 'symlink', linkname: l.target, mode: 0o777 });
  }
  pack.finalize();
  await finished;
  return { tar: Buffer.concat(chunks), created, version };
}
