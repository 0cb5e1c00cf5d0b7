import type { Command } from '../command.js';
import { ExitError } from '../command.js';
import type { FlagSpec } from '../args.js';
import { forwardFlags, loadRegistry } from './registry-serve.js';

const flags: FlagSpec[] = [
  { long: 'root', kind: 'string', description: 'Storage root (default "/var/lib/berth-registry")' },
  { long: 'dry-run', kind: 'bool', description: 'Only list what would be removed' },
  { long: 'grace', kind: 'string', description: 'Spare unreferenced blobs younger (default 0s)' },
  {
    long: 'upload-max-age',
    kind: 'string',
    description: 'Drop uploads idle longer (default 168h)',
  },
];

/** `berth registry gc`: offline garbage collection of a registry root (no server running on it). */
export const command: Command = {
  usage: '[OPTIONS]',
  description: 'Remove blobs no manifest references from a registry root',
  maxArgs: 0,
  flags,
  async run(_ctx, parsed) {
    const reg = await loadRegistry();
    try {
      await reg.runRegistryGc(forwardFlags(flags, parsed));
    } catch (err: unknown) {
      throw new ExitError(`berth: ${err instanceof Error ? err.message : String(err)}`, 1);
    }
    return 0;
  },
};
