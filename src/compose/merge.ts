/**
 * The Compose specification's merge rules for several `-f` files and for `extends`: mappings
 * merge key by key; the sequences that name things merge by that name (ports by their full
 * definition, volumes by target, secrets and configs by source, expose/dns/cap_add and other
 * string sets by value, environment/labels/extra_hosts/sysctls as mappings whatever their
 * syntax); `command`, `entrypoint` and `healthcheck.test` are replaced; any other sequence is
 * replaced by the override's.
 */

type Dict = Record<string, unknown>;

export function isDict(v: unknown): v is Dict {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** `["A=1", "B"]` or `{A: 1}` → `{A: "1", B: null}`; `sep` splits the list form. */
export function listToMap(v: unknown, sep: '=' | ':' | '=:' = '='): Dict {
  if (isDict(v)) return { ...v };
  const out: Dict = {};
  if (!Array.isArray(v)) return out;
  for (const item of v) {
    const s = String(item);
    let i = s.indexOf('=');
    if (sep === ':' || (sep === '=:' && i < 0)) i = s.indexOf(':');
    if (i < 0) out[s] = null;
    else out[s.slice(0, i)] = s.slice(i + 1);
  }
  return out;
}

const SETS = new Set([
  'expose',
  'dns',
  'dns_search',
  'dns_opt',
  'env_file',
  'cap_add',
  'cap_drop',
  'security_opt',
  'group_add',
  'tmpfs',
  'profiles',
  'volumes_from',
  'links',
  'external_links',
  'devices',
  'device_cgroup_rules',
]);
const MAPS = new Set(['environment', 'labels', 'annotations', 'sysctls']);
const REPLACED = new Set(['command', 'entrypoint']);

function asList(v: unknown): unknown[] {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v : [v];
}

function unionBy(base: unknown[], over: unknown[], key: (v: unknown) => string): unknown[] {
  const out = new Map<string, unknown>();
  for (const v of base) out.set(key(v), v);
  for (const v of over) out.set(key(v), v);
  return [...out.values()];
}

/** The target of a volume entry in either syntax (the merge key of `volumes`). */
export function volumeTarget(v: unknown): string {
  if (isDict(v)) return String(v.target ?? '');
  const parts = splitVolumeSpec(String(v));
  return parts.length === 1 ? (parts[0] as string) : (parts[1] as string);
}

/** Splits `src:dst[:mode]`, keeping a Windows-less Unix reading (`:` separates). */
export function splitVolumeSpec(s: string): string[] {
  return s.split(':');
}

function portKey(v: unknown): string {
  return isDict(v) ? JSON.stringify(Object.entries(v).sort()) : String(v);
}

function sourceKey(v: unknown): string {
  return isDict(v) ? String(v.source ?? '') : String(v);
}

function mergeDependsOn(base: unknown, over: unknown): Dict {
  const toMap = (v: unknown): Dict => {
    if (isDict(v)) return v;
    const out: Dict = {};
    for (const s of asList(v)) out[String(s)] = { condition: 'service_started' };
    return out;
  };
  return mergeDicts(toMap(base), toMap(over));
}

function mergeNetworks(base: unknown, over: unknown): Dict {
  const toMap = (v: unknown): Dict => {
    if (isDict(v)) return v;
    const out: Dict = {};
    for (const s of asList(v)) out[String(s)] = null;
    return out;
  };
  return mergeDicts(toMap(base), toMap(over));
}

/** Plain recursive mapping merge; the override wins on scalars and sequences. */
export function mergeDicts(base: Dict, over: Dict): Dict {
  const out: Dict = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isDict(b) && isDict(v) ? mergeDicts(b, v) : v;
  }
  return out;
}

/** Merges one service definition over another by the rules above. */
export function mergeService(base: Dict, over: Dict): Dict {
  const out: Dict = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    if (b === undefined || b === null) {
      out[k] = v;
      continue;
    }
    if (REPLACED.has(k)) out[k] = v;
    else if (MAPS.has(k)) out[k] = { ...listToMap(b), ...listToMap(v) };
    else if (k === 'extra_hosts') out[k] = { ...listToMap(b, '=:'), ...listToMap(v, '=:') };
    else if (SETS.has(k)) out[k] = unionBy(asList(b), asList(v), String);
    else if (k === 'ports') out[k] = unionBy(asList(b), asList(v), portKey);
    else if (k === 'volumes') out[k] = unionBy(asList(b), asList(v), volumeTarget);
    else if (k === 'secrets' || k === 'configs') out[k] = unionBy(asList(b), asList(v), sourceKey);
    else if (k === 'depends_on') out[k] = mergeDependsOn(b, v);
    else if (k === 'networks') out[k] = mergeNetworks(b, v);
    else if (k === 'build' && (typeof b === 'string' || typeof v === 'string' || isDict(v))) {
      const bd = typeof b === 'string' ? { context: b } : isDict(b) ? b : {};
      const vd = typeof v === 'string' ? { context: v } : isDict(v) ? v : {};
      const merged = mergeDicts(bd, vd);
      if (bd.args !== undefined || vd.args !== undefined)
        merged.args = { ...listToMap(bd.args), ...listToMap(vd.args) };
      if (bd.labels !== undefined || vd.labels !== undefined)
        merged.labels = { ...listToMap(bd.labels), ...listToMap(vd.labels) };
      out[k] = merged;
    } else if (k === 'healthcheck' && isDict(b) && isDict(v)) {
      out[k] = { ...b, ...v };
    } else if (k === 'logging' && isDict(b) && isDict(v)) {
      out[k] =
        v.driver !== undefined && b.driver !== undefined && v.driver !== b.driver
          ? v
          : mergeDicts(b, v);
    } else if (isDict(b) && isDict(v)) out[k] = mergeDicts(b, v);
    else out[k] = v;
  }
  return out;
}

/** Merges whole documents (one per `-f` file, in order). */
export function mergeDocuments(docs: Dict[]): Dict {
  let out: Dict = {};
  for (const doc of docs) {
    const next: Dict = { ...out };
    for (const [k, v] of Object.entries(doc)) {
      const b = next[k];
      if (k === 'services' && isDict(b) && isDict(v)) {
        const services: Dict = { ...b };
        for (const [name, svc] of Object.entries(v)) {
          const prev = services[name];
          services[name] = isDict(prev) && isDict(svc) ? mergeService(prev, svc) : svc;
        }
        next[k] = services;
      } else if (isDict(b) && isDict(v)) next[k] = mergeDicts(b, v);
      else next[k] = v;
    }
    out = next;
  }
  return out;
}
