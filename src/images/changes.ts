import path from 'node:path/posix';
import { constants } from 'node:os';
import { InvalidArgumentError } from '../errors/index.js';
import type { ImageRuntimeConfig } from '../spec/oci-image.js';

/**
 * The Dockerfile instructions that `docker import --change` and `docker commit --change` accept,
 * applied to an image's container defaults the way dockerd's BuildFromConfig does.
 */

type Instruction =
  | 'cmd'
  | 'entrypoint'
  | 'env'
  | 'expose'
  | 'healthcheck'
  | 'label'
  | 'onbuild'
  | 'stopsignal'
  | 'user'
  | 'volume'
  | 'workdir';

const validInstructions: ReadonlySet<string> = new Set<Instruction>([
  'cmd',
  'entrypoint',
  'env',
  'expose',
  'healthcheck',
  'label',
  'onbuild',
  'stopsignal',
  'user',
  'volume',
  'workdir',
]);

interface State {
  config: ImageRuntimeConfig;
  cmdSet: boolean;
}

/**
 * Applies change lines (one instruction each; a string holding several lines is split) to a
 * copy of `config`. InvalidArgumentError (`run is not a valid change command`, or the
 * instruction's own complaint) on the first bad line, leaving `config` untouched.
 */
export function applyChanges(
  config: ImageRuntimeConfig | undefined,
  changes: readonly string[],
): ImageRuntimeConfig {
  const state: State = { config: structuredClone(config ?? {}), cmdSet: false };
  for (const line of changes.flatMap((c) => c.split('\n'))) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const m = /^(\S+)\s*([\s\S]*)$/.exec(trimmed);
    const name = (m?.[1] ?? '').toLowerCase();
    const rest = (m?.[2] ?? '').trim();
    if (!validInstructions.has(name)) {
      throw new InvalidArgumentError(`${name} is not a valid change command`);
    }
    dispatch(state, name as Instruction, rest);
  }
  return state.config;
}

function dispatch(state: State, name: Instruction, rest: string): void {
  const c = state.config;
  const env = envMap(c.Env ?? []);
  switch (name) {
    case 'cmd':
      c.Cmd = commandForm(c, rest);
      state.cmdSet = true;
      return;
    case 'entrypoint':
      c.Entrypoint = rest === '' ? null : commandForm(c, rest);
      if (!state.cmdSet) c.Cmd = null;
      return;
    case 'env': {
      const pairs = nameValuePairs('ENV', rest, env);
      const list = [...(c.Env ?? [])];
      for (const [k, v] of pairs) {
        const i = list.findIndex((e) => e === k || e.startsWith(`${k}=`));
        if (i >= 0) list[i] = `${k}=${v}`;
        else list.push(`${k}=${v}`);
      }
      c.Env = list;
      return;
    }
    case 'label': {
      const labels = { ...(c.Labels ?? {}) };
      for (const [k, v] of nameValuePairs('LABEL', rest, env)) labels[k] = v;
      c.Labels = labels;
      return;
    }
    case 'expose': {
      const ports = { ...(c.ExposedPorts ?? {}) };
      for (const word of splitWords(rest)) {
        for (const p of parsePortSpec(expandWord(word, env))) ports[p] = {};
      }
      c.ExposedPorts = ports;
      return;
    }
    case 'user':
      c.User = expandWord(rest, env);
      return;
    case 'workdir': {
      const dir = expandWord(rest, env);
      if (dir === '') throw new InvalidArgumentError('WORKDIR requires exactly one argument');
      c.WorkingDir = path.isAbsolute(dir)
        ? path.normalize(dir)
        : path.join('/', c.WorkingDir ?? '', dir);
      return;
    }
    case 'volume': {
      const list = jsonArray(rest) ?? splitWords(rest).map((w) => expandWord(w, env));
      if (list.length === 0)
        throw new InvalidArgumentError('VOLUME requires at least one argument');
      const vols = { ...(c.Volumes ?? {}) };
      for (const v of list) {
        if (v.trim() === '') {
          throw new InvalidArgumentError('VOLUME specified can not be an empty string');
        }
        vols[v.trim()] = {};
      }
      c.Volumes = vols;
      return;
    }
    case 'stopsignal': {
      const sig = expandWord(rest, env);
      validateSignal(sig);
      c.StopSignal = sig;
      return;
    }
    case 'onbuild': {
      const trigger = (/^\S+/.exec(rest)?.[0] ?? '').toUpperCase();
      if (trigger === '') throw new InvalidArgumentError('ONBUILD requires at least one argument');
      if (trigger === 'ONBUILD') {
        throw new InvalidArgumentError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      }
      if (trigger === 'FROM' || trigger === 'MAINTAINER') {
        throw new InvalidArgumentError(`${trigger} isn't allowed as an ONBUILD trigger`);
      }
      c.OnBuild = [...(c.OnBuild ?? []), rest];
      return;
    }
    case 'healthcheck':
      c.Healthcheck = parseHealthcheck(rest);
      return;
  }
}

