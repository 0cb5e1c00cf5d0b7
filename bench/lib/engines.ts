import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { purgeNetworkState } from '../../src/network/cleanup.js';
import { describeFailure, runCommand } from './command.js';
import { processTable } from './proc.js';
import type { CommandOptions, CommandResult, Engine, EngineId } from './types.js';

/** A berthd this run started on its own temporary roots. */
export interface Berthd {
  host: string;
  pid: number;
  dataRoot: string;
  execRoot: string;
  logPath: string;
  /**
   * SIGTERM, then SIGKILL after 20 s; unmounts what is left under its roots, drops its
   * networks' bridges and rules, removes the roots.
   */
  stop(): Promise<void>;
}

function unixPath(host: string): string {
  return host.replace(/^unix:\/\//, '');
}

/** Starts berthd and waits until it answers; bootstraps busybox:latest in it. */
export async function startBerthd(root: string, log: (m: string) => void): Promise<Berthd> {
  const dataRoot = mkdtempSync(join(tmpdir(), 'berth-bench-'));
  // conmon's socket paths are limited in length: keep the exec root short.
  const execRoot = mkdtempSync('/run/bb-');
  const host = `unix://${execRoot}/berth.sock`;
  const logPath = join(dataRoot, 'berthd.log');
  const fd = openSync(logPath, 'a');
  const child: ChildProcess = spawn(
    process.execPath,
    [
      join(root, 'bin/berth'),
      'daemon',
      '--data-root',
      dataRoot,
      '--exec-root',
      execRoot,
      '-H',
      host,
    ],
    { stdio: ['ignore', fd, fd], detached: true },
  );
  closeSync(fd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));
  const stop = async (): Promise<void> => {
    if (!gone) {
      child.kill('SIGTERM');
      const t = await Promise.race([exited.then(() => 'exit'), sleep(20_000).then(() => 'late')]);
      if (t === 'late') {
        child.kill('SIGKILL');
        await exited;
      }
    }
    // Mounts left under our own roots (a daemon that died mid-way), deepest first.
    const mounts = readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[1] ?? '')
      .filter((m) => m.startsWith(`${dataRoot}/`) || m.startsWith(`${execRoot}/`))
      .sort((a, b) => b.length - a.length);
    for (const m of mounts) await runCommand(['umount', '-l', m], process.env);
    // Its default bridge and rules outlive the daemon (as dockerd's do): not so a bench's.
    await purgeNetworkState(dataRoot).catch((err: unknown) =>
      log(`network clean-up of ${dataRoot}: ${String(err)}`),
    );
    rmSync(dataRoot, { recursive: true, force: true });
    rmSync(execRoot, { recursive: true, force: true });
  };
  const env = { ...process.env, BERTH_HOST: host };
  for (let i = 0; i < 100; i++) {
    if (gone) break;
    const r = await runCommand([join(root, 'bin/berth'), 'version'], env, { timeoutMs: 5000 });
    if (r.code === 0) break;
    await sleep(200);
  }
  if (gone) {
    const text = readFileSync(logPath, 'utf8');
    await stop();
    throw new Error(`berthd exited at start: ${text.slice(-2000)}`);
  }
  const boot = await runCommand([join(root, 'bin/berth'), 'image', 'bootstrap', 'busybox'], env);
  if (boot.code !== 0) {
    await stop();
    throw new Error(describeFailure(['berth', 'image', 'bootstrap', 'busybox'], boot));
  }
  log(`berthd pid ${child.pid!} on ${host} (data ${dataRoot})`);
  return { host, pid: child.pid!, dataRoot, execRoot, logPath, stop };
}

function makeEngine(
  id: EngineId,
  cli: string[],
  env: NodeJS.ProcessEnv,
  runFlags: string[],
  daemonPids: () => number[],
): Engine {
  const withFlags = (args: string[]): string[] => {
    if (runFlags.length > 0 && (args[0] === 'run' || args[0] === 'create'))
      return [args[0], ...runFlags, ...args.slice(1)];
    // podman rm -f stops with a 10 s grace first; docker's and berth's kill at once.
    if (id === 'podman' && args[0] === 'rm') return ['rm', '-t', '0', ...args.slice(1)];
    return args;
  };
  const cmd = (args: string[], options?: CommandOptions): Promise<CommandResult> =>
    runCommand([...cli, ...withFlags(args)], env, options);
  return {
    id,
    cmd,
    async ok(args, options) {
      const r = await cmd(args, options);
      if (r.code !== 0) throw new Error(`${id}: ${describeFailure([...cli, ...args], r)}`);
      return r;
    },
    daemonPids,
  };
}

/** bin/berth against our berthd. */
export function berthEngine(root: string, d: Berthd): Engine {
  return makeEngine(
    'berth',
    [process.execPath, join(root, 'bin/berth')],
    { ...process.env, BERTH_HOST: d.host },
    [],
    () => [d.pid],
  );
}

/** The docker CLI against our berthd. */
export function berthDockerEngine(d: Berthd): Engine {
  return makeEngine('berth-docker', ['docker', '-H', d.host], dockerEnv(), [], () => [d.pid]);
}

function dockerEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.DOCKER_HOST;
  delete env.DOCKER_CONTEXT;
  return env;
}

/** dockerd and its containerd: the pid file, and containerd as dockerd's child. */
function dockerDaemons(pidFile: string): number[] {
  let dockerd: number;
  try {
    dockerd = Number(readFileSync(pidFile, 'utf8').trim());
  } catch {
    return [];
  }
  const out = [dockerd];
  for (const p of processTable().values()) {
    if (p.ppid === dockerd && p.comm === 'containerd') out.push(p.pid);
  }
  return out;
}

/** The anchor engines from shared/bench/anchors.sh, where they answer. */
export async function peerEngines(log: (m: string) => void): Promise<Engine[]> {
  const out: Engine[] = [];
  const dockerHost = process.env.ANCHOR_DOCKER_HOST;
  if (dockerHost !== undefined && dockerHost !== '') {
    const pidFile = join(unixPath(dockerHost), '..', 'docker.pid');
    const e = makeEngine('docker', ['docker', '-H', dockerHost], dockerEnv(), [], () =>
      dockerDaemons(pidFile),
    );
    const r = await e.cmd(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 10_000 });
    if (r.code === 0) out.push(e);
    else log(`docker anchor not answering: ${r.stderr.trim()}`);
  } else log('ANCHOR_DOCKER_HOST unset: no Docker figures (run through scripts/bench.sh)');
  const podmanFlags = (process.env.ANCHOR_PODMAN_FLAGS ?? '').split(' ').filter(Boolean);
  const podmanRun = (process.env.ANCHOR_PODMAN_RUN_FLAGS ?? '').split(' ').filter(Boolean);
  const p = makeEngine('podman', ['podman', ...podmanFlags], process.env, podmanRun, () => []);
  const r = await p.cmd(['image', 'exists', 'busybox:latest'], { timeoutMs: 30_000 });
  if (r.code === 0) out.push(p);
  else log(`podman not usable (busybox:latest missing?): ${r.stderr.trim()}`);
  return out;
}
