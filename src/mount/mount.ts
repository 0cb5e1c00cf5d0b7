/**
 * A mount, the lingua franca between snapshotters (which return them) and the runtime and
 * archive code (which perform them), as containerd's core/mount has it.
 */
export interface Mount {
  /** Filesystem type: 'overlay', 'bind', 'tmpfs', ... */
  type: string;
  /** What is mounted: a directory for binds, a name ('overlay') otherwise. */
  source: string;
  /** mount(8)-style options: 'ro', 'rbind', 'lowerdir=...', ... */
  options: string[];
}
