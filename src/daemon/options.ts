import net from 'node:net';
import { homedir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { InvalidArgumentError } from '../errors/index.js';
import { validateInsecure, validateMirror } from '../registry/client/hosts.js';

/** TLS for tcp hosts, as dockerd's --tls/--tlsverify flags give it. */
export interface DaemonTls {
  /** PEM file of the CA whose signatures client certificates must carry. */
  caFile: string;
  /** PEM files of the server's certificate and key. */
  certFile: string;
  keyFile: string;
  /** Client certificates signed by the CA are required (--tlsverify). */
  verify: boolean;
}

export interface DaemonOptions {
  dataRoot: string;
  execRoot: string;
  hosts: string[];
  debug: boolean;
  /** `--cpu-rt-period`/`--cpu-rt-runtime` (µs): the real-time budget of berth's parent cgroup. */
  cpuRealtime: { period: number; runtime: number };
  /** --host-gateway-ip: what `--add-host name:host-gateway` maps to ('' when not set). */
  hostGatewayIp: string;
  /** Set when --tls or --tlsverify is given; tcp hosts are served only with `verify`. */
  tls?: DaemonTls;
  /** `--userns-remap` as given (`default`, `user[:group]`, `uid[:gid]`); unset when off. */
  usernsRemap?: string;
  /** `--registry-mirror`: mirrors of docker.io, tried in order before it. */
  registryMirrors: string[];
  /** `--insecure-registry`: host[:port] or CIDR reached without TLS verification / over HTTP. */
  insecureRegistries: string[];
  /** `--max-concurrent-downloads` (default 3) and `--max-concurrent-uploads` (default 5). */
  maxConcurrentDownloads: number;
  maxConcurrentUploads: number;
  /** `--certs-dir`: per-registry TLS material as `<dir>/<host:port>/ca.crt` (/etc/berth/certs.d). */
  certsDir: string;
}

export const defaultSocket = 'unix:///run/berth/berth.sock';

function positiveInt(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError(
      `invalid value "${text}" for --${name}: must be a positive integer`,
    );
  return n;
}

/** dockerd's certificate directory: DOCKER_CERT_PATH, else ~/.docker. */
export function certDir(env: NodeJS.ProcessEnv): string {
  return env.DOCKER_CERT_PATH || path.join(env.HOME || homedir(), '.docker');
}

/**
 * `berth daemon` flags: --data-root, --exec-root, -H/--host (repeatable), -D/--debug, the TLS
 * flags of dockerd (--tls, --tlsverify, --tlscacert, --tlscert, --tlskey; the files default to
 * ca.pem, cert.pem and key.pem in DOCKER_CERT_PATH or ~/.docker), --userns-remap,
 * --cpu-rt-period, --cpu-rt-runtime, --host-gateway-ip, and the registry ones:
 * --registry-mirror, --insecure-registry (repeatable), --max-concurrent-downloads,
 * --max-concurrent-uploads, --certs-dir.
 * A tcp host is refused unless --tlsverify is on: the API gives root on the host, so berth
 * serves it on the network only to holders of a client certificate signed by the CA.
 */
export function parseDaemonArgs(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): DaemonOptions {
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
        tls: { type: 'boolean' },
        tlsverify: { type: 'boolean' },
        tlscacert: { type: 'string' },
        tlscert: { type: 'string' },
        tlskey: { type: 'string' },
        'userns-remap': { type: 'string' },
        'registry-mirror': { type: 'string', multiple: true },
        'insecure-registry': { type: 'string', multiple: true },
        'max-concurrent-downloads': { type: 'string' },
        'max-concurrent-uploads': { type: 'string' },
        'certs-dir': { type: 'string', default: '/etc/berth/certs.d' },
      },
    });
  } catch (cause: unknown) {
    throw new InvalidArgumentError(cause instanceof Error ? cause.message : String(cause), {
      cause,
    });
  }
  const v = parsed.values;
  const verify = v.tlsverify === true;
  const useTls = verify || v.tls === true;
  const hosts = (v.host && v.host.length > 0 ? v.host : [defaultSocket]).map((h) =>
    normalizeHost(h, useTls),
  );
  for (const h of hosts) {
    if (h.startsWith('tcp://') && !verify) {
      throw new InvalidArgumentError(
        `${h}: a tcp host needs TLS client certificates: add --tlsverify with --tlscacert, --tlscert and --tlskey`,
      );
    }
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
  const dir = certDir(env);
  const options: DaemonOptions = {
    cpuRealtime: { period: micros('cpu-rt-period'), runtime: micros('cpu-rt-runtime') },
    dataRoot: v['data-root'] ?? '/var/lib/berth',
    execRoot: v['exec-root'] ?? '/run/berth',
    hosts,
    debug: v.debug ?? false,
    hostGatewayIp: v['host-gateway-ip'] ?? '',
    registryMirrors: (v['registry-mirror'] ?? []).map(validateMirror),
    insecureRegistries: (v['insecure-registry'] ?? []).map(validateInsecure),
    maxConcurrentDownloads: positiveInt(
      'max-concurrent-downloads',
      v['max-concurrent-downloads'],
      3,
    ),
    maxConcurrentUploads: positiveInt('max-concurrent-uploads', v['max-concurrent-uploads'], 5),
    certsDir: v['certs-dir'] ?? '/etc/berth/certs.d',
  };
  if (useTls) {
    options.tls = {
      caFile: v.tlscacert ?? path.join(dir, 'ca.pem'),
      certFile: v.tlscert ?? path.join(dir, 'cert.pem'),
      keyFile: v.tlskey ?? path.join(dir, 'key.pem'),
      verify,
    };
  }
  const remap = v['userns-remap'];
  if (remap !== undefined) {
    if (remap.trim() === '') throw new InvalidArgumentError('--userns-remap: empty value');
    options.usernsRemap = remap;
  }
  return options;
}

/**
 * `unix:///path`, `/path`, `tcp://host:port` as dockerd parses -H: a tcp host without a port
 * gets 2376 with TLS and 2375 without; an empty address means 0.0.0.0.
 */
export function normalizeHost(host: string, tls: boolean): string {
  if (host.startsWith('unix://')) {
    if (host.length === 'unix://'.length)
      throw new InvalidArgumentError(`${host}: empty socket path`);
    return host;
  }
  if (host.startsWith('/')) return `unix://${host}`;
  if (host.startsWith('tcp://')) {
    const m = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[^:/[\]]*)(?::(\d+))?\/?$/.exec(host);
    if (!m) throw new InvalidArgumentError(`${host}: invalid tcp address`);
    const port = m[2] === undefined ? (tls ? 2376 : 2375) : Number(m[2]);
    if (port < 0 || port > 65535) throw new InvalidArgumentError(`${host}: invalid port`);
    return `tcp://${m[1] || '0.0.0.0'}:${port}`;
  }
  throw new InvalidArgumentError(
    `${host}: unsupported host (use unix:///path.sock or tcp://addr:port)`,
  );
}