function commandForm(c: ImageRuntimeConfig, rest: string): string[] {
  return jsonArray(rest) ?? [...(c.Shell ?? ['/bin/sh', '-c']), rest];
}

/** The exec (JSON) form of an instruction's argument, or undefined for the shell form. */
function jsonArray(rest: string): string[] | undefined {
  if (!rest.startsWith('[')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(rest);
  } catch (err: unknown) {
    if (err instanceof SyntaxError) return undefined;
    throw err;
  }
  if (!Array.isArray(parsed) || !parsed.every((x): x is string => typeof x === 'string')) {
    return undefined;
  }
  return parsed;
}

function envMap(env: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of env) {
    const i = e.indexOf('=');
    if (i < 0) m.set(e, '');
    else m.set(e.slice(0, i), e.slice(i + 1));
  }
  return m;
}

/** Splits on unquoted whitespace, keeping quotes and escapes for {@link expandWord}. */
export function splitWords(s: string): string[] {
  const words: string[] = [];
  let cur = '';
  let quote: '"' | "'" | undefined;
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s.charAt(i);
    if (quote) {
      cur += ch;
      if (ch === '\\' && quote === '"' && i + 1 < s.length) cur += s.charAt(++i);
      else if (ch === quote) quote = undefined;
      continue;
    }
    if (/\s/.test(ch)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
      continue;
    }
    inWord = true;
    cur += ch;
    if (ch === '\\' && i + 1 < s.length) cur += s.charAt(++i);
    else if (ch === '"' || ch === "'") quote = ch;
  }
  if (quote)
    throw new InvalidArgumentError(
      `unexpected end of statement while looking for matching ${quote}`,
    );
  if (inWord) words.push(cur);
  return words;
}

/** Removes quotes and escapes and expands `$VAR`, `${VAR}`, `${VAR:-x}`, `${VAR:+x}`. */
export function expandWord(word: string, env: ReadonlyMap<string, string>): string {
  let out = '';
  let i = 0;
  const expandVar = (): string => {
    // at '$'
    i++;
    if (word.charAt(i) === '{') {
      const end = word.indexOf('}', i);
      if (end < 0) throw new InvalidArgumentError(`missing '}' in ${word}`);
      const body = word.slice(i + 1, end);
      i = end + 1;
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([\s\S]*))?$/.exec(body);
      if (!m) throw new InvalidArgumentError(`bad substitution: \${${body}}`);
      const value = env.get(m[1] ?? '');
      if (m[2] === '-')
        return value !== undefined && value !== '' ? value : expandWord(m[3] ?? '', env);
      if (m[2] === '+')
        return value !== undefined && value !== '' ? expandWord(m[3] ?? '', env) : '';
      return value ?? '';
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(word.slice(i));
    if (!m) return '$';
    i += m[0].length;
    return env.get(m[0]) ?? '';
  };
  while (i < word.length) {
    const ch = word.charAt(i);
    if (ch === "'") {
      const end = word.indexOf("'", i + 1);
      if (end < 0)
        throw new InvalidArgumentError("unexpected end of statement while looking for matching '");
      out += word.slice(i + 1, end);
      i = end + 1;
    } else if (ch === '"') {
      i++;
      while (i < word.length && word.charAt(i) !== '"') {
        const c = word.charAt(i);
        if (c === '\\' && i + 1 < word.length && '"\\$`'.includes(word.charAt(i + 1))) {
          out += word.charAt(i + 1);
          i += 2;
        } else if (c === '$') {
          out += expandVar();
        } else {
          out += c;
          i++;
        }
      }
      if (i >= word.length)
        throw new InvalidArgumentError('unexpected end of statement while looking for matching "');
      i++;
    } else if (ch === '\\' && i + 1 < word.length) {
      out += word.charAt(i + 1);
      i += 2;
    } else if (ch === '$') {
      out += expandVar();
    } else {
      out += ch;
      i++;
    }
  }
  return out;
}

/** `ENV a=b c=d` or the legacy `ENV a b c` (one name, the rest its value). */
function nameValuePairs(
  instr: 'ENV' | 'LABEL',
  rest: string,
  env: ReadonlyMap<string, string>,
): [string, string][] {
  const words = splitWords(rest);
  if (words.length === 0) throw new InvalidArgumentError(`${instr} requires at least one argument`);
  if (!(words[0] ?? '').includes('=')) {
    const key = words[0] ?? '';
    const value = rest.slice(rest.indexOf(key) + key.length).trim();
    if (value === '') throw new InvalidArgumentError(`${instr} must have two arguments`);
    return [[expandWord(key, env), expandWord(value, env)]];
  }
  return words.map((w) => {
    const i = w.indexOf('=');
    if (i < 0) {
      throw new InvalidArgumentError(
        `Syntax error - can't find = in "${w}". Must be of the form: name=value`,
      );
    }
    const key = expandWord(w.slice(0, i), env);
    if (key === '') throw new InvalidArgumentError(`${instr} names can not be blank`);
    return [key, expandWord(w.slice(i + 1), env)];
  });
}

