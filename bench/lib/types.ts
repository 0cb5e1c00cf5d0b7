/** The engines a case can be run against. `berth-docker` is the docker CLI pointed at berthd. */
export type EngineId = 'berth' | 'berth-docker' | 'docker' | 'podman';

/** One figure a case reports: samples per engine (one sample for single measurements). */
export interface Metric {
  /** Short label shown in the table. */
  label: string;
  unit: 'ms' | 's' | 'MiB' | 'KiB' | 'count' | 'MB/s';
  values: Partial<Record<EngineId, number[]>>;
  /** What to know when reading the figure (a failure, a peer that could not do it). */
  note?: string;
}

/** The outcome of one command run by a case. */
export interface CommandResult {
  code: number | null;
  ms: number;
  stdout: string;
  stderr: string;
  /** Bytes of stdout seen (also counted when the text is not kept). */
  stdoutBytes: number;
  timedOut: boolean;
}

export interface CommandOptions {
  /** Kill the command after this long (default 60 s). */
  timeoutMs?: number;
  /** Count stdout bytes but keep none of the text (large outputs). */
  discardStdout?: boolean;
  /** Called on each stdout chunk as it arrives. */
  onStdout?: (chunk: Buffer) => void;
  /** Aborting kills the command (SIGTERM). */
  signal?: AbortSignal;
}

/** An engine as a case sees it: a CLI to run and the daemons behind it. */
export interface Engine {
  id: EngineId;
  /** Runs `<cli> <args...>`; for run/create the engine's own extra flags are added. */
  cmd(args: string[], options?: CommandOptions): Promise<CommandResult>;
  /** Like cmd, but throws unless the exit code is 0. */
  ok(args: string[], options?: CommandOptions): Promise<CommandResult>;
  /** Pids of the engine's long-running daemons (empty for podman). */
  daemonPids(): number[];
}

/** What the runner hands every case. */
export interface BenchContext {
  /** The engines this machine has, in table order. */
  engines: Engine[];
  engine(id: EngineId): Engine | undefined;
  /** A fresh container name, recorded so the runner removes it at the end whatever happens. */
  name(engine: EngineId): string;
  /** Records a container id made without a name of ours (removed at the end too). */
  track(engine: EngineId, id: string): void;
  /** Removes now (rm -f) every container this run made on `engine`; forgets them. */
  cleanup(engine: EngineId): Promise<void>;
  /** Progress on the terminal. */
  log(message: string): void;
  /** The repository root. */
  root: string;
  /** The berthd socket, as unix://... */
  berthHost: string;
}

/** A case module under bench/cases/ exports these. */
export interface BenchCase {
  /** The name ONLY= selects it by. */
  name: string;
  /** What it measures, one or two sentences (shown in the report). */
  description: string;
  /** Run only when named in ONLY (long cases). */
  optIn?: boolean;
  run(ctx: BenchContext): Promise<Metric[]>;
}
