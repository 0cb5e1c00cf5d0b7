import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants as fsConstants, promises as fs, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import {
  ConflictError,
  errnoCode,
  InvalidArgumentError,
  isNotFound,
  NotFoundError,
  SystemError,
} from '../../errors/index.js';
import { isMountPoint, mountAll, unmountAll } from '../../mount/mount-linux.js';
import type { LinuxResources, Process } from '../../spec/oci-runtime.js';
import { readJsonIfExists, writeJsonAtomic } from '../../util/atomic.js';
import { run } from '../../util/exec.js';
import type {
  AttachStream,
  CreateTaskOptions,
  ExecHandle,
  ExecOptions,
  ExitInfo,
  Runtime,
  TaskState,
} from '../runtime.js';
import { connectAttach } from './attach.js';
import { runtimeMessage, SyncReader, type SyncMessage } from './sync.js';

export interface ConmonRuntimeOptions {
  /** Bundles, runc state, exit files and sockets live here (tmpfs, e.g. /run/berth). */
  execRoot: string;
  /** The daemon's data root (persistent); the runtime keeps nothing there yet. */
  dataRoot: string;
  runtime?: 'runc' | 'crun';
  /** conmon's --log-level (debug, info, warn, error); conmon then also logs to syslog. */
  logLevel?: string;
}

/**
 * What the runtime writes beside a bundle at create, so that any later instance (after a berthd
 * restart) can serve the task.
 */
interface TaskRecord {
  id: string;
  stdin: boolean;
  tty: boolean;
  logPath: string;
  cgroupsPath: string;
  /** The container's init and its start time (/proc/<pid>/stat field 22), to tell pid reuse. */
  pid: number;
  startTime: string;
}

// sun_path holds 108 bytes with its NUL; the native bridge wants one more spare.
const maxSocketPath = 106;
const idPattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

function checkId(id: string, what = 'task'): void {
  if (!idPattern.test(id))
    throw new InvalidArgumentError(`invalid ${what} id ${JSON.stringify(id)}`);
}

