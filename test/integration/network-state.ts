import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { CommandResult, Engine } from './harness.js';

// What a test engine's networks hold on the host, for the network tests: links on its bridges,
// rules of its tag, netns files, leases, mounts and the daemon's bound sockets.

/** A command's stdout, trimmed; asserts it exited 0. */
export async function ok(r: Promise<CommandResult>): Promise<string> {
  const res = await r;
  assert.equal(res.code, 0, `exit ${res.code}: ${res.stderr}`);
  return res.stdout.trim();
}

/** A host command's output (no stdin: the harness's runCommand writes one). */
export function host(file: string, args: string[]): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(file, args, { maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** The tag of an engine's iptables rules (berthd's daemonTag of its network root). */
export const engineTag = (engine: Engine): string =>
  createHash('sha256')
    .update(path.resolve(path.join(engine.dataRoot, 'network')))
    .digest('hex')
    .slice(0, 8);

/** What an engine's networks have on the host, counted. */
export interface HostState {
  veths: number;
  rules: number;
  netns: number;
  leases: number;
}

export async function engineHostState(engine: Engine): Promise<HostState> {
  // Only links on this engine's bridges: other engines may run beside it.
  const bridges = new Set<string>();
  const netDir = path.join(engine.dataRoot, 'network', 'networks');
  for (const f of await fs.readdir(netDir).catch(() => [] as string[])) {
    const r = JSON.parse(await fs.readFile(path.join(netDir, f), 'utf8')) as {
      Id: string;
      Driver: string;
      Options: Record<string, string>;
    };
    if (r.Driver === 'bridge')
      bridges.add(r.Options['com.docker.network.bridge.name'] ?? `br-${r.Id.slice(0, 12)}`);
  }
  const links = await ok(host('ip', ['-o', 'link', 'show']));
  const veths = links
    .split('\n')
    .filter(
      (l) => /^\d+: bv[0-9a-f]+@/.test(l) && bridges.has(/ master (\S+)/.exec(l)?.[1] ?? ''),
    ).length;
  return {
    veths,
    rules: await ruleCount(engine),
    netns: await netnsCount(engine),
    leases: await leaseCount(engine),
  };
}

/** iptables rules of the engine's tag. */
export async function ruleCount(engine: Engine): Promise<number> {
  const save = await ok(host('iptables-save', []));
  return save.split('\n').filter((l) => l.includes(`berth:${engineTag(engine)}:`)).length;
}

/** Network namespace files under the engine's exec root. */
export async function netnsCount(engine: Engine): Promise<number> {
  return fs.readdir(path.join(engine.execRoot, 'netns')).then(
    (x) => x.length,
    () => 0,
  );
}

/** Addresses leased to endpoints, as the engine's sandbox records hold them. */
export async function leaseCount(engine: Engine): Promise<number> {
  let leases = 0;
  const dir = path.join(engine.dataRoot, 'network', 'containers');
  for (const f of await fs.readdir(dir).catch(() => [] as string[])) {
    const r = JSON.parse(await fs.readFile(path.join(dir, f), 'utf8')) as {
      endpoints: Record<string, unknown>;
    };
    leases += Object.keys(r.endpoints).length;
  }
  return leases;
}

/** Mount points under the engine's roots (overlays, netns files, /etc files). */
export async function mountsOfEngine(engine: Engine): Promise<string[]> {
  const text = await fs.readFile('/proc/self/mountinfo', 'utf8');
  return text
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => [engine.dataRoot, engine.execRoot].some((r) => m.startsWith(`${r}/`)))
    .sort();
}

/** How many sockets the daemon has bound on host ports (its published-port holds). */
export async function holdsOfDaemon(engine: Engine): Promise<number> {
  const pid = engine.daemon?.pid ?? 0;
  const out = await ok(host('ss', ['-Hltunp']));
  return out.split('\n').filter((l) => l.includes(`pid=${pid},`)).length;
}

/** fn(0..count-1), at most `width` at a time, results in order. */
export async function inPool<T>(
  count: number,
  width: number,
  fn: (i: number) => Promise<T>,
): Promise<T[]> {
  const out: T[] = new Array<T>(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      out[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, count) }, worker));
  return out;
}
