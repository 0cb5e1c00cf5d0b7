import {
  DockerfileSyntaxError,
  parseDockerfileText,
  parseJsonForm,
  type Heredoc,
  type RawInstruction,
} from './parser.js';
import posix from 'node:path/posix';
import { splitRawWords } from './shell-word.js';

/**
 * The Dockerfile's second pass: each raw instruction checked and typed, grouped into stages.
 * Arguments that Docker expands at build time (ENV values, COPY paths, WORKDIR...) stay raw
 * here; the builder expands them with the ARG and ENV values in scope at that step.
 */

/** A command in exec form (JSON array) or shell form (one string for the SHELL). */
export type Command = { json: true; args: string[] } | { json: false; text: string };

export interface RunMount {
  type: 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';
  /** Every key=value of the flag, raw. */
  options: Record<string, string>;
  /** For `type=secret`: the checked options, defaults applied. */
  secret?: SecretMount;
  /**
   * For a `type=secret` flag with `$` in it: the flag as written, checked when the step runs
   * (after ARG and ENV expansion of each value, as BuildKit's) by {@link parseSecretMount}.
   */
  secretSpec?: string;
}

/**
 * `RUN --mount=type=secret,...` as BuildKit's Dockerfile frontend reads it: the id (`id=` or
 * `source=`, else the target's base name), a file at `target` (by default
 * `/run/secrets/<id>`, and none when only `env=` is given), an environment variable `env`.
 */
export interface SecretMount {
  id: string;
  /**
   * Path of the file in the RUN container (a relative one is under the step's WORKDIR, as in
   * BuildKit); undefined: no file (env only).
   */
  target?: string;
  /** Name of the environment variable that holds the value during the RUN. */
  env?: string;
  /** A missing secret fails the step; otherwise the mount is left out. */
  required: boolean;
  /** The file's permission bits (0400 by default) and owner (root by default). */
  mode: number;
  uid: number;
  gid: number;
}

export interface Healthcheck {
  /** `["NONE"]`, `["CMD", ...]` or `["CMD-SHELL", text]`. */
  test: string[];
  /** Durations in nanoseconds; 0 when not given. */
  interval: number;
  timeout: number;
  startPeriod: number;
  startInterval: number;
  retries: number;
}

interface Base {
  /** 1-based line of the keyword. */
  line: number;
  /** As Docker prints it in `Step n/m : <original>`. */
  original: string;
}

export type Instruction = Base &
  (
    | { kind: 'FROM'; image: string; name?: string; platform?: string }
    | { kind: 'RUN'; command: Command; mounts: RunMount[]; network?: string; heredocs: Heredoc[] }
    | { kind: 'CMD' | 'ENTRYPOINT'; command: Command }
    | { kind: 'ENV' | 'LABEL'; pairs: { key: string; value: string }[] }
    | { kind: 'ARG'; args: { name: string; value?: string }[] }
    | { kind: 'MAINTAINER'; name: string }
    | { kind: 'EXPOSE' | 'WORKDIR' | 'USER' | 'STOPSIGNAL'; raw: string }
    | { kind: 'VOLUME'; json?: string[]; raw: string }
    | {
        kind: 'COPY' | 'ADD';
        /** Raw source words (unexpanded unless json) and the destination. */
        sources: string[];
        dest: string;
        json: boolean;
        from?: string;
        chown?: string;
        chmod?: string;
        link: boolean;
        parents: boolean;
        exclude: string[];
        /** Sources given as heredocs, by name. */
        heredocs: Heredoc[];
        checksum?: string;
        keepGitDir: boolean;
      }
    | { kind: 'HEALTHCHECK'; check: Healthcheck }
    | { kind: 'SHELL'; shell: string[] }
    | { kind: 'ONBUILD'; trigger: string }
  );

export type Kind = Instruction['kind'];

export interface Stage {
  /** 0-based index among the stages. */
  index: number;
  /** Lower-cased `AS` name, if any. */
  name?: string;
  from: Instruction & { kind: 'FROM' };
  /** The instructions after FROM. */
  instructions: Instruction[];
}

export interface Dockerfile {
  directives: Record<string, string>;
  escape: string;
  /** ARGs before the first FROM (usable in FROM lines). */
  metaArgs: (Instruction & { kind: 'ARG' })[];
  stages: Stage[];
  /** Count of instructions, ARGs before FROM included: the `m` of `Step n/m`. */
  total: number;
}