async function findBinary(names: string[]): Promise<string> {
  const dirs = (process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin').split(':');
  for (const name of names) {
    const candidates = name.includes('/') ? [name] : dirs.map((d) => path.join(d, name));
    for (const c of candidates) {
      try {
        await fs.access(c, fsConstants.X_OK);
        return c;
      } catch (err: unknown) {
        if (isNotFound(err) || errnoCode(err) === 'EACCES') continue;
        throw err;
      }
    }
  }
  throw new SystemError(`none of ${names.join(', ')} found`);
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.lstat(p);
    return true;
  } catch (err: unknown) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

async function readText(p: string): Promise<string | undefined> {
  try {
    return await fs.readFile(p, 'utf8');
  } catch (err: unknown) {
    // ESRCH: a /proc/<pid> file whose process ended while it was read.
    if (isNotFound(err) || errnoCode(err) === 'ESRCH') return undefined;
    throw err;
  }
}

/** Field 22 of /proc/<pid>/stat, or undefined when the process is gone or a zombie. */
async function processStartTime(pid: number): Promise<string | undefined> {
  const stat = await readText(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // The command name (field 2) may hold spaces and parentheses; fields after it are plain.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (rest[0] === 'Z' || rest[0] === 'X') return undefined;
  return rest[19];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err: unknown) {
    if (errnoCode(err) === 'ESRCH') return false;
    throw err;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** An error from runc/conmon as berth reports it: entrypoint problems are the caller's. */
function runtimeError(message: string): Error {
  if (
    /\bexec: |executable file not found|permission denied|no such file or directory/.test(message)
  ) {
    return new InvalidArgumentError(message);
  }
  return new SystemError(message);
}

interface Launch {
  reader: SyncReader;
  start?: Writable;
  attachPipe?: SyncReader;
  stderr: () => string;
  exitCode: Promise<number | null>;
}

class ConmonRuntime implements Runtime {
  readonly #execRoot: string;
  readonly #tasksDir: string;
  readonly #exitsDir: string;
  readonly #runcRoot: string;
  readonly #socketDir: string;
  readonly #conmon: string;
  readonly #runc: string;
  readonly #logLevel: string | undefined;
  readonly #listeners: ((id: string, exit: ExitInfo) => void)[] = [];
  /** Exits seen while nobody listened yet. */
  readonly #queued: [string, ExitInfo][] = [];
  /** Task ids whose exit has been delivered (so that repeated fs events do not repeat it). */
  readonly #delivered = new Set<string>();
  /** Exit files being read right now, so that a second watch event does not read them again. */
  readonly #reading = new Set<string>();
  #watcher: FSWatcher | undefined;

  constructor(options: ConmonRuntimeOptions, conmon: string, runc: string) {
    this.#execRoot = path.resolve(options.execRoot);
    this.#tasksDir = path.join(this.#execRoot, 'tasks');
    this.#exitsDir = path.join(this.#execRoot, 'exits');
    this.#runcRoot = path.join(this.#execRoot, 'runc');
    this.#socketDir = path.join(this.#execRoot, 's');
    this.#conmon = conmon;
    this.#runc = runc;
    this.#logLevel = options.logLevel;
  }

  async init(): Promise<void> {
    for (const d of [this.#tasksDir, this.#exitsDir, this.#runcRoot, this.#socketDir]) {
      await fs.mkdir(d, { recursive: true, mode: 0o711 });
    }
    // Exits recorded before this instance are the business of exitInfo; only later ones are
    // events. Listing again once the watch is in place catches those in between.
    const before = new Set(await fs.readdir(this.#exitsDir));
    for (const id of before) this.#delivered.add(id);
    this.#watcher = watch(this.#exitsDir, (_event, name) => {
      if (typeof name === 'string') void this.#onExitFile(name);
    });
    this.#watcher.on('error', () => undefined);
    for (const id of await fs.readdir(this.#exitsDir)) {
      if (!before.has(id)) void this.#onExitFile(id);
    }
  }

  async #onExitFile(name: string): Promise<void> {
    // The watcher reports one exit file more than once (create, then rename): read it once.
    if (!idPattern.test(name) || this.#delivered.has(name) || this.#reading.has(name)) return;
    this.#reading.add(name);
    let info: ExitInfo | undefined;
    try {
      info = await this.exitInfo(name);
    } catch {
      // a half-removed task: delete() is under way, nothing to report
      return;
    } finally {
      this.#reading.delete(name);
    }
    if (!info || this.#delivered.has(name)) return;
    this.#delivered.add(name);
    if (this.#listeners.length === 0) {
      this.#queued.push([name, info]);
      return;
    }
    for (const l of this.#listeners) l(name, info);
  }

  // --- paths

  #bundle(id: string): string {
    return path.join(this.#tasksDir, id);
  }

  rootfsPath(id: string): string {
    checkId(id);
    return path.join(this.#bundle(id), 'rootfs');
  }

  /**
   * Where conmon puts an attach socket for the conmon running in `dir`: in `dir` itself when
   * the path fits in sun_path (--full-attach), else behind a short symlink conmon makes in
   * the socket dir. conmon names that link after the cuuid it is given, so then the cuuid is a
   * hash of `dir`: short, and the same for any instance that looks for it again.
   */
  #attachLayout(dir: string): { args: string[]; socket: string; link?: string; cuuid?: string } {
    const full = path.join(dir, 'attach');
    if (Buffer.byteLength(full) <= maxSocketPath) return { args: ['--full-attach'], socket: full };
    const key = createHash('sha256').update(dir).digest('hex').slice(0, 16);
    const link = path.join(this.#socketDir, key);
    if (Buffer.byteLength(path.join(link, 'attach')) > maxSocketPath) {
      throw new SystemError(`exec root ${this.#execRoot} is too long for conmon's attach socket`);
    }
    return {
      args: ['--socket-dir-path', this.#socketDir],
      socket: path.join(link, 'attach'),
      link,
      cuuid: key,
    };
  }

  #commonArgs(cid: string, cuuid: string, dir: string): string[] {
    const args = [
      '--api-version',
      '1',
      '-c',
      cid,
      '-u',
      cuuid,
      '-n',
      cid,
      '-r',
      this.#runc,
      '-b',
      dir,
      '-p',
      path.join(dir, 'pidfile'),
      '-P',
      path.join(dir, 'conmon.pid'),
      '--persist-dir',
      dir,
      `--runtime-arg=--root=${this.#runcRoot}`,
      '--runtime-arg=--log-format=json',
    ];
    // Without syslog, whatever conmon says after it daemonized goes to /dev/null.
    args.push('--syslog');
    // conmon would otherwise fsync the log when the container ends and linger (seconds, under
    // disk load) on the path of every `run --rm`; dockerd does not sync logs either.
    args.push('--no-sync-log');
    if (this.#logLevel) args.push('--log-level', this.#logLevel);
    return args;
  }

  /**
   * Starts conmon in its own session with stdio on /dev/null (it double-forks, so it outlives
   * berthd), handing it the sync pipe (fd 3) and, for attached exec, start and attach pipes.
   */
  #launch(args: string[], cwd: string, withAttach: boolean): Launch {
    const env: Record<string, string> = {
      PATH: process.env['PATH'] ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      _OCI_SYNCPIPE: '3',
    };
    const stdio: ('ignore' | 'pipe')[] = ['ignore', 'ignore', 'pipe', 'pipe'];
    if (withAttach) {
      env['_OCI_STARTPIPE'] = '4';
      env['_OCI_ATTACHPIPE'] = '5';
      stdio.push('pipe', 'pipe');
    }
    const child = spawn(this.#conmon, args, { cwd, env, stdio, detached: true });
    const errChunks: Buffer[] = [];
    child.stderr?.on('data', (b: Buffer) => errChunks.push(b));
    const exitCode = new Promise<number | null>((resolve) => {
      child.on('error', (err) => {
        errChunks.push(Buffer.from(String(err)));
        resolve(null);
      });
      child.on('exit', (code) => resolve(code));
    });
    child.unref();
    const pipe = (n: number): Readable & Writable => {
      const s = child.stdio[n] as (Readable & Writable) | null | undefined;
      if (!s) throw new SystemError(`conmon pipe ${n} missing`);
      return s;
    };
    return {
      reader: new SyncReader(pipe(3)),
      ...(withAttach ? { start: pipe(4), attachPipe: new SyncReader(pipe(5)) } : {}),
      stderr: () => Buffer.concat(errChunks).toString('utf8').trim(),
      exitCode,
    };
  }

  /** The first sync message: the pid, or runc's error. */
  async #awaitPid(launch: Launch, what: string): Promise<number> {
    const msg: SyncMessage | undefined = await launch.reader.next();
    if (msg && msg.data > 0) return msg.data;
    if (msg?.message) throw runtimeError(runtimeMessage(msg.message));
    const code = await launch.exitCode;
    const stderr = launch.stderr();
    throw new SystemError(
      `conmon for ${what} exited (status ${code ?? 'unknown'}) without reporting a pid${stderr ? `: ${stderr}` : ''}`,
    );
  }

  // --- lifecycle

  async create(options: CreateTaskOptions): Promise<TaskState> {
    const { id } = options;
    checkId(id);
    const bundle = this.#bundle(id);
    try {
      await fs.mkdir(bundle, { mode: 0o700 });
    } catch (err: unknown) {
      if (errnoCode(err) === 'EEXIST') {
        throw new ConflictError(`task ${id} already exists`, { cause: err });
      }
      throw err;
    }
    try {
      if (options.volatile) {
        await mountAll(
          [
            {
              type: 'tmpfs',
              source: 'tmpfs',
              options: ['nosuid', 'nodev', 'mode=0700', 'size=16m'],
            },
          ],
          bundle,
        );
      }
      return await this.#create(options, bundle);
    } catch (err: unknown) {
      // Leave nothing behind: the caller may create the same id again.
      await this.delete(id).catch(() => undefined);
      throw err;
    }
  }

  async #create(options: CreateTaskOptions, bundle: string): Promise<TaskState> {
    const { id } = options;
    const rootfs = path.join(bundle, 'rootfs');
    await fs.mkdir(rootfs);
    await mountAll(options.rootfs, rootfs);
    const spec = await options.spec(rootfs);
    // A container in a user namespace reaches its rootfs as its mapped root: the bundle must
    // be searchable by others (as containerd's 0711 bundles), though not listable.
    if ((spec.linux?.uidMappings?.length ?? 0) > 0) await fs.chmod(bundle, 0o711);
    spec.root = { ...spec.root, path: rootfs };
    spec.process.terminal = options.tty;
    await writeJsonAtomic(path.join(bundle, 'config.json'), spec);
    await fs.rm(path.join(this.#exitsDir, id), { force: true });
    this.#delivered.delete(id);

    const layout = this.#attachLayout(bundle);
    const args = [
      ...this.#commonArgs(id, layout.cuuid ?? id, bundle),
      ...layout.args,
      '--exit-dir',
      this.#exitsDir,
      '-l',
      `k8s-file:${options.logPath}`,
    ];
    if (options.stdin) args.push('-i');
    if (options.tty) args.push('-t');
    const launch = this.#launch(args, bundle, false);
    const pid = await this.#awaitPid(launch, `task ${id}`);
    const record: TaskRecord = {
      id,
      stdin: options.stdin,
      tty: options.tty,
      logPath: options.logPath,
      cgroupsPath: spec.linux.cgroupsPath ?? '',
      pid,
      startTime: (await processStartTime(pid)) ?? '',
    };
    await writeJsonAtomic(path.join(bundle, 'task.json'), record);
    return { status: 'created', pid };
  }

  async #record(id: string): Promise<TaskRecord | undefined> {
    checkId(id);
    return readJsonIfExists<TaskRecord>(path.join(this.#bundle(id), 'task.json'));
  }

  async #requireRecord(id: string): Promise<TaskRecord> {
    const rec = await this.#record(id);
    if (!rec) throw new NotFoundError(`no such task: ${id}`);
    return rec;
  }

  /** The init pid while it is alive and is still the process runc started. */
  async #livePid(rec: TaskRecord): Promise<number | undefined> {
    if (rec.pid <= 0) return undefined;
    const start = await processStartTime(rec.pid);
    if (start === undefined || (rec.startTime !== '' && start !== rec.startTime)) return undefined;
    return rec.pid;
  }

  async #runcCmd(args: string[], what: string, input?: string): Promise<string> {
    const res = await run(this.#runc, ['--root', this.#runcRoot, '--log-format', 'json', ...args], {
      allowFailure: true,
      ...(input !== undefined ? { input } : {}),
    });
    if (res.code !== 0) {
      const msg = runtimeMessage(res.stderr || res.stdout) || `exit status ${res.code}`;
      if (/container does not exist/.test(msg)) throw new NotFoundError(`no such task: ${what}`);
      throw new SystemError(`runc ${args[0] ?? ''} ${what}: ${msg}`);
    }
    return res.stdout;
  }

  async start(id: string): Promise<void> {
    const rec = await this.#requireRecord(id);
    const fifo = path.join(this.#runcRoot, id, 'exec.fifo');
    if (!(await exists(fifo))) {
      throw new ConflictError(`task ${id} is not in the created state`);
    }
    await this.#runcCmd(['start', rec.id], id);
  }

  async kill(id: string, signal: number, options: { all?: boolean } = {}): Promise<void> {
    const rec = await this.#requireRecord(id);
    if (options.all) {
      try {
        await this.#runcCmd(['kill', '--all', id, String(signal)], id);
      } catch (err: unknown) {
        // A task that exits meanwhile is being deleted: runc then finds its cgroup gone
        // (`lstat /sys/fs/cgroup/...`) rather than saying it is not running.
        const gone =
          (await this.#livePid(rec)) === undefined || (await exists(path.join(this.#exitsDir, id)));
        if (gone && !(err instanceof NotFoundError)) {
          throw new ConflictError(`task ${id} is not running`, { cause: err });
        }
        throw err;
      }
      return;
    }
    const pid = await this.#livePid(rec);
    if (pid === undefined || (await exists(path.join(this.#exitsDir, id)))) {
      throw new ConflictError(`task ${id} is not running`);
    }
    try {
      process.kill(pid, signal);
    } catch (err: unknown) {
      if (errnoCode(err) === 'ESRCH') {
        throw new ConflictError(`task ${id} is not running`, { cause: err });
      }
      throw err;
    }
  }

  async pause(id: string): Promise<void> {
    await this.#requireRecord(id);
    await this.#runcCmd(['pause', id], id);
  }

  async resume(id: string): Promise<void> {
    await this.#requireRecord(id);
    await this.#runcCmd(['resume', id], id);
  }

  async state(id: string): Promise<TaskState | undefined> {
    checkId(id);
    if (!(await exists(this.#bundle(id)))) return undefined;
    const rec = await this.#record(id);
    if (!rec) return { status: 'stopped', pid: 0 };
    if (await exists(path.join(this.#exitsDir, id))) return { status: 'stopped', pid: 0 };
    const pid = await this.#livePid(rec);
    if (pid === undefined) return { status: 'stopped', pid: 0 };
    if (await exists(path.join(this.#runcRoot, id, 'exec.fifo'))) return { status: 'created', pid };
    const frozen = await this.#frozen(rec);
    if (frozen === undefined) {
      const out = JSON.parse(await this.#runcCmd(['state', id], id)) as { status?: string };
      if (out.status === 'paused') return { status: 'paused', pid };
      if (out.status === 'stopped') return { status: 'stopped', pid: 0 };
      return { status: 'running', pid };
    }
    return { status: frozen ? 'paused' : 'running', pid };
  }

  /** Whether the task's freezer cgroup is frozen; undefined when the layout is not known. */
  async #frozen(rec: TaskRecord): Promise<boolean | undefined> {
    if (!rec.cgroupsPath.startsWith('/')) return undefined;
    const v1 = await readText(
      path.join('/sys/fs/cgroup/freezer', rec.cgroupsPath, 'freezer.state'),
    );
    if (v1 !== undefined) return v1.trim() !== 'THAWED';
    const v2 = await readText(path.join('/sys/fs/cgroup', rec.cgroupsPath, 'cgroup.freeze'));
    if (v2 !== undefined) return v2.trim() === '1';
    return undefined;
  }

  async pids(id: string): Promise<number[]> {
    await this.#requireRecord(id);
    const state = await this.state(id);
    if (!state || state.status === 'stopped') return [];
    const out = await this.#runcCmd(['ps', '--format', 'json', id], id);
    const pids = JSON.parse(out) as unknown;
    return Array.isArray(pids) ? pids.filter((p): p is number => typeof p === 'number') : [];
  }

  async cgroupPaths(id: string): Promise<Record<string, string>> {
    checkId(id);
    const state = await readJsonIfExists<{ cgroup_paths?: Record<string, string> }>(
      path.join(this.#runcRoot, id, 'state.json'),
    );
    return { ...(state?.cgroup_paths ?? {}) };
  }

  async update(id: string, resources: LinuxResources): Promise<void> {
    await this.#requireRecord(id);
    await this.#runcCmd(['update', '--resources', '-', id], id, JSON.stringify(resources));
  }

  async exitInfo(id: string): Promise<ExitInfo | undefined> {
    checkId(id);
    const file = path.join(this.#exitsDir, id);
    let text: string;
    let mtime: Date;
    try {
      [text, mtime] = await Promise.all([
        fs.readFile(file, 'utf8'),
        fs.stat(file).then((s) => s.mtime),
      ]);
    } catch (err: unknown) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    const exitCode = Number.parseInt(text.trim(), 10);
    if (!Number.isFinite(exitCode)) return undefined;
    return {
      exitCode,
      oomKilled: await exists(path.join(this.#bundle(id), 'oom')),
      finishedAt: mtime.toISOString(),
    };
  }

  onExit(listener: (id: string, exit: ExitInfo) => void): void {
    this.#listeners.push(listener);
    for (const [id, info] of this.#queued.splice(0)) listener(id, info);
  }

  async list(): Promise<string[]> {
    const names = await fs.readdir(this.#tasksDir);
    return names.filter((n) => idPattern.test(n)).sort();
  }

  async delete(id: string): Promise<void> {
    checkId(id);
    const bundle = this.#bundle(id);
    if (await exists(path.join(this.#runcRoot, id))) {
      const ended = await exists(path.join(this.#exitsDir, id));
      if (!(ended && (await this.#removeStoppedState(id)))) {
        try {
          await this.#runcCmd(['delete', '--force', id], id);
        } catch (err: unknown) {
          if (!(err instanceof NotFoundError)) throw err;
        }
      }
    }
    // conmon notices the exit, writes the exit file and leaves; exec sessions' conmons too.
    const conmonPids = [path.join(bundle, 'conmon.pid')];
    const execDir = path.join(bundle, 'exec');
    for (const e of await fs.readdir(execDir).catch(() => [] as string[])) {
      conmonPids.push(path.join(execDir, e, 'conmon.pid'));
    }
    await Promise.all(conmonPids.map((f) => this.#reapConmon(f)));

    const rootfs = path.join(bundle, 'rootfs');
    await unmountAll(rootfs, { detach: true });
    if (await isMountPoint(rootfs)) {
      throw new SystemError(`rootfs of task ${id} is still mounted at ${rootfs}`);
    }
    const links = [this.#attachLayout(bundle).link];
    for (const e of await fs.readdir(execDir).catch(() => [] as string[])) {
      links.push(this.#attachLayout(path.join(execDir, e)).link);
    }
    for (const link of links) if (link) await fs.rm(link, { force: true });
    // A volatile bundle is a tmpfs: unmounting it drops its files.
    await unmountAll(bundle, { detach: true });
    await fs.rm(bundle, { recursive: true, force: true });
    await fs.rm(path.join(this.#exitsDir, id), { force: true });
    this.#delivered.delete(id);
  }

  /**
   * What `runc delete` does for a container whose init has exited, without spawning it (that
   * costs ~10 ms on the path of every `run --rm`): remove its cgroups, then its state
   * directory. False when a cgroup still holds processes; `runc delete --force` then does it.
   */
  async #removeStoppedState(id: string): Promise<boolean> {
    const stateDir = path.join(this.#runcRoot, id);
    const state = await readJsonIfExists<{ cgroup_paths?: Record<string, string> }>(
      path.join(stateDir, 'state.json'),
    );
    if (!state) return false;
    for (const dir of new Set(Object.values(state.cgroup_paths ?? {}))) {
      if (!dir.startsWith('/sys/fs/cgroup/')) return false;
      try {
        await fs.rmdir(dir);
      } catch (err: unknown) {
        const code = errnoCode(err);
        if (code === 'ENOENT') continue;
        if (code === 'EBUSY') return false;
        throw err;
      }
    }
    await fs.rm(stateDir, { recursive: true, force: true });
    return true;
  }

  /** Waits for the conmon whose pid file is `file` to exit, killing it if it lingers. */
  async #reapConmon(file: string): Promise<void> {
    const text = await readText(file);
    const pid = text === undefined ? NaN : Number.parseInt(text, 10);
    if (!Number.isInteger(pid) || pid <= 0) return;
    // The pid file may be stale (a reused pid); conmon's own cmdline says whether it is ours.
    const cmdline = await readText(`/proc/${pid}/cmdline`);
    if (cmdline === undefined || !cmdline.includes(path.dirname(file))) return;
    // conmon leaves right after writing the exit file: poll briefly first, then slower.
    for (let waited = 0, step = 1; waited < 5000 && alive(pid); waited += step) {
      await sleep(step);
      step = Math.min(step * 2, 20);
    }
    if (alive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch (err: unknown) {
        if (errnoCode(err) !== 'ESRCH') throw err;
      }
    }
  }

  // --- stdio

  async attach(id: string): Promise<AttachStream> {
    await this.#requireRecord(id);
    return connectAttach(this.#attachLayout(this.#bundle(id)).socket, `task ${id}`);
  }

  async resize(id: string, height: number, width: number): Promise<void> {
    await this.#requireRecord(id);
    await writeControl(path.join(this.#bundle(id), 'ctl'), height, width, `task ${id}`);
  }

  async exec(id: string, options: ExecOptions): Promise<ExecHandle> {
    const rec = await this.#requireRecord(id);
    checkId(options.execId, 'exec');
    if ((await this.#livePid(rec)) === undefined) {
      throw new ConflictError(`task ${id} is not running`);
    }
    const dir = path.join(this.#bundle(id), 'exec', options.execId);
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const proc: Process = { ...options.process, terminal: options.tty };
    await writeJsonAtomic(path.join(dir, 'process.json'), proc);
    const layout = this.#attachLayout(dir);
    const attached = !options.detach;
    const args = [
      ...this.#commonArgs(id, layout.cuuid ?? options.execId, dir),
      ...layout.args,
      '-e',
      '--exec-process-spec',
      path.join(dir, 'process.json'),
      '-l',
      'none',
    ];
    if (attached) args.push('--exec-attach');
    if (options.stdin && attached) args.push('-i');
    if (options.tty) args.push('-t');
    const launch = this.#launch(args, dir, attached);
    const what = `exec ${options.execId} in task ${id}`;

    let stream: AttachStream | undefined;
    if (launch.start && launch.attachPipe) {
      // conmon waits for a first start message, sets up the attach socket and says so, then
      // waits for a second before it runs `runc exec`, so that no output is lost.
      launch.start.write('0');
      const ready = await launch.attachPipe.next();
      if (!ready || ready.data !== 0) {
        const code = await launch.exitCode;
        throw new SystemError(
          `conmon for ${what} did not open its attach socket (status ${code ?? 'unknown'}): ${ready?.message ?? launch.stderr()}`,
        );
      }
      stream = connectAttach(layout.socket, what);
      launch.start.write('0');
    }
    let pid: number;
    try {
      pid = await this.#awaitPid(launch, what);
    } catch (err: unknown) {
      stream?.destroy();
      throw err;
    } finally {
      launch.start?.end();
    }
    const exitFile = path.join(dir, 'exit');
    const exited = launch.reader.next().then(async (m) => {
      if (m && m.message === undefined) return m.data;
      const text = await readText(exitFile);
      return text === undefined ? -1 : Number.parseInt(text, 10);
    });
    return {
      pid,
      ...(stream ? { stream } : {}),
      exited,
      resize: (height: number, width: number) =>
        writeControl(path.join(dir, 'ctl'), height, width, what),
    };
  }

  async close(): Promise<void> {
    this.#watcher?.close();
    this.#watcher = undefined;
  }
}

/** Sends a resize to conmon through its control fifo (`1 <height> <width>`). */
async function writeControl(
  fifo: string,
  height: number,
  width: number,
  what: string,
): Promise<void> {
  let handle;
  try {
    handle = await fs.open(fifo, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
  } catch (err: unknown) {
    const code = errnoCode(err);
    if (code === 'ENXIO' || code === 'ENOENT') {
      throw new ConflictError(`${what} is not running`, { cause: err });
    }
    throw err;
  }
  try {
    await handle.write(`1 ${Math.trunc(height)} ${Math.trunc(width)}\n`);
  } finally {
    await handle.close();
  }
}

/**
 * A runtime that runs each task under its own conmon (runc or crun underneath), keeping all
 * state under `execRoot` so that tasks outlive berthd and a new instance picks them up.
 */
export async function newConmonRuntime(options: ConmonRuntimeOptions): Promise<Runtime> {
  const conmon = await findBinary(['conmon', '/usr/libexec/podman/conmon', '/usr/bin/conmon']);
  const runc = await findBinary([options.runtime ?? 'runc']);
  const rt = new ConmonRuntime(options, conmon, runc);
  await rt.init();
  return rt satisfies Runtime;
}
