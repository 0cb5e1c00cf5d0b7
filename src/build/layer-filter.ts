import { PassThrough, type Readable } from 'node:stream';
import tar from 'tar-stream';

/**
 * A step container's diff as dockerd's layer has it: without the mount points the engine
 * makes for /etc/hostname, /etc/hosts, /etc/resolv.conf, /proc, /sys and /dev (dockerd keeps
 * those in the container's init layer, never in a commit), nor the /etc directory when nothing else in it changed;
 * with an epoch, no entry's time later than it (reproducible layers).
 */
const mountPoints = new Set(['etc/hostname', 'etc/hosts', 'etc/resolv.conf', 'dev/console']);
/** Directories the runtime mounts over (proc, sysfs, the /dev tmpfs and its mounts). */
const mountDirs = new Set(['proc', 'sys', 'dev', 'dev/pts', 'dev/shm', 'dev/mqueue']);

function clean(name: string): string {
  return name.replace(/^\.\//, '').replace(/\/+$/, '');
}

/**
 * Copies a layer tar, leaving out the engine's own mount points and the directories made as
 * targets of RUN mounts (`targets`, absolute), which are no part of the step's changes.
 * `stubs` are file mount targets (secrets): the target goes whatever it is, and so do the
 * directories above it unless something else in the layer lies below them (the mount made
 * them, or only touched them), as BuildKit removes its mount stubs.
 */
export function withoutMountPoints(
  layer: Readable,
  targets: readonly string[] = [],
  epoch?: Date,
  stubs: readonly string[] = [],
): Readable {
  const rel = (t: string): string => clean(t.replace(/^\/+/, ''));
  const dropped = new Set(targets.map(rel));
  const stubNames = new Set(stubs.map(rel));
  // Directories written only when a kept entry follows below them: /etc (the engine's files
  // touch it) and the parents of stubs.
  const held = new Set<string>(['etc']);
  for (const s of stubNames) {
    const parts = s.split('/');
    for (let i = 1; i < parts.length; i++) held.add(parts.slice(0, i).join('/'));
  }
  const ex = tar.extract();
  const pack = tar.pack();
  const out = new PassThrough();
  pack.pipe(out);
  /** Held directory headers, outermost first; each an ancestor of the next. */
  const pending: { name: string; header: tar.Header }[] = [];
  const within = (name: string, dir: string): boolean => name.startsWith(`${dir}/`);
  const put = (header: tar.Header, body?: Buffer): Promise<void> =>
    new Promise((resolve, reject) => {
      pack.entry(header, body ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
    });
  void (async (): Promise<void> => {
    try {
      layer.pipe(ex);
      for await (const entry of ex) {
        const chunks: Buffer[] = [];
        for await (const c of entry) chunks.push(c as Buffer);
        const h = entry.header;
        // SOURCE_DATE_EPOCH: no time in the layer later than it.
        if (epoch && h.mtime && h.mtime > epoch) h.mtime = epoch;
        const name = clean(h.name);
        // The tar is depth first: a held directory that does not contain this entry never will.
        while (pending.length > 0 && !within(name, pending[pending.length - 1]?.name ?? '')) {
          pending.pop();
        }
        if (held.has(name) && h.type === 'directory') {
          pending.push({ name, header: h });
          continue;
        }
        if (stubNames.has(name)) continue;
        if (mountPoints.has(name)) continue;
        if (mountDirs.has(name) && h.type === 'directory') continue;
        if (dropped.has(name) && h.type === 'directory') continue;
        for (const p of pending) await put(p.header);
        pending.length = 0;
        await put(
          h,
          h.type === 'file' || h.type === 'contiguous-file' ? Buffer.concat(chunks) : undefined,
        );
      }
      pack.finalize();
    } catch (err: unknown) {
      out.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  })();
  return out;
}