const allowedFlags: Record<string, readonly string[]> = {
  FROM: ['platform'],
  RUN: ['mount', 'network', 'security'],
  COPY: ['from', 'chown', 'chmod', 'link', 'parents', 'exclude'],
  ADD: ['chown', 'chmod', 'link', 'keep-git-dir', 'checksum', 'exclude'],
  HEALTHCHECK: ['interval', 'timeout', 'start-period', 'start-interval', 'retries'],
};
const booleanFlags = new Set(['link', 'parents', 'keep-git-dir']);
const keywords = new Set([
  'FROM',
  'RUN',
  'CMD',
  'ENTRYPOINT',
  'ENV',
  'ARG',
  'LABEL',
  'MAINTAINER',
  'EXPOSE',
  'WORKDIR',
  'USER',
  'VOLUME',
  'COPY',
  'ADD',
  'HEALTHCHECK',
  'SHELL',
  'STOPSIGNAL',
  'ONBUILD',
]);

/** Parses and validates a Dockerfile. DockerfileSyntaxError names the line of any fault. */
export function parseDockerfile(text: string): Dockerfile {
  const file = parseDockerfileText(text);
  const metaArgs: (Instruction & { kind: 'ARG' })[] = [];
  const stages: Stage[] = [];
  const names = new Set<string>();
  for (const raw of file.instructions) {
    const ins = typed(raw, file.escape);
    if (ins.kind === 'FROM') {
      if (ins.name !== undefined) {
        if (names.has(ins.name)) fail(raw, `duplicate name ${ins.name}`);
        names.add(ins.name);
      }
      const stage: Stage = { index: stages.length, from: ins, instructions: [] };
      if (ins.name !== undefined) stage.name = ins.name;
      stages.push(stage);
    } else if (stages.length === 0) {
      if (ins.kind !== 'ARG') fail(raw, 'no build stage in current context', 1);
      metaArgs.push(ins);
    } else {
      stages[stages.length - 1]?.instructions.push(ins);
    }
  }
  if (stages.length === 0) {
    throw new DockerfileSyntaxError('file with no instructions', 1, 1);
  }
  return {
    directives: file.directives,
    escape: file.escape,
    metaArgs,
    stages,
    total: file.instructions.length,
  };
}

function fail(raw: RawInstruction, detail: string, column = raw.column): never {
  throw new DockerfileSyntaxError(detail, raw.startLine, column);
}

interface Flags {
  values: Map<string, string[]>;
}

function parseFlags(raw: RawInstruction): Flags {
  const allowed = allowedFlags[raw.keyword] ?? [];
  const values = new Map<string, string[]>();
  for (const f of raw.flags) {
    const eq = f.indexOf('=');
    const name = eq < 0 ? f : f.slice(0, eq);
    let value = eq < 0 ? undefined : f.slice(eq + 1);
    if (!allowed.includes(name)) fail(raw, `unknown flag: ${name}`);
    if (value === undefined) {
      if (!booleanFlags.has(name)) fail(raw, `missing a value on flag: ${name}`);
      value = 'true';
    } else if (booleanFlags.has(name) && !['true', 'false'].includes(value.toLowerCase())) {
      fail(raw, `expecting boolean value for flag ${name}, not: ${value}`);
    }
    const list = values.get(name) ?? [];
    list.push(value);
    values.set(name, list);
  }
  return { values };
}

function flag(f: Flags, name: string): string | undefined {
  const v = f.values.get(name);
  return v ? v[v.length - 1] : undefined;
}

function command(args: string): Command {
  const json = parseJsonForm(args);
  return json ? { json: true, args: json } : { json: false, text: args };
}

