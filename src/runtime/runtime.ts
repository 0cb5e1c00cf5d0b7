import type { Duplex } from 'node:stream';
import type { Mount } from '../mount/mount.js';
import type { LinuxResources, Process, RuntimeSpec } from '../spec/oci-runtime.js';

/**
 * The task runtime: runs OCI bundles through runc (crun where it works), each container under
 * its own conmon, which holds the container's stdio and log and writes its exit code, so that
 * containers outlive berthd. State lives under the exec root; the runtime keeps nothing in
 * memory that it cannot rebuild from there.
 */

export type TaskStatus = 'created' | 'running' | 'paused' | 'stopped';

export interface TaskState {
  status: TaskStatus;
  /** The container's init process on the host, 0 when stopped. */
  pid: number;
}

export interface ExitInfo {
  /** As Docker reports it: the process's status, or 128 + signal when killed by one. */
  exitCode: number;
  oomKilled: boolean;
  /** ISO time the exit was recorded. */
  finishedAt: string;
}

export interface CreateTaskOptions {
  id: string;
  /** Mounts that make up the root filesystem; the runtime mounts them in the bundle. */
  rootfs: Mount[];
  /**
   * Gives the runtime spec once the rootfs is mounted at `rootfsPath` (so that users, groups
   * and the working directory can be looked up and made there). `root.path` is set by the
   * runtime.
   */
  spec: (rootfsPath: string) => Promise<RuntimeSpec>;
  /** Where conmon writes the container's output (k8s-file format). */
  logPath: string;
  /** Keep stdin open for attach (-i). */
  stdin: boolean;
  /** Allocate a terminal (-t); output then is one stream. */
  tty: boolean;
  /**
   * Keep the task's stdin open when an attached client goes away (conmon's
   * --leave-stdin-open); otherwise the first attach's end of input closes it (StdinOnce).
   */
  leaveStdinOpen?: boolean;
  /**
   * The spec holds what must never reach a disk (the builder's secret env): the bundle, and
   * so config.json, is then a tmpfs of its own, unmounted when the task is deleted.
   */
  volatile?: boolean;
}

/** Output of an attached process: which stream, and the bytes. */
export interface OutputChunk {
  stream: 'stdout' | 'stderr';
  data: Buffer;
}

/**
 * A live connection to a task's stdio. Reading yields {@link OutputChunk}s (object mode);
 * writing sends bytes to its stdin; ending the writable side closes the task's stdin.
 */
export type AttachStream = Duplex;

export interface ExecOptions {
  /** The exec session's ID (also names its files). */
  execId: string;
  process: Process;
  stdin: boolean;
  tty: boolean;
  /** Do not wait for the process: no output is collected. */
  detach: boolean;
}

export interface ExecHandle {
  /** Host pid of the exec'd process. */
  pid: number;
  /** The process's stdio, when not detached. */
  stream?: AttachStream;
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number>;
  resize(height: number, width: number): Promise<void>;
}

export interface Runtime {
  /**
   * Mounts the rootfs, writes the bundle, starts conmon, which runs `runc create`: the task
   * exists, stopped before its entrypoint, attachable. Errors from the runtime (entrypoint not
   * found, not executable) reject with InvalidArgumentError carrying runc's message.
   */
  create(options: CreateTaskOptions): Promise<TaskState>;
  /** Starts a created task's entrypoint. */
  start(id: string): Promise<void>;
  /**
   * Sends a signal (number) to the task's init, or every process with `all`. ConflictError
   * when the task is not running (also when it ends while the signal is sent), NotFoundError
   * when there is no such task.
   */
  kill(id: string, signal: number, options?: { all?: boolean }): Promise<void>;
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  /** The task's state, or undefined when the runtime has no such task. */
  state(id: string): Promise<TaskState | undefined>;
  /**
   * Removes the task entirely: kills what is left, `runc delete`, unmounts the rootfs, removes
   * the bundle and conmon's files. Idempotent.
   */
  delete(id: string): Promise<void>;
  /** Attaches to a task's stdio (must exist: created or running). */
  attach(id: string): Promise<AttachStream>;
  /** Resizes a task's terminal. */
  resize(id: string, height: number, width: number): Promise<void>;
  /** Runs an extra process in a running task. */
  exec(id: string, options: ExecOptions): Promise<ExecHandle>;
  /** The recorded exit of a task whose process has ended, else undefined. */
  exitInfo(id: string): Promise<ExitInfo | undefined>;
  /** Calls `listener` once for every task exit from now on (including exits while berthd was down are found by `exitInfo`). */
  onExit(listener: (id: string, exit: ExitInfo) => void): void;
  /** Host pids of every process in the task. */
  pids(id: string): Promise<number[]>;
  /**
   * The task's cgroup directories as runc recorded them, by controller (`memory`, `cpuacct`,
   * ... on cgroup v1; `""` for the unified hierarchy, the only key on v2). Empty when the task
   * has no runc state (not created, or already deleted).
   */
  cgroupPaths(id: string): Promise<Record<string, string>>;
  /** Changes a live task's cgroup limits at once (`runc update`); unset fields stay as they are. */
  update(id: string, resources: LinuxResources): Promise<void>;
  /** Where a task's rootfs is mounted while the task exists. */
  rootfsPath(id: string): string;
  /** IDs of every task the runtime holds state for, running or not. */
  list(): Promise<string[]>;
  /** Stops watching; tasks keep running. */
  close(): Promise<void>;
}
