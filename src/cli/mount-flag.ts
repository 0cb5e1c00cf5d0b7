import type { HostConfigMount } from '../spec/engine.js';
import { UsageError } from './args.js';
import { ramInBytes } from './human.js';

/**
 * `--mount` as the docker CLI parses it: comma-separated `key=value` fields (CSV quoting
 * allowed), type volume by default, with the source/src, target/dst/destination and
 * readonly/ro aliases; the `bind-*`, `volume-*` and `tmpfs-*` options only with their type.
 */

/** Comma-separated fields with CSV quoting, as Go's encoding/csv reads one record. */
export function csvFields(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (quoted) {
      if (c === '"' && s[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"' && cur === '') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

const TRUE = ['1', 't', 'T', 'TRUE', 'true', 'True'];
const FALSE = ['0', 'f', 'F', 'FALSE', 'false', 'False'];
const boolKeys = ['readonly', 'ro', 'volume-nocopy', 'bind-nonrecursive'];

/** One `--mount` value as the Engine API's mount; UsageError with the docker CLI's words. */
export function parseMountFlag(raw: string): HostConfigMount {
  const fail = (msg: string): UsageError =>
    new UsageError(`invalid argument "${raw}" for "--mount" flag: ${msg}`);
  const m: HostConfigMount & {
    Consistency?: string;
    BindOptions?: { Propagation?: string; NonRecursive?: boolean };
    VolumeOptions?: {
      NoCopy?: boolean;
      Labels?: Record<string, string>;
      DriverConfig?: { Name?: string; Options?: Record<string, string> };
    };
    TmpfsOptions?: { SizeBytes?: number; Mode?: number };
  } = { Type: 'volume', Target: '' };
  const bind = (): { Propagation?: string; NonRecursive?: boolean } => (m.BindOptions ??= {});
  const vol = (): {
    NoCopy?: boolean;
    Labels?: Record<string, string>;
    DriverConfig?: { Name?: string; Options?: Record<string, string> };
  } => (m.VolumeOptions ??= {});
  const tmpfs = (): { SizeBytes?: number; Mode?: number } => (m.TmpfsOptions ??= {});
  for (const field of csvFields(raw)) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    let value = eq < 0 ? undefined : field.slice(eq + 1);
    if (value === undefined) {
      if (!boolKeys.includes(key)) {
        throw fail(`invalid field '${field}' must be a key=value pair`);
      }
      value = 'true';
    }
    const bool = (): boolean => {
      if (TRUE.includes(value ?? '')) return true;
      if (FALSE.includes(value ?? '')) return false;
      throw fail(`invalid value for ${key}: ${value ?? ''}`);
    };
    switch (key) {
      case 'type':
        m.Type = value as HostConfigMount['Type'];
        break;
      case 'source':
      case 'src':
        m.Source = value;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.Target = value;
        break;
      case 'readonly':
      case 'ro':
        m.ReadOnly = bool();
        break;
      case 'consistency':
        m.Consistency = value;
        break;
      case 'bind-propagation':
        bind().Propagation = value;
        break;
      case 'bind-nonrecursive':
        bind().NonRecursive = bool();
        break;
      case 'volume-nocopy':
        vol().NoCopy = bool();
        break;
      case 'volume-label': {
        const i = value.indexOf('=');
        (vol().Labels ??= {})[i < 0 ? value : value.slice(0, i)] = i < 0 ? '' : value.slice(i + 1);
        break;
      }
      case 'volume-driver':
        (vol().DriverConfig ??= {}).Name = value;
        break;
      case 'volume-opt': {
        const i = value.indexOf('=');
        const dc = (vol().DriverConfig ??= {});
        (dc.Options ??= {})[i < 0 ? value : value.slice(0, i)] = i < 0 ? '' : value.slice(i + 1);
        break;
      }
      case 'tmpfs-size': {
        let size: number;
        try {
          size = ramInBytes(value);
        } catch {
          throw fail(`invalid value for ${key}: ${value}`);
        }
        tmpfs().SizeBytes = size;
        break;
      }
      case 'tmpfs-mode': {
        if (!/^[0-7]+$/.test(value)) throw fail(`invalid value for ${key}: ${value}`);
        tmpfs().Mode = parseInt(value, 8);
        break;
      }
      default:
        throw fail(`unexpected key '${key}' in '${field}'`);
    }
  }
  if (!m.Target) throw fail('target is required');
  if (m.VolumeOptions && m.Type !== 'volume') {
    throw fail(`cannot mix 'volume-*' options with mount type '${m.Type ?? ''}'`);
  }
  if (m.BindOptions && m.Type !== 'bind') {
    throw fail(`cannot mix 'bind-*' options with mount type '${m.Type ?? ''}'`);
  }
  if (m.TmpfsOptions && m.Type !== 'tmpfs') {
    throw fail(`cannot mix 'tmpfs-*' options with mount type '${m.Type ?? ''}'`);
  }
  return m;
}
