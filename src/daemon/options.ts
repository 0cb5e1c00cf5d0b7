import net from 'node:net';
import { parseArgs } from 'node:util';
import { InvalidArgumentError } from '../errors/index.js';

export interface DaemonOptions {
  dataRoot: string;
  execRoot: string;
  hosts: string[];
  debug: boolean;
  /** `--cpu-rt-period`/`--cpu-rt-runtime` (µs): the real-time budget of berth's parent cgroup. */
  cpuRealtime: { period: number; runtime: number };
  /** --host-gateway-ip: what `--add-host name:host-gateway` maps to ('' when not set). */
  hostGatewayIp: string;
}

export const defaultSocket = 'unix:///run/berth/berth.sock';

/**
 * `berth daemon` flags: --data-root, --exec-root, -H/--host (repeatable), -D/--debug,
 * --cpu-rt-period, --cpu-rt-runtime.
 * --host-gateway-ip.
 */
export function parseDaemonArgs(argv: string[]): DaemonOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        'data-root': { type: 'string', default: '/var/lib/berth' },
        'exec-root': { type: 'string', default: '/run/berth' },
        host: { type: 'string', short: 'H', multiple: true },
        debug: { type: 'boolean', short: 'D', default: false },
        'cpu-rt-period': { type: 'string' },
        'cpu-rt-runtime': { type: 'string' },
        'host-gateway-ip': { type: 'string', default: '' },
      },
    });
  } catch (cause: unknown) {
    throw new InvalidArgumentError(cause instanceof Error ? cause.message : String(cause), {
      cause,
    });
  }
  const v = parsed.values;
  const hosts = v.host && v.host.length > 0 ? v.host : [defaultSocket];
  for (const h of hosts) {
    if (h.startsWith('tcp://'))
      throw new InvalidArgumentError(
        `${h}: tcp hosts need TLS (--tlsverify), which is not configured`,
      );
    if (!h.startsWith('unix://') && !h.startsWith('/'))
      throw new InvalidArgumentError(`${h}: unsupported host (use unix:///path.sock)`);
  }
  const micros = (name: 'cpu-rt-period' | 'cpu-rt-runtime'): number => {
    const raw = v[name];
    if (raw === undefined) return 0;
    if (!/^\d+$/.test(raw)) {
      throw new InvalidArgumentError(`invalid value ${JSON.stringify(raw)} for --${name}`);
    }
    return Number(raw);
  };
  const gateway = v['host-gateway-ip'] ?? '';
  if (gateway && net.isIP(gateway) === 0)
    throw new InvalidArgumentError(`invalid --host-gateway-ip: ${gateway} is not an IP address`);
  return {
    cpuRealtime: { period: micros('cpu-rt-period'), runtime: micros('cpu-rt-runtime') },
    dataRoot: v['data-root'] ?? '/var/lib/berth',
    execRoot: v['exec-root'] ?? '/run/berth',
    hosts,
    debug: v.debug ?? false,
    hostGatewayIp: v['host-gateway-ip'] ?? '',
  };
}
