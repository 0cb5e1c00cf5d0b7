import type { Readable, Writable } from 'node:stream';
import type { ContainerStatus, CreateContainerRequest, HealthState } from '../spec/engine.js';
import type { OutputChunk } from '../runtime/runtime.js';
import type { ContainerStats } from './cgroups.js';
import type { StatsOptions } from './stats.js';
import type { UpdateRequest } from './update.js';
import type { MountPointRecord } from '../volumes/mount-spec.js';

/**
 * The container service: records, lifecycle and I/O of containers, over the image service,
 * the snapshotter and the runtime. Methods take a container reference (full ID, unique ID
 * prefix, or name with or without a leading `/`) and throw NotFoundError("No such container:
 * <ref>") when it names nothing. Lifecycle guards throw ConflictError, or NotModifiedError for
 * a start of a running or a stop of a stopped container.
 *
 * Persisted schema: `<data-root>/containers/<id>/config.json`, the {@link ContainerRecord},
 * written atomically on every change; `<id>/container.log`, the output (k8s-file lines).
 */

export interface ContainerRecord {
  id: string;
  /** Without the leading slash. */
  name: string;
  created: string;
  /** The image reference as given, and the resolved image ID. */
  imageRef: string;
  imageId: string;
  config: CreateContainerRequest;
  state: {
    status: ContainerStatus;
    pid: number;
    exitCode: number;
    error: string;
    oomKilled: boolean;
    startedAt: string;
    finishedAt: string;
    /** Set by an explicit stop/kill through the API: restart policies then stay quiet. */
    stoppedByUser: boolean;
    /** State.Health, once a container with a healthcheck has started. */
    health?: HealthState;
  };
  restartCount: number;
  /** The container's snapshot key. */
  snapshotKey: string;
  logPath: string;
  hostnamePath: string;
  hostsPath: string;
  resolvConfPath: string;
  /** The mount points resolved at create (binds, volumes, `--mount` tmpfs, inherited ones). */
  mounts: MountPointRecord[];
}

export interface CreateResult {
  Id: string;
  Warnings: string[];
}

export interface ListOptions {
  all: boolean;
  limit?: number;
  size: boolean;
  filters: Record<string, string[]>;
}

export interface LogsOptions {
  follow: boolean;
  stdout: boolean;
  stderr: boolean;
  since?: number;
  until?: number;
  timestamps: boolean;
  /** Lines from the end, or 'all'. */
  tail: number | 'all';
  signal?: AbortSignal;
}

/** A log line or chunk, with the time it was written. */
export interface LogChunk extends OutputChunk {
  time: string;
}

export interface AttachOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  /** Replay the log first. */
  logs: boolean;
  /** Stream live output. */
  stream: boolean;
  detachKeys?: string;
}

export interface Attachment {
  /** Output chunks (object mode {@link OutputChunk}); ends when the container's output does. */
  output: Readable;
  /** Bytes to the container's stdin, when attached with stdin; `end()` closes it. */
  input?: Writable;
  /** True when the container has a TTY (raw stream, no multiplexing). */
  tty: boolean;
  close(): void;
}

export interface ExecCreateRequest {
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  DetachKeys?: string;
  ConsoleSize?: [number, number] | null;
  Tty?: boolean;
  Env?: string[] | null;
  Cmd: string[];
  Privileged?: boolean;
  User?: string;
  WorkingDir?: string;
}

export interface ExecAttachment extends Attachment {
  /** Resolves once the process has exited. */
  exited: Promise<number>;
}

export interface PathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

/** What `create` takes besides the Engine API's request. */
export interface CreateOptions {
  /**
   * `NAME=value` pairs added to the process environment of the container's tasks, kept in
   * memory only: never in the record, inspect or a commit (the builder's secret env).
   */
  transientEnv?: readonly string[];
}

