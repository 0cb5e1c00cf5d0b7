import { InvalidArgumentError } from '../errors/index.js';
import type {
  ContainerConfig,
  HealthConfig,
  HealthLogEntry,
  HealthState,
  HealthStatus,
} from '../spec/engine.js';

/**
 * Healthchecks as dockerd runs them (moby daemon/health.go): a probe is an exec in the
 * container, run an interval after the previous one ended; its result moves State.Health
 * between starting, healthy and unhealthy. The pure rules come first, the monitor after.
 */

/** Defaults in nanoseconds, as the API carries durations. */
export const healthDefaults = {
  interval: 30e9,
  timeout: 30e9,
  startPeriod: 0,
  startInterval: 5e9,
  retries: 3,
} as const;

/** Longest probe output kept, in bytes; longer output ends in "...". */
export const maxOutputLen = 4096;
/** Probe results kept in State.Health.Log. */
export const maxLogEntries = 5;
/** dockerd's MinimumDuration for healthcheck durations: 1 ms. */
const minimumDuration = 1e6;

export const healthStatuses: readonly string[] = ['none', 'starting', 'healthy', 'unhealthy'];

/** The command a probe runs, or undefined when there is no healthcheck (none, NONE, unknown). */
export function probeCommand(config: ContainerConfig): string[] | undefined {
  const test = config.Healthcheck?.Test;
  if (!test || test.length === 0) return undefined;
  switch (test[0]) {
    case 'CMD':
      return test.slice(1);
    case 'CMD-SHELL':
      return [
        ...(config.Shell && config.Shell.length > 0 ? config.Shell : ['/bin/sh', '-c']),
        ...test.slice(1),
      ];
    default:
      return undefined;
  }
}

/** The durations and retries a monitor uses, each zero replaced by dockerd's default (ms). */
export function healthTimings(hc: HealthConfig | null | undefined): {
  intervalMs: number;
  timeoutMs: number;
  startPeriodMs: number;
  startIntervalMs: number;
  retries: number;
} {
  const or = (v: number | undefined, d: number): number => (v ? v : d) / 1e6;
  return {
    intervalMs: or(hc?.Interval, healthDefaults.interval),
    timeoutMs: or(hc?.Timeout, healthDefaults.timeout),
    startPeriodMs: or(hc?.StartPeriod, healthDefaults.startPeriod),
    startIntervalMs: or(hc?.StartInterval, healthDefaults.startInterval),
    retries: hc?.Retries && hc.Retries > 0 ? hc.Retries : healthDefaults.retries,
  };
}

/** dockerd's validateHealthCheck, with its words. */
export function validateHealthcheck(hc: HealthConfig | null | undefined): void {
  if (!hc) return;
  // JSON null (docker-py, hence docker-compose v1, sends it for unset fields) decodes to 0 in
  // dockerd: unset, not short.
  const short = (v: number | undefined | null): boolean =>
    v !== undefined && v !== null && v !== 0 && v < minimumDuration;
  if (short(hc.Interval))
    throw new InvalidArgumentError('Interval in Healthcheck cannot be less than 1ms');
  if (short(hc.Timeout))
    throw new InvalidArgumentError('Timeout in Healthcheck cannot be less than 1ms');
  if ((hc.Retries ?? 0) < 0)
    throw new InvalidArgumentError('Retries in Healthcheck cannot be negative');
  if (short(hc.StartPeriod))
    throw new InvalidArgumentError('StartPeriod in Healthcheck cannot be less than 1ms');
  if (short(hc.StartInterval))
    throw new InvalidArgumentError('StartInterval in Healthcheck cannot be less than 1ms');
}

/** The image's healthcheck under the user's, field by field where the user left zeros (moby's merge). */
export function mergeHealthcheck(
  user: HealthConfig | null | undefined,
  image: HealthConfig | null | undefined,
): HealthConfig | null | undefined {
  if (!image) return user;
  if (!user) return image;
  const out: HealthConfig = { ...user };
  if (!out.Test || out.Test.length === 0) out.Test = image.Test;
  if (!out.Interval && image.Interval) out.Interval = image.Interval;
  if (!out.Timeout && image.Timeout) out.Timeout = image.Timeout;
  if (!out.StartPeriod && image.StartPeriod) out.StartPeriod = image.StartPeriod;
  if (!out.StartInterval && image.StartInterval) out.StartInterval = image.StartInterval;
  if (!out.Retries && image.Retries) out.Retries = image.Retries;
  return out;
}

/** Collects probe output up to {@link maxOutputLen} bytes; text() adds "..." when some was lost. */
export class LimitedBuffer {
  #chunks: Buffer[] = [];
  #len = 0;
  #truncated = false;

