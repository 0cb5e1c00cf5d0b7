import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The system calls Node.js has no binding for, from native/berth_native.c. */
export interface Native {
  mount(
    source: string | null,
    target: string,
    fstype: string | null,
    flags: number,
    data: string | null,
  ): void;
  umount(target: string, flags: number): void;
  mknod(file: string, mode: number, major: number, minor: number): void;
  lgetxattr(file: string, name: string): Buffer | null;
  lsetxattr(file: string, name: string, value: Buffer): void;
  /** Connects to a SOCK_SEQPACKET socket; returns a stream socket fd carrying length-framed packets. */
  seqpacketBridge(socketPath: string): number;
  /**
   * A socket made inside the network namespace of the file `netns` (a bind-mounted nsfs
   * inode), bound to an IPv4 `address:port` (0: a free port) and listening when tcp; its fd,
   * non-blocking and close-on-exec. Throws an Error with .code = errno name.
   */
  netnsSocket(netns: string, proto: 'udp' | 'tcp', address: string, port: number): number;
}

/** Mount flags of <sys/mount.h>. */
export const MountFlags = {
  RDONLY: 1,
  NOSUID: 2,
  NODEV: 4,
  NOEXEC: 8,
  REMOUNT: 32,
  BIND: 4096,
  REC: 16384,
  PRIVATE: 1 << 18,
  SLAVE: 1 << 19,
  SHARED: 1 << 20,
} as const;

export const UmountFlags = { FORCE: 1, DETACH: 2 } as const;

let loaded: Native | undefined;

/** The native module, loaded on first use (build/berth_native.node, made by `make build`). */
export function native(): Native {
  if (!loaded) {
    const here = path.dirname(fileURLToPath(import.meta.url));
    const require = createRequire(import.meta.url);
    loaded = require(path.resolve(here, '../../../build/berth_native.node')) as Native;
  }
  return loaded;
}
