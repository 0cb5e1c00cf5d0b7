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
 */
export function withoutMountPoints(
  layer: Readable,
  targets: readonly string[] = [],
  epoch?: Date,
): Readable {
  const dropped = new Set(targets.map((t) => clean(t.replace(/^\/+/, ''))));
  const ex = tar.extract();
  const pack = tar.pack();
  const out = new PassThrough();
  pack.pipe(out);
  let pendingEtc: tar.Header | undefined;
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
        if (name === 'etc' && h.type === 'directory') {
          pendingEtc = h;
          continue;
        }
        if (mountPoints.has(name)) continue;
        if (mountDirs.has(name) && h.type === 'directory') continue;
        if (dropped.has(name) && h.type === 'directory') continue;
        if (pendingEtc && name.startsWith('etc/')) {
          await put(pendingEtc);
          pendingEtc = undefined;
        } else if (pendingEtc && !name.startsWith('etc/')) {
          pendingEtc = undefined;
        }
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
