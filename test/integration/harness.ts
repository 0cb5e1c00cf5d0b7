import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A real berthd on a temporary data root, exec root and socket, for end-to-end tests; the CLI
 * and the docker CLI pointed at it. Everything it makes is named by its own random suffix and
 * removed by `stop`.
 */

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const berthBin = path.join(repoRoot, 'bin/berth');

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Engine {
  dataRoot: string;
  execRoot: string;
  socket: string;
  host: string;
  /** The daemon's process; undefined after stop or kill. */
  daemon: ChildProcess | undefined;
  logs(): string;
  berth(args: string[], options?: { input?: string; timeoutMs?: number }): Promise<CommandResult>;
  docker(args: string[], options?: { input?: string; timeoutMs?: number }): Promise<CommandResult>;
  /** A raw Engine API request; the body parsed as JSON when it is. */
  api(
    method: string,
    urlPath: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown; text: string }>;
  /** Starts berthd again on the same roots (after kill or stopDaemon). */
  restart(): Promise<void>;
  /** SIGKILL the daemon, as a crash. */
  crash(): Promise<void>;
  /** SIGTERM the daemon and wait for it to exit. */
  stopDaemon(): Promise<void>;
  /**
   * Removes every container, stops the daemon, unmounts and deletes the roots; throws when a
   * link or iptables rule of the engine's networks is still on the host afterwards.
   */
  stop(): Promise<void>;
}

export function runCommand(
  file: string,
  args: string[],
  env: Record<string, string>,
  options: { input?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `${path.basename(file)} ${args.join(' ')}: timed out\nstdout: ${stdout}\nstderr: ${stderr}`,
        ),
      );
    }, options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    // A command that exits without reading its stdin (htpasswd, openssl) must not EPIPE the test.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

function request(
  socket: string,
  method: string,
  urlPath: string,
  body?: unknown,
): Promise<{ status: number; body: unknown; text: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        socketPath: socket,
        method,
        path: urlPath,
        headers: data ? { 'Content-Type': 'application/json' } : {},
      },
      (res) => {
        let text = '';
        res.on('data', (b: Buffer) => (text += b.toString()));
        res.on('end', () => {
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, text });
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

async function waitForPing(socket: string, daemon: ChildProcess, logFile: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (daemon.exitCode !== null) {
      throw new Error(`berthd exited with ${daemon.exitCode}:\n${readFileSync(logFile, 'utf8')}`);
    }
    try {
      const r = await request(socket, 'GET', '/_ping');
      if (r.status === 200) return;
    } catch {
      // not yet listening
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`berthd did not answer on ${socket}:\n${readFileSync(logFile, 'utf8')}`);
}

async function mountsUnder(prefix: string): Promise<string[]> {
  const text = await fs.readFile('/proc/self/mountinfo', 'utf8');
  return text
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m === prefix || m.startsWith(`${prefix}/`))
    .sort((a, b) => b.length - a.length);
}

/** Processes whose command line mentions `marker` (our own exec root). */
export async function processesMentioning(marker: string): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = await fs.readFile(`/proc/${name}/cmdline`, 'utf8');
      if (cmdline.includes(marker) && Number(name) !== process.pid) pids.push(Number(name));
    } catch {
      // gone
    }
  }
  return pids;
}

/** Engines started and not stopped yet, stopped by the signal handler below. */
const liveEngines = new Set<Engine>();
let signalHandled = false;

/**
 * The test runner ends a test file that outlives --test-timeout with SIGTERM, and no after
 * hook runs then; the daemons are detached and would live on with their bridges and rules.
 * So a SIGTERM or SIGINT stops every live engine first, then ends the process.
 */
function stopEnginesOnSignal(): void {
  if (signalHandled) return;
  signalHandled = true;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      console.error(`harness: ${signal}, stopping ${liveEngines.size} engine(s)`);
      void (async () => {
        for (const e of [...liveEngines]) {
          await e.stop().catch((err: unknown) => console.error('harness:', err));
        }
        process.exit(signal === 'SIGINT' ? 130 : 143);
      })();
    });
  }
}