/** `80`, `80/udp`, `8000-8002/tcp` to `port/proto` keys. */
export function parsePortSpec(spec: string): string[] {
  const slash = spec.lastIndexOf('/');
  const portPart = slash >= 0 ? spec.slice(0, slash) : spec;
  const proto = (slash >= 0 ? spec.slice(slash + 1) : 'tcp').toLowerCase();
  if (!['tcp', 'udp', 'sctp'].includes(proto))
    throw new InvalidArgumentError(`Invalid proto: ${proto}`);
  const m = /^(\d+)(?:-(\d+))?$/.exec(portPart);
  if (!m) throw new InvalidArgumentError(`Invalid containerPort: ${portPart}`);
  const start = Number(m[1]);
  const end = m[2] !== undefined ? Number(m[2]) : start;
  if (start > 65535 || end > 65535)
    throw new InvalidArgumentError(`Invalid containerPort: ${portPart}`);
  if (end < start)
    throw new InvalidArgumentError(`Invalid range specified for the Port: ${portPart}`);
  const out: string[] = [];
  for (let p = start; p <= end; p++) out.push(`${p}/${proto}`);
  return out;
}

/** Accepts `SIGKILL`, `KILL`, `9`, `SIGRTMIN+3`, as moby's signal.ParseSignal does. */
export function validateSignal(sig: string): void {
  if (/^\d+$/.test(sig)) {
    if (Number(sig) > 0 && Number(sig) <= 64) return;
    throw new InvalidArgumentError(`Invalid signal: ${sig}`);
  }
  const name = sig.toUpperCase().replace(/^SIG/, '');
  const rt = /^RTM(IN|AX)(?:([+-])(\d+))?$/.exec(name);
  if (rt) {
    const n = Number(rt[3] ?? '0');
    if (
      (rt[1] === 'IN' && rt[2] !== '-' && n <= 30) ||
      (rt[1] === 'AX' && rt[2] !== '+' && n <= 30)
    )
      return;
  } else if (`SIG${name}` in constants.signals) {
    return;
  }
  throw new InvalidArgumentError(`Invalid signal: ${sig}`);
}

/** Go-style durations (`1m30s`, `500ms`) to nanoseconds. */
function parseDuration(flag: string, s: string): number {
  const units: Record<string, number> = {
    ns: 1,
    us: 1e3,
    µs: 1e3,
    ms: 1e6,
    s: 1e9,
    m: 6e10,
    h: 3.6e12,
  };
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * (units[m[2] ?? 's'] ?? 1);
    consumed = re.lastIndex;
  }
  if (consumed !== s.length || s === '') {
    throw new InvalidArgumentError(`time: invalid duration "${s}" for --${flag}`);
  }
  return Math.round(total);
}

interface Healthcheck {
  Test: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

function parseHealthcheck(rest: string): Healthcheck {
  let s = rest;
  const hc: Healthcheck = { Test: [] };
  for (let m = /^--([a-z-]+)=(\S*)\s*/.exec(s); m; m = /^--([a-z-]+)=(\S*)\s*/.exec(s)) {
    const [whole, flag = '', value = ''] = m;
    s = s.slice(whole.length);
    switch (flag) {
      case 'interval':
        hc.Interval = parseDuration(flag, value);
        break;
      case 'timeout':
        hc.Timeout = parseDuration(flag, value);
        break;
      case 'start-period':
        hc.StartPeriod = parseDuration(flag, value);
        break;
      case 'start-interval':
        hc.StartInterval = parseDuration(flag, value);
        break;
      case 'retries': {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 0)
          throw new InvalidArgumentError(`--retries cannot be negative (${value})`);
        hc.Retries = n;
        break;
      }
      default:
        throw new InvalidArgumentError(`Unknown flag: ${flag}`);
    }
  }
  const m = /^(\S+)\s*([\s\S]*)$/.exec(s.trim());
  const kind = (m?.[1] ?? '').toUpperCase();
  const args = (m?.[2] ?? '').trim();
  if (kind === 'NONE') {
    if (args !== '' || s.trim() !== m?.[1]) {
      throw new InvalidArgumentError('HEALTHCHECK NONE takes no arguments');
    }
    return { Test: ['NONE'] };
  }
  if (kind !== 'CMD')
    throw new InvalidArgumentError(`Unknown type "${kind}" in HEALTHCHECK (try CMD)`);
  const exec = jsonArray(args);
  hc.Test = exec ? ['CMD', ...exec] : ['CMD-SHELL', args];
  return hc;
}
