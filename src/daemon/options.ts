import { parseArgs } from 'node:util';
import { InvalidArgumentError } from '../errors/index.js';
import { validateInsecure, validateMirror } from '../registry/client/hosts.js';

export interface DaemonOptions {
  dataRoot: string;
  execRoot: string;
  hosts: string[];
  debug: boolean;
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

/**
 * `berth daemon` flags: --data-root, --exec-root, -H/--host (repeatable), -D/--debug, and the
 * registry ones: --registry-mirror, --insecure-registry (repeatable), --max-concurrent-downloads,
 * --max-concurrent-uploads, --certs-dir.
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
  const hosts = v.host && v.host.length > 0 ? v.host : [defaultSocket];
  for (const h of hosts) {
    if (h.startsWith('tcp://'))
      throw new InvalidArgumentError(
        `${h}: tcp hosts need TLS (--tlsverify), which is not configured`,
      );
    if (!h.startsWith('unix://') && !h.startsWith('/'))
      throw new InvalidArgumentError(`${h}: unsupported host (use unix:///path.sock)`);
  }
  return {
    dataRoot: v['data-root'] ?? '/var/lib/berth',
    execRoot: v['exec-root'] ?? '/run/berth',
    hosts,
    debug: v.debug ?? false,
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
}