function typed(raw: RawInstruction, escape: string): Instruction {
  if (!keywords.has(raw.keyword)) fail(raw, `unknown instruction: ${raw.written}`);
  const flags = parseFlags(raw);
  const base: Base = { line: raw.startLine, original: raw.original };
  const args = raw.args;
  const need = (min = 1): void => {
    if (args.trim() === '' && min > 0) fail(raw, `${raw.keyword} requires at least one argument`);
  };
  switch (raw.keyword) {
    case 'FROM': {
      const w = args.split(/\s+/).filter((x) => x !== '');
      if (w.length !== 1 && !(w.length === 3 && w[1]?.toLowerCase() === 'as')) {
        fail(raw, 'FROM requires either one or three arguments');
      }
      const ins: Instruction = { ...base, kind: 'FROM', image: w[0] ?? '' };
      if (w.length === 3) {
        const name = (w[2] ?? '').toLowerCase();
        if (!/^[a-z][a-z0-9-_.]*$/.test(name))
          fail(
            raw,
            `invalid name for build stage: "${w[2]}", name can't start with a number or contain symbols`,
          );
        ins.name = name;
      }
      const platform = flag(flags, 'platform');
      if (platform !== undefined) ins.platform = platform;
      return ins;
    }
    case 'RUN': {
      if (raw.heredocs.length === 0) need();
      const mounts: RunMount[] = (flags.values.get('mount') ?? []).map((m) => runMount(raw, m));
      const ins: Instruction = {
        ...base,
        kind: 'RUN',
        command: command(args),
        mounts,
        heredocs: raw.heredocs,
      };
      const network = flag(flags, 'network');
      if (network !== undefined) {
        if (!['default', 'none', 'host'].includes(network))
          fail(raw, `unsupported network mode: ${network}`);
        ins.network = network;
      }
      return ins;
    }
    case 'CMD':
    case 'ENTRYPOINT':
      return { ...base, kind: raw.keyword, command: command(args) };
    case 'SHELL': {
      const json = parseJsonForm(args);
      if (!json) fail(raw, 'SHELL requires the arguments to be in JSON form');
      if (json.length === 0) fail(raw, 'SHELL requires at least one argument');
      return { ...base, kind: 'SHELL', shell: json };
    }
    case 'ENV':
    case 'LABEL':
      need();
      return { ...base, kind: raw.keyword, pairs: nameValues(raw, escape) };
    case 'ARG': {
      need();
      const list = splitRawWords(args, escape).map((w) => {
        const eq = w.indexOf('=');
        const name = eq < 0 ? w : w.slice(0, eq);
        if (name === '') fail(raw, 'ARG names can not be blank');
        return eq < 0 ? { name } : { name, value: w.slice(eq + 1) };
      });
      return { ...base, kind: 'ARG', args: list };
    }
    case 'MAINTAINER':
      need();
      return { ...base, kind: 'MAINTAINER', name: args.trim() };
    case 'EXPOSE':
    case 'USER':
    case 'WORKDIR':
    case 'STOPSIGNAL':
      need();
      if (
        (raw.keyword === 'USER' || raw.keyword === 'WORKDIR' || raw.keyword === 'STOPSIGNAL') &&
        splitRawWords(args, escape).length !== 1
      ) {
        fail(raw, `${raw.keyword} requires exactly one argument`);
      }
      return { ...base, kind: raw.keyword, raw: args.trim() };
    case 'VOLUME': {
      need();
      const json = parseJsonForm(args);
      const ins: Instruction = { ...base, kind: 'VOLUME', raw: args.trim() };
      if (json) ins.json = json;
      return ins;
    }
    case 'COPY':
    case 'ADD':
      return copyInstruction(raw, base, flags, escape);
    case 'HEALTHCHECK':
      return { ...base, kind: 'HEALTHCHECK', check: healthcheck(raw, flags) };
    case 'ONBUILD': {
      need();
      const m = /^(\S+)/.exec(args.trim());
      const inner = (m?.[1] ?? '').toUpperCase();
      if (inner === 'ONBUILD') fail(raw, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      if (inner === 'FROM' || inner === 'MAINTAINER')
        fail(raw, `${inner} isn't allowed as an ONBUILD trigger`);
      if (!keywords.has(inner)) fail(raw, `unknown instruction: ${m?.[1] ?? ''}`);
      return { ...base, kind: 'ONBUILD', trigger: args.trim() };
    }
    default:
      return fail(raw, `unknown instruction: ${raw.written}`);
  }
}

function nameValues(raw: RawInstruction, escape: string): { key: string; value: string }[] {
  const words = splitRawWords(raw.args, escape);
  const first = words[0] ?? '';
  if (!first.includes('=')) {
    const m = /^(\S+)\s+([\s\S]*)$/.exec(raw.args.trim());
    if (!m || (m[2] ?? '').trim() === '') fail(raw, `${raw.keyword} must have two arguments`);
    return [{ key: m[1] ?? '', value: (m[2] ?? '').trim() }];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    if (eq < 0) fail(raw, `Syntax error - can't find = in "${w}". Must be of the form: name=value`);
    if (eq === 0) fail(raw, `${raw.keyword} names can not be blank`);
    return { key: w.slice(0, eq), value: w.slice(eq + 1) };
  });
}

/** Go's strconv.ParseBool. */
function goBool(v: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}

/** strconv.ParseUint(v, base, 32): digits of the base only, at most 2^32-1. */
function goUint32(v: string, base: 8 | 10): number | undefined {
  const re = base === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  if (!re.test(v)) return undefined;
  const n = parseInt(v, base);
  return n <= 0xffffffff ? n : undefined;
}