  write(data: Buffer): void {
    const keep = Math.min(maxOutputLen - this.#len, data.length);
    if (keep > 0) {
      this.#chunks.push(data.subarray(0, keep));
      this.#len += keep;
    }
    if (keep < data.length) this.#truncated = true;
  }

  text(): string {
    const out = Buffer.concat(this.#chunks).toString('utf8');
    return this.#truncated ? `${out}...` : out;
  }
}

/** Go's time.Duration String() for a whole number of nanoseconds: 1s, 500ms, 1m30s, 1.5µs. */
export function goDurationString(ns: number): string {
  if (ns === 0) return '0s';
  const neg = ns < 0;
  let u = Math.abs(Math.round(ns));
  const sign = neg ? '-' : '';
  const frac = (v: number, digits: number): string => {
    const s = String(v).padStart(digits, '0').replace(/0+$/, '');
    return s === '' ? '' : `.${s}`;
  };
  if (u < 1e9) {
    if (u < 1e3) return `${sign}${u}ns`;
    if (u < 1e6) return `${sign}${Math.floor(u / 1e3)}${frac(u % 1e3, 3)}µs`;
    return `${sign}${Math.floor(u / 1e6)}${frac(u % 1e6, 6)}ms`;
  }
  const secNs = u % 60e9;
  u = Math.floor(u / 60e9);
  const seconds = `${Math.floor(secNs / 1e9)}${frac(secNs % 1e9, 9)}s`;
  if (u === 0) return `${sign}${seconds}`;
  const minutes = u % 60;
  const hours = Math.floor(u / 60);
  return `${sign}${hours > 0 ? `${hours}h` : ''}${minutes}m${seconds}`;
}

/** The Log entry and output of a probe that ran past its timeout. */
export function timeoutOutput(timeoutNs: number, output: string): string {
  const d = goDurationString(timeoutNs);
  return output.length > 0
    ? `Health check exceeded timeout (${d}): ${output}`
    : `Health check exceeded timeout (${d})`;
}

/** The fresh state of a container (re)started with a probe. */
export function initialHealth(previous: HealthState | undefined): HealthState {
  return { Status: 'starting', FailingStreak: 0, Log: previous?.Log ?? [] };
}

/**
 * dockerd's handleProbeResult: the log keeps the last five; success is healthy at once; a
 * failure counts toward `retries` unless the container is still starting within its start
 * period (measured from the container's start to the probe's start).
 */
export function applyProbeResult(
  health: HealthState,
  result: HealthLogEntry,
  options: { retries: number; startPeriodMs: number; startedAt: string },
): HealthState {
  const log = [...health.Log, result].slice(-maxLogEntries);
  if (result.ExitCode === 0) return { Status: 'healthy', FailingStreak: 0, Log: log };
  let streak = health.FailingStreak;
  let status: HealthStatus = health.Status;
  const sinceStart = Date.parse(result.Start) - Date.parse(options.startedAt);
  const inStartPeriod = status === 'starting' && sinceStart < options.startPeriodMs;
  if (!inStartPeriod) {
    streak++;
    if (streak >= options.retries) status = 'unhealthy';
  }
  return { Status: status, FailingStreak: streak, Log: log };
}

/** The wait before the next probe: the start interval while starting within the start period. */
export function nextProbeDelay(
  timings: { intervalMs: number; startPeriodMs: number; startIntervalMs: number },
  status: HealthStatus,
  msSinceStart: number,
): number {
  if (msSinceStart >= timings.startPeriodMs) return timings.intervalMs;
  return status === 'starting' ? timings.startIntervalMs : timings.intervalMs;
}

/** What `ps` adds after "Up …": `(healthy)`, `(unhealthy)`, `(health: starting)`. */
export function healthSuffix(health: HealthState | undefined): string {
  if (!health) return '';
  return health.Status === 'starting' ? ' (health: starting)' : ` (${health.Status})`;
}

/** `ps --filter health=` values, checked as dockerd checks them. */
export function validateHealthFilter(values: readonly string[]): void {
  for (const v of values) {
    if (!healthStatuses.includes(v)) {
      throw new InvalidArgumentError(
        `invalid filter 'health=${v}': invalid value for health (${v}): must be one of ${healthStatuses.join(', ')}`,
      );
    }
  }
}

// ---- the monitor ---------------------------------------------------------------------------

/** One probe's run, as the container service performs it. */
export interface ProbeRun {
  /** Resolves with the exit code once the probe's process ended (killed: 137). */
  exited: Promise<number>;
  /** Kills the probe's process. */
  kill(): Promise<void>;
}

export interface HealthMonitorDeps {
  /**
   * Runs `cmd` as an exec in the container (publishing exec_create/exec_start/exec_die), its
   * output written to `output`. Resolves once the process has started.
   */
  exec(containerId: string, cmd: string[], output: LimitedBuffer): Promise<ProbeRun>;
  /** The container's current config, start time and health, or undefined once it is gone. */
  current(
    containerId: string,
  ): { config: ContainerConfig; startedAt: string; health: HealthState | undefined } | undefined;
  /**
   * Stores the new health and publishes `health_status: <status>` when it changed; `live()`
   * tells, once the caller holds the container's lock, whether the loop is still wanted.
   */
  update(
    containerId: string,
    health: HealthState,
    changed: boolean,
    live: () => boolean,
  ): Promise<void>;
}

/** Runs one probe loop per running container with a healthcheck. */
export interface HealthMonitors {
  /** Starts the loop (replacing a running one); does nothing without a probe. */
  start(containerId: string): void;
  /**
   * Stops the loop at once, killing a probe in flight (its result is dropped); true when a
   * loop was running, which dockerd marks by making the status unhealthy.
   */
  stop(containerId: string): boolean;
  /** Stops every loop and waits for their probes to end. */
  close(): Promise<void>;
}

interface Loop {
  stopped: boolean;
  timer?: NodeJS.Timeout;
  probe?: ProbeRun;
  /** Settles when the probe in flight (if any) has been handled. */
  inFlight: Promise<void>;
}

class Monitors implements HealthMonitors {
  readonly #deps: HealthMonitorDeps;
  readonly #loops = new Map<string, Loop>();
  readonly #halting = new Set<Promise<void>>();

  constructor(deps: HealthMonitorDeps) {
    this.#deps = deps;
  }

  start(id: string): void {
    const cur = this.#deps.current(id);
    if (!cur || !probeCommand(cur.config)) return;
    const old = this.#loops.get(id);
    if (old) this.#halt(old);
    const loop: Loop = { stopped: false, inFlight: Promise.resolve() };
    this.#loops.set(id, loop);
    this.#schedule(id, loop);
  }

  #schedule(id: string, loop: Loop): void {
    const cur = this.#deps.current(id);
    if (loop.stopped || !cur) return;
    const delay = nextProbeDelay(
      healthTimings(cur.config.Healthcheck),
      cur.health?.Status ?? 'starting',
      Date.now() - Date.parse(cur.startedAt),
    );
    loop.timer = setTimeout(() => {
      loop.inFlight = this.#probeOnce(id, loop).then(
        () => this.#schedule(id, loop),
        (err: unknown) => {
          console.error(`berthd: healthcheck of ${id}:`, err instanceof Error ? err.message : err);
          this.#schedule(id, loop);
        },
      );
    }, delay);
    loop.timer.unref();
  }