export interface ContainerService {
  create(
    request: CreateContainerRequest,
    name?: string,
    options?: CreateOptions,
  ): Promise<CreateResult>;
  start(ref: string): Promise<void>;
  stop(ref: string, options: { signal?: string; timeout?: number }): Promise<void>;
  restart(ref: string, options: { signal?: string; timeout?: number }): Promise<void>;
  kill(ref: string, signal?: string): Promise<void>;
  remove(ref: string, options: { force: boolean; volumes: boolean; link: boolean }): Promise<void>;
  pause(ref: string): Promise<void>;
  unpause(ref: string): Promise<void>;
  rename(ref: string, newName: string): Promise<void>;
  /** `GET /containers/json` entries. */
  list(options: ListOptions): Promise<Record<string, unknown>[]>;
  /** `GET /containers/{id}/json`. */
  inspect(ref: string, options: { size: boolean }): Promise<Record<string, unknown>>;
  /** The record itself, for other services. */
  get(ref: string): Promise<ContainerRecord>;
  /** `POST /containers/{id}/wait`: resolves with the exit once `condition` holds. */
  wait(
    ref: string,
    condition: 'not-running' | 'next-exit' | 'removed',
    signal?: AbortSignal,
  ): Promise<{ StatusCode: number; Error: { Message: string } | null }>;
  logs(
    ref: string,
    options: LogsOptions,
  ): Promise<{ tty: boolean; chunks: AsyncIterable<LogChunk> }>;
  attach(ref: string, options: AttachOptions): Promise<Attachment>;
  resize(ref: string, height: number, width: number): Promise<void>;
  /** `GET /containers/{id}/top`. */
  top(ref: string, psArgs?: string): Promise<{ Titles: string[]; Processes: string[][] }>;
  /** `GET /containers/{id}/changes`. */
  changes(ref: string): Promise<{ Path: string; Kind: number }[]>;
  /** `GET /containers/{id}/export`: the whole filesystem as a tar stream. */
  export(ref: string): Promise<Readable>;
  /** `HEAD`/`GET /containers/{id}/archive`: stat of a path inside the container. */
  statPath(ref: string, path: string): Promise<PathStat>;
  /** `GET /containers/{id}/archive`: a tar of the path, with its stat. */
  getArchive(ref: string, path: string): Promise<{ stat: PathStat; tar: Readable }>;
  /** `PUT /containers/{id}/archive`: extracts a tar into a directory of the container. */
  putArchive(
    ref: string,
    path: string,
    tar: Readable,
    options: { noOverwriteDirNonDir: boolean; copyUIDGID: boolean },
  ): Promise<void>;
  /** `POST /commit`: returns the new image's ID. */
  commit(
    ref: string,
    options: {
      reference?: string;
      comment?: string;
      author?: string;
      changes?: string[];
      pause: boolean;
      config?: Record<string, unknown>;
    },
  ): Promise<string>;
  /**
   * Resolves once a created container's task is made and its rootfs mounted, so that stat,
   * archive and diff calls from then on see the tree the container will run on.
   */
  prepare(ref: string): Promise<void>;
  /**
   * The container's changes to its image as a layer tar (OCI whiteouts), as a commit stores
   * them; for the builder, which makes its own images from them.
   */
  diff(ref: string): Promise<Readable>;
  /** `POST /containers/prune`. */
  prune(
    filters: Record<string, string[]>,
  ): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }>;
  /** Container counts by image ID, for image summaries and rmi's in-use check. */
  imageUsers(): Map<string, number>;
  execCreate(ref: string, request: ExecCreateRequest): Promise<{ Id: string }>;
  /** Starts an exec; with `detach` no attachment is returned. */
  execStart(
    execId: string,
    options: { detach: boolean; tty?: boolean; consoleSize?: [number, number] | null },
  ): Promise<ExecAttachment | undefined>;
  execResize(execId: string, height: number, width: number): Promise<void>;
  /** `GET /exec/{id}/json`. */
  execInspect(execId: string): Promise<Record<string, unknown>>;
  /**
   * `GET /containers/{id}/stats`: one object, or one a second while streaming (until the
   * signal aborts); all zeros for a container that is not running.
   */
  stats(ref: string, options: StatsOptions): Promise<AsyncIterable<ContainerStats>>;
  /**
   * `POST /containers/{id}/update`: new cgroup limits, applied at once to a live task and kept
   * in the record's HostConfig (so a restart keeps them), or a new restart policy.
   */
  update(ref: string, request: UpdateRequest): Promise<{ Warnings: string[] }>;
  /** Counts for `/info`. */
  counts(): { running: number; paused: number; stopped: number };
}