export async function startEngine(
  options: {
    bootstrap?: boolean;
    /** More `berth daemon` flags (--tlsverify, --userns-remap, ...). */
    daemonArgs?: string[];
    /** More environment for the daemon. */
    daemonEnv?: Record<string, string>;
  } = {},
): Promise<Engine> {
  const suffix = randomBytes(4).toString('hex');
  const dataRoot = `/tmp/berth-it-${suffix}`;
  // Short: conmon's attach socket path must fit in 108 bytes.
  const execRoot = `/run/bt-${suffix}`;
  const socket = `${execRoot}/berth.sock`;
  const host = `unix://${socket}`;
  const logFile = `${dataRoot}.log`;
  const env = { BERTH_HOST: host, DOCKER_HOST: host };
  let daemon: ChildProcess | undefined;
  // Set once stop begins: a test body still running past its timeout (the runner goes on to
  // the after hooks without stopping it) must not start a daemon on the purged roots again.
  let stopped = false;

  const launch = async (): Promise<void> => {
    const out = await fs.open(logFile, 'a');
    daemon = spawn(
      process.execPath,
      [
        berthBin,
        'daemon',
        '--data-root',
        dataRoot,
        '--exec-root',
        execRoot,
        '-H',
        host,
        ...(options.daemonArgs ?? []),
      ],
      {
        stdio: ['ignore', out.fd, out.fd],
        detached: true,
        env: { ...process.env, ...(options.daemonEnv ?? {}) },
      },
    );
    await out.close();
    await waitForPing(socket, daemon, logFile);
  };
  const exited = (d: ChildProcess): Promise<void> =>
    d.exitCode !== null || d.signalCode !== null
      ? Promise.resolve()
      : new Promise((r) => d.once('exit', () => r()));

  try {
    await launch();
  } catch (err: unknown) {
    // A daemon that never came up leaves no roots, log or networks behind either.
    if (daemon && daemon.exitCode === null && daemon.signalCode === null) {
      daemon.kill('SIGKILL');
      await exited(daemon);
    }
    const cleanup = (await import(path.join(repoRoot, 'dist/src/network/cleanup.js'))) as {
      purgeNetworkState: (dataRoot: string) => Promise<void>;
    };
    await cleanup.purgeNetworkState(dataRoot).catch(() => undefined);
    for (const root of [execRoot, dataRoot]) {
      for (const m of await mountsUnder(root)) await runCommand('umount', ['-l', m], {});
      await fs.rm(root, { recursive: true, force: true });
    }
    await fs.rm(logFile, { force: true });
    throw err;
  }
  const engine: Engine = {
    dataRoot,
    execRoot,
    socket,
    host,
    get daemon() {
      return daemon;
    },
    logs: () => readFileSync(logFile, 'utf8'),
    berth: (args, o) => runCommand(process.execPath, [berthBin, ...args], env, o),
    docker: (args, o) => runCommand('docker', args, env, o),
    api: (method, urlPath, body) => request(socket, method, urlPath, body),
    async restart() {
      if (stopped) throw new Error(`engine ${dataRoot} is stopped`);
      await launch();
    },
    async crash() {
      const d = daemon;
      if (!d) return;
      d.kill('SIGKILL');
      await exited(d);
      daemon = undefined;
    },
    async stopDaemon() {
      const d = daemon;
      if (!d) return;
      d.kill('SIGTERM');
      await exited(d);
      daemon = undefined;
    },
    async stop() {
      stopped = true;
      liveEngines.delete(engine);
      // A daemon killed and never restarted (crash tests) is started again, so that it removes
      // its containers, endpoints and rules itself; killing what is left would keep veths on
      // its bridges until their netns die, and so the bridges.
      const rootThere = await fs.stat(dataRoot).then(
        () => true,
        () => false,
      );
      if (!daemon && rootThere) await launch().catch(() => (daemon = undefined));
      if (daemon) {
        const list = await request(socket, 'GET', '/containers/json?all=1').catch(() => undefined);
        for (const c of Array.isArray(list?.body) ? (list.body as { Id: string }[]) : []) {
          await request(socket, 'DELETE', `/containers/${c.Id}?force=1`).catch(() => undefined);
        }
        await engine.stopDaemon();
      }
      for (const pid of await processesMentioning(execRoot)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      for (const root of [execRoot, dataRoot]) {
        for (const m of await mountsUnder(root)) {
          await runCommand('umount', ['-l', m], {}).catch(() => undefined);
        }
      }
      // Bridges and iptables rules of this engine's networks outlive its roots: drop them, and
      // say what could not be dropped (a veth leaves a bridge only once its netns is gone).
      const cleanup = path.join(repoRoot, 'dist/src/network/cleanup.js');
      const net = (await import(cleanup)) as {
        purgeNetworkState: (dataRoot: string) => Promise<void>;
        leftNetworkState: (dataRoot: string) => Promise<string[]>;
      };
      // A --userns-remap daemon keeps its state, networks too, in <data-root>/<uid>.<gid>.
      const remapped = (await fs.readdir(dataRoot).catch(() => [] as string[]))
        .filter((d) => /^\d+\.\d+$/.test(d))
        .map((d) => path.join(dataRoot, d));
      let left: string[] = [];
      for (let i = 0; i < 50; i++) {
        left = [];
        for (const root of [dataRoot, ...remapped]) {
          await net
            .purgeNetworkState(root)
            .catch((err: unknown) => console.error(`harness: network clean-up of ${root}:`, err));
          left.push(...(await net.leftNetworkState(root)));
        }
        if (left.length === 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      for (const root of [execRoot, dataRoot]) await fs.rm(root, { recursive: true, force: true });
      await fs.rm(logFile, { force: true });
      if (left.length > 0)
        throw new Error(`engine ${dataRoot} left on the host:\n  ${left.join('\n  ')}`);
    },
  };
  liveEngines.add(engine);
  stopEnginesOnSignal();
  if (options.bootstrap !== false) {
    const r = await engine.berth(['image', 'bootstrap', 'busybox']);
    if (r.code !== 0) {
      await engine.stop();
      throw new Error(`image bootstrap failed: ${r.stderr}`);
    }
  }
  return engine;
}