  async #probeOnce(id: string, loop: Loop): Promise<void> {
    const cur = this.#deps.current(id);
    const cmd = cur && probeCommand(cur.config);
    if (loop.stopped || !cur || !cmd) return;
    const timings = healthTimings(cur.config.Healthcheck);
    const start = new Date();
    const output = new LimitedBuffer();
    let exitCode: number;
    let text: string;
    if (cmd.length === 0) {
      exitCode = -1;
      text = `healthcheck for container ${id} has no command`;
    } else {
      try {
        const probe = await this.#deps.exec(id, cmd, output);
        loop.probe = probe;
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), timings.timeoutMs);
        });
        const first = await Promise.race([probe.exited, timedOut]);
        clearTimeout(timer);
        if (first === 'timeout') {
          await probe.kill().catch(() => undefined);
          await probe.exited.catch(() => undefined);
          exitCode = -1;
          text = timeoutOutput(timings.timeoutMs * 1e6, output.text());
        } else {
          exitCode = first;
          text = output.text();
        }
      } catch (err: unknown) {
        exitCode = -1;
        text = err instanceof Error ? err.message : String(err);
      } finally {
        loop.probe = undefined;
      }
    }
    // A result that comes in after the loop was stopped is dropped, as dockerd drops it.
    const now = this.#deps.current(id);
    if (loop.stopped || !now) return;
    const before = now.health ?? initialHealth(undefined);
    const after = applyProbeResult(
      before,
      {
        Start: start.toISOString(),
        End: new Date().toISOString(),
        ExitCode: exitCode,
        Output: text,
      },
      { retries: timings.retries, startPeriodMs: timings.startPeriodMs, startedAt: now.startedAt },
    );
    await this.#deps.update(
      id,
      after,
      after.Status !== before.Status,
      () => !loop.stopped && this.#loops.get(id) === loop,
    );
  }

  #halt(loop: Loop): void {
    loop.stopped = true;
    clearTimeout(loop.timer);
    if (loop.probe) void loop.probe.kill().catch(() => undefined);
    this.#halting.add(loop.inFlight);
    void loop.inFlight.finally(() => this.#halting.delete(loop.inFlight));
  }

  stop(id: string): boolean {
    const loop = this.#loops.get(id);
    if (!loop) return false;
    this.#loops.delete(id);
    this.#halt(loop);
    return true;
  }

  async close(): Promise<void> {
    for (const id of [...this.#loops.keys()]) this.stop(id);
    await Promise.all([...this.#halting]);
  }
}

export function newHealthMonitors(deps: HealthMonitorDeps): HealthMonitors {
  return new Monitors(deps) satisfies HealthMonitors;
}