/** A fault in a `type=secret` mount flag, in BuildKit's words. */
export class SecretMountError extends Error {
  override name = 'SecretMountError';
}

/**
 * Checks a `type=secret` mount flag's fields and applies the defaults. Each value goes through
 * `expandValue` first (the build's ARG and ENV expansion). SecretMountError for a fault.
 */
export function parseSecretMount(
  spec: string,
  expandValue: (value: string) => string = (v) => v,
): SecretMount {
  const fail: (msg: string) => never = (msg) => {
    throw new SecretMountError(msg);
  };
  let id: string | undefined;
  let source: string | undefined;
  let target: string | undefined;
  let env: string | undefined;
  let required = false;
  let mode: number | undefined;
  let uid: number | undefined;
  let gid: number | undefined;
  for (const field of spec.split(',')) {
    if (field === '') continue;
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    if (eq < 0) {
      if (['readonly', 'ro', 'readwrite', 'rw'].includes(key)) continue;
      if (key === 'required') {
        required = true;
        continue;
      }
      fail(`invalid field '${field}' must be a key=value pair`);
    }
    const value = expandValue(field.slice(eq + 1));
    switch (key) {
      case 'type':
        break;
      case 'id':
        id = value;
        break;
      case 'source':
      case 'src':
        source = value;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        target = value;
        break;
      case 'env':
        env = value;
        break;
      case 'readonly':
      case 'ro':
      case 'readwrite':
      case 'rw':
        if (goBool(value) === undefined) fail(`invalid value for ${key}: ${value}`);
        break;
      case 'required': {
        const b = goBool(value);
        if (b === undefined) fail(`invalid value for ${key}: ${value}`);
        required = b;
        break;
      }
      case 'mode':
        mode = goUint32(value, 8);
        if (mode === undefined) fail(`invalid value ${value} for mode`);
        break;
      case 'uid':
        uid = goUint32(value, 10);
        if (uid === undefined) fail(`invalid value ${value} for uid`);
        break;
      case 'gid':
        gid = goUint32(value, 10);
        if (gid === undefined) fail(`invalid value ${value} for gid`);
        break;
      case 'from':
        fail('secret mount should not have a from');
        break;
      case 'sharing':
        fail('secret mount should not define sharing');
        break;
      default:
        fail(`unexpected key '${key}' in '${field}'`);
    }
  }
  if (source === undefined && target === undefined && id === undefined)
    fail('invalid secret mount. one of source, target required');
  if (source !== undefined && id !== undefined) fail("both source and id can't be set");
  const name = source ?? id ?? '';
  const theId = name !== '' ? name : posix.basename(target ?? '');
  if (theId === '') fail('one of source, target required');
  const out: SecretMount = {
    id: theId,
    required,
    mode: mode ?? 0o400,
    uid: uid ?? 0,
    gid: gid ?? 0,
  };
  // With env= alone the value goes only to the variable; a target asks for the file too.
  if (target !== undefined && target !== '') out.target = target;
  else if (env === undefined) out.target = `/run/secrets/${posix.basename(theId)}`;
  if (env !== undefined) {
    if (env === '' || env.includes('='))
      fail(`invalid environment variable name for secret ${theId}: "${env}"`);
    out.env = env;
  }
  return out;
}

function runMount(raw: RawInstruction, spec: string): RunMount {
  const options: Record<string, string> = {};
  for (const part of spec.split(',')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const k = (eq < 0 ? part : part.slice(0, eq)).toLowerCase();
    options[k] = eq < 0 ? 'true' : part.slice(eq + 1);
  }
  const type = options.type ?? 'bind';
  if (!['bind', 'cache', 'tmpfs', 'secret', 'ssh'].includes(type))
    fail(raw, `unsupported mount type "${type}"`);
  if (options.dst !== undefined) options.target = options.dst;
  if (options.destination !== undefined) options.target = options.destination;
  if (type !== 'secret' && type !== 'ssh' && !options.target) fail(raw, 'mount target is required');
  if (type === 'secret') {
    // With a variable in it the flag is checked when the step runs, once values are expanded.
    if (spec.includes('$')) return { type, options, secretSpec: spec };
    try {
      return { type, options, secret: parseSecretMount(spec) };
    } catch (err: unknown) {
      if (err instanceof SecretMountError) fail(raw, err.message);
      throw err;
    }
  }
  return { type: type as RunMount['type'], options };
}

