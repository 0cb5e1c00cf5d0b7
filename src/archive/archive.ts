import type { Digest } from '../util/digest.js';

/**
 * Tar streams in and out of filesystem trees: image layers (OCI whiteouts), container diffs,
 * exports and `cp`. Every path from a tarball is resolved inside its target: entries with `..`,
 * absolute names or links that would lead outside are refused with InvalidArgumentError, and
 * nothing is written outside the target.
 */

export interface ApplyResult {
  /** sha256 of the uncompressed tar stream: the layer's diff ID. */
  diffID: Digest;
  /** Bytes of the uncompressed tar stream. */
  size: number;
  /**
   * Docker's size of the layer: the bytes of its regular files and the lengths of its symlink
   * targets, as the tar headers give them.
   */
  contentSize: number;
}

export interface ApplyOptions {
  /**
   * How OCI whiteouts (`.wh.name`, `.wh..wh..opq`) are carried out:
   * - 'remove': delete the named paths (the target is a merged view, or a plain directory);
   * - 'overlay': write overlayfs whiteouts (0/0 character devices, the trusted.overlay.opaque
   *   attribute) into the target, which is the upper directory of an overlay layer.
   */
  whiteouts: 'remove' | 'overlay';
  /**
   * Maps each entry's owner from the tar header (container ids) to the ids written on disk
   * (host ids of a remapped daemon); throws to refuse an id outside the mapping. Identity when
   * absent.
   */
  ids?: IdShift;
  signal?: AbortSignal;
}

/** Container uid/gid → host uid/gid, as a user namespace maps them. */
export type IdShift = (uid: number, gid: number) => { uid: number; gid: number };

export interface ChangesOptions {
  /**
   * The upper directory of an overlay (or any directory of changes written with overlay
   * whiteouts): walked alone, whiteouts become OCI whiteouts.
   */
  upperDir: string;
}

/** A change between a container's tree and its image, as `GET /containers/{id}/changes` has it. */
export interface Change {
  Path: string;
  /** 0 modified, 1 added, 2 deleted. */
  Kind: 0 | 1 | 2;
}

export { applyLayer } from './apply.js';
export { changes } from './changes.js';
export { copyIn, copyOut, statPath, type ArchivePathStat, type CopyInOptions } from './copy.js';
export { resolveInRoot } from './root-path.js';
export { diffTar, tarTree, type TarTreeOptions } from './tar-tree.js';