function copyInstruction(
  raw: RawInstruction,
  base: Base,
  flags: Flags,
  escape: string,
): Instruction {
  const json = parseJsonForm(raw.args);
  const words = json ?? splitRawWords(raw.args, escape);
  const heredocNames = new Map(raw.heredocs.map((h) => [h.name, h]));
  const sources: string[] = [];
  const heredocs: Heredoc[] = [];
  const all = words.slice(0, -1);
  const dest = words[words.length - 1];
  if (dest === undefined || all.length === 0) {
    fail(
      raw,
      `${raw.keyword} requires at least two arguments, but only one was provided. Destination could not be determined.`,
    );
  }
  for (const w of all) {
    const m = /^<<-?(["']?)([A-Za-z0-9_.-]+)\1$/.exec(w);
    const h = !json && m ? heredocNames.get(m[2] ?? '') : undefined;
    if (h) heredocs.push(h);
    else sources.push(w);
  }
  const ins: Instruction = {
    ...base,
    kind: raw.keyword === 'ADD' ? 'ADD' : 'COPY',
    sources,
    dest,
    json: json !== undefined,
    link: flag(flags, 'link')?.toLowerCase() === 'true',
    parents: flag(flags, 'parents')?.toLowerCase() === 'true',
    exclude: flags.values.get('exclude') ?? [],
    heredocs,
    keepGitDir: flag(flags, 'keep-git-dir')?.toLowerCase() === 'true',
  };
  const from = flag(flags, 'from');
  if (from !== undefined) ins.from = from;
  const chown = flag(flags, 'chown');
  if (chown !== undefined) ins.chown = chown;
  const chmod = flag(flags, 'chmod');
  if (chmod !== undefined) {
    if (!/^[0-7]{3,4}$/.test(chmod)) fail(raw, `invalid chmod parameter: ${chmod}`);
    ins.chmod = chmod;
  }
  const checksum = flag(flags, 'checksum');
  if (checksum !== undefined) ins.checksum = checksum;
  return ins;
}

/** Parses a Go duration (`30s`, `1m30s`, `500ms`) into nanoseconds; undefined when invalid. */
export function parseGoDuration(text: string): number | undefined {
  if (text === '0') return 0;
  const units: Record<string, number> = {
    ns: 1,
    us: 1e3,
    µs: 1e3,
    ms: 1e6,
    s: 1e9,
    m: 60e9,
    h: 3600e9,
  };
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  if (text === '') return undefined;
  for (;;) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) break;
    total += Number(m[1]) * (units[m[2] ?? ''] ?? 0);
    pos = re.lastIndex;
  }
  return pos === text.length ? Math.round(total) : undefined;
}

function healthcheck(raw: RawInstruction, flags: Flags): Healthcheck {
  const args = raw.args.trim();
  const m = /^(\S+)\s*([\s\S]*)$/.exec(args);
  const type = (m?.[1] ?? '').toUpperCase();
  const rest = m?.[2] ?? '';
  const duration = (name: string): number => {
    const v = flag(flags, name);
    if (v === undefined) return 0;
    const d = parseGoDuration(v);
    if (d === undefined) fail(raw, `time: invalid duration "${v}"`);
    if (d !== 0 && d < 1e6) fail(raw, `${name} cannot be less than 1ms`);
    return d;
  };
  const check: Healthcheck = {
    test: [],
    interval: duration('interval'),
    timeout: duration('timeout'),
    startPeriod: duration('start-period'),
    startInterval: duration('start-interval'),
    retries: 0,
  };
  const retries = flag(flags, 'retries');
  if (retries !== undefined) {
    if (!/^-?\d+$/.test(retries))
      fail(raw, `strconv.ParseInt: parsing "${retries}": invalid syntax`);
    check.retries = Number(retries);
    if (check.retries < 0) fail(raw, '--retries cannot be negative');
  }
  if (type === 'NONE') {
    if (rest.trim() !== '') fail(raw, 'HEALTHCHECK NONE takes no arguments');
    if (raw.flags.length > 0) fail(raw, 'HEALTHCHECK NONE takes no flags');
    check.test = ['NONE'];
    return check;
  }
  if (type !== 'CMD') fail(raw, `Unknown type "${m?.[1] ?? ''}" in HEALTHCHECK (try CMD)`);
  if (rest.trim() === '') fail(raw, 'Missing command after HEALTHCHECK CMD');
  const json = parseJsonForm(rest);
  check.test = json ? ['CMD', ...json] : ['CMD-SHELL', rest.trim()];
  return check;
}
