import path from 'node:path/posix';
import { InvalidArgumentError } from '../errors/index.js';
import type { ImageRuntimeConfig } from '../spec/oci-image.js';
import { sha256 } from '../util/digest.js';
import type { Command, Healthcheck, Instruction } from './dockerfile/instructions.js';
import { expandWord, expandWords, WordError, type Lookup } from './dockerfile/shell-word.js';

/**
 * The pure half of a step: how an instruction changes the image config, the `created_by`
 * Docker's classic builder writes for it, and the step's cache key. No I/O.
 */

/** Args Docker predefines: usable without ARG, and kept out of history unless declared. */
export const proxyArgs: readonly string[] = [
  'HTTP_PROXY',
  'http_proxy',
  'HTTPS_PROXY',
  'https_proxy',
  'FTP_PROXY',
  'ftp_proxy',
  'NO_PROXY',
  'no_proxy',
  'ALL_PROXY',
  'all_proxy',
];

export const defaultShell: readonly string[] = ['/bin/sh', '-c'];

/** What a stage carries from step to step besides the image. */
export interface StageState {
  config: ImageRuntimeConfig;
  /** ARGs declared in this stage so far, with their values (undefined: declared, no value). */
  args: Map<string, string | undefined>;
  /** `--build-arg` values given to the build. */
  buildArgs: Record<string, string | null>;
  /** Build args the Dockerfile declared somewhere (for "were not consumed" warnings). */
  used: Set<string>;
  /** CMD was set in this stage (so a later ENTRYPOINT keeps it). */
  cmdSet: boolean;
  /** `author` from MAINTAINER. */
  author?: string;
  escape: string;
}

export function envMap(env: readonly string[] | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of env ?? []) {
    const i = e.indexOf('=');
    m.set(i < 0 ? e : e.slice(0, i), i < 0 ? '' : e.slice(i + 1));
  }
  return m;
}

/** The value of build arg `name` in scope: declared, then --build-arg over the default. */
function argValue(state: StageState, name: string): string | undefined {
  if (!state.args.has(name)) {
    if (proxyArgs.includes(name)) {
      const v = state.buildArgs[name];
      return v === null ? undefined : v;
    }
    return undefined;
  }
  const given = state.buildArgs[name];
  if (given !== undefined && given !== null) return given;
  return state.args.get(name);
}

/** Lookup for expansion: ENV first, then ARGs in scope (ENV wins, as in Docker). */
export function stageLookup(state: StageState): Lookup {
  const env = envMap(state.config.Env);
  return (name) => {
    if (env.has(name)) return env.get(name);
    if (state.args.has(name)) return argValue(state, name);
    return undefined;
  };
}

function ex(state: StageState, word: string): string {
  try {
    return expandWord(word, stageLookup(state), { escape: state.escape });
  } catch (err: unknown) {
    if (err instanceof WordError) throw new InvalidArgumentError(err.message, { cause: err });
    throw err;
  }
}

export function exWords(state: StageState, text: string): string[] {
  try {
    return expandWords(text, stageLookup(state), { escape: state.escape });
  } catch (err: unknown) {
    if (err instanceof WordError) throw new InvalidArgumentError(err.message, { cause: err });
    throw err;
  }
}

/** Expands a word with the stage's ENV and ARGs. */
export function expand(state: StageState, word: string): string {
  return ex(state, word);
}

/**
 * Build args with values that RUN sees as environment, sorted by name; those an ENV shadows
 * are left out. `forHistory` leaves out undeclared proxy args.
 */
export function runArgs(state: StageState, forHistory: boolean): string[] {
  const env = envMap(state.config.Env);
  const out: string[] = [];
  const names = new Set<string>(state.args.keys());
  if (!forHistory) for (const p of proxyArgs) if (state.buildArgs[p] != null) names.add(p);
  for (const name of [...names].sort()) {
    if (env.has(name)) continue;
    const v = argValue(state, name);
    if (v === undefined) continue;
    out.push(`${name}=${v}`);
  }
  return out;
}

function shellOf(config: ImageRuntimeConfig): string[] {
  return config.Shell && config.Shell.length > 0 ? [...config.Shell] : [...defaultShell];
}

/** The argv of a command: exec form as is, shell form through the stage's SHELL. */
export function commandArgv(config: ImageRuntimeConfig, c: Command): string[] {
  return c.json ? [...c.args] : [...shellOf(config), c.text];
}

/** Go's `%q` of a string (printable text kept, quotes and backslashes escaped). */
export function goQuote(s: string): string {
  return JSON.stringify(s).replace(/\\u00([0-9a-f]{2})/g, '\\x$1');
}

/** Go's `%q` of a string slice: `["a" "b"]`. */
function goQuoteList(list: readonly string[]): string {
  return `[${list.map(goQuote).join(' ')}]`;
}

/** Go's time.Duration String(): `1m30s`, `500ms`, `0s`. */
export function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  if (ns < 1e3) return `${ns}ns`;
  if (ns < 1e6) return `${trimFloat(ns / 1e3)}µs`;
  if (ns < 1e9) return `${trimFloat(ns / 1e6)}ms`;
  let s = ns / 1e9;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  let out = '';
  if (h > 0) out += `${h}h`;
  if (h > 0 || m > 0) out += `${m}m`;
  return `${out}${trimFloat(Math.round(s * 1e9) / 1e9)}s`;
}

function trimFloat(n: number): string {
  return String(Number(n.toFixed(9)));
}

function healthString(h: Healthcheck): string {
  const retries = `'\\x${h.retries.toString(16).padStart(2, '0')}'`;
  return (
    `&{${goQuoteList(h.test)} ${goQuote(goDuration(h.interval))} ${goQuote(goDuration(h.timeout))} ` +
    `${goQuote(goDuration(h.startPeriod))} ${retries}}`
  );
}

/** `<shell> #(nop)  <text>`: a metadata step's created_by. */
export function nopCreatedBy(config: ImageRuntimeConfig, text: string): string {
  return [...shellOf(config), '#(nop) ', text].join(' ');
}

/** `<shell> #(nop) <text>`: the created_by of WORKDIR, COPY and ADD (one space). */
export function nopCreatedByOne(config: ImageRuntimeConfig, text: string): string {
  return [...shellOf(config), `#(nop) ${text}`].join(' ');
}

/** The outcome of a metadata-only instruction. */
export interface MetaResult {
  config: ImageRuntimeConfig;
  createdBy: string;
}

/** Expands the ports of EXPOSE into `80/tcp` keys, refusing a bad one. */
function exposedPort(p: string): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(p);
  if (!m) throw new InvalidArgumentError(`Invalid containerPort: ${p}`);
  const start = Number(m[1]);
  const end = m[2] === undefined ? start : Number(m[2]);
  if (end < start) throw new InvalidArgumentError(`Invalid containerPort: ${p}`);
  const proto = (m[3] ?? 'tcp').toLowerCase();
  const out: string[] = [];
  for (let i = start; i <= end; i++) out.push(`${i}/${proto}`);
  return out;
}

/**
 * Applies a metadata instruction (everything but FROM, RUN, COPY, ADD, WORKDIR) to the stage:
 * a new config and the created_by; ARG and MAINTAINER also update `state`.
 */
export function applyMeta(state: StageState, ins: Instruction): MetaResult {
  const c = structuredClone(state.config);
  switch (ins.kind) {
    case 'ENV': {
      const env = [...(c.Env ?? [])];
      const parts: string[] = [];
      for (const p of ins.pairs) {
        const key = ex(state, p.key);
        const value = ex(state, p.value);
        parts.push(`${key}=${value}`);
        const i = env.findIndex((e) => e === key || e.startsWith(`${key}=`));
        if (i >= 0) env[i] = `${key}=${value}`;
        else env.push(`${key}=${value}`);
        c.Env = env;
        // Later pairs of the same ENV see the earlier ones.
        state = { ...state, config: { ...state.config, Env: env } };
      }
      c.Env = env;
      return { config: c, createdBy: nopCreatedBy(state.config, `ENV ${parts.join(' ')}`) };
    }
    case 'LABEL': {
      const labels = { ...(c.Labels ?? {}) };
      const parts: string[] = [];
      for (const p of ins.pairs) {
        const key = ex(state, p.key);
        const value = ex(state, p.value);
        if (key === '') throw new InvalidArgumentError('LABEL names can not be blank');
        labels[key] = value;
        parts.push(`${key}=${value}`);
      }
      c.Labels = labels;
      return { config: c, createdBy: nopCreatedBy(c, `LABEL ${parts.join(' ')}`) };
    }
    case 'ARG': {
      const parts: string[] = [];
      for (const a of ins.args) {
        const value = a.value === undefined ? undefined : ex(state, a.value);
        state.args.set(a.name, value);
        state.used.add(a.name);
        parts.push(value === undefined ? a.name : `${a.name}=${value}`);
      }
      return { config: c, createdBy: nopCreatedBy(c, `ARG ${parts.join(' ')}`) };
    }
    case 'MAINTAINER':
      state.author = ins.name;
      return { config: c, createdBy: nopCreatedBy(c, `MAINTAINER ${ins.name}`) };
    case 'EXPOSE': {
      const ports = exWords(state, ins.raw);
      const exposed = { ...(c.ExposedPorts ?? {}) };
      for (const p of ports) for (const k of exposedPort(p)) exposed[k] = {};
      c.ExposedPorts = exposed;
      const sorted = [...ports].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      return { config: c, createdBy: nopCreatedBy(c, `EXPOSE ${sorted.join(' ')}`) };
    }
    case 'USER': {
      const user = ex(state, ins.raw);
      c.User = user;
      return { config: c, createdBy: nopCreatedBy(c, `USER ${user}`) };
    }
    case 'STOPSIGNAL': {
      const sig = ex(state, ins.raw);
      if (!/^(SIG)?[A-Z0-9+-]+$/i.test(sig)) {
        throw new InvalidArgumentError(`Invalid signal: ${sig}`);
      }
      c.StopSignal = sig;
      return { config: c, createdBy: nopCreatedBy(c, `STOPSIGNAL ${sig}`) };
    }
    case 'VOLUME': {
      const vols = ins.json ? ins.json.map((v) => ex(state, v)) : exWords(state, ins.raw);
      const volumes = { ...(c.Volumes ?? {}) };
      for (const v of vols) {
        if (v.trim() === '')
          throw new InvalidArgumentError('VOLUME specified can not be an empty string');
        volumes[v] = {};
      }
      c.Volumes = volumes;
      return { config: c, createdBy: nopCreatedBy(c, `VOLUME [${vols.join(' ')}]`) };
    }
    case 'CMD': {
      c.Cmd = commandArgv(c, ins.command);
      state.cmdSet = true;
      return { config: c, createdBy: nopCreatedBy(c, `CMD ${goQuoteList(c.Cmd)}`) };
    }
    case 'ENTRYPOINT': {
      const argv = commandArgv(c, ins.command);
      c.Entrypoint = argv;
      if (!state.cmdSet) c.Cmd = null;
      return { config: c, createdBy: nopCreatedBy(c, `ENTRYPOINT ${goQuoteList(argv)}`) };
    }
    case 'SHELL':
      c.Shell = [...ins.shell];
      return { config: c, createdBy: nopCreatedBy(c, `SHELL [${ins.shell.join(' ')}]`) };
    case 'HEALTHCHECK': {
      const h = ins.check;
      const hc: Record<string, unknown> = { Test: h.test };
      if (h.interval) hc.Interval = h.interval;
      if (h.timeout) hc.Timeout = h.timeout;
      if (h.startPeriod) hc.StartPeriod = h.startPeriod;
      if (h.startInterval) hc.StartInterval = h.startInterval;
      if (h.retries) hc.Retries = h.retries;
      c.Healthcheck = hc;
      return { config: c, createdBy: nopCreatedBy(c, `HEALTHCHECK ${healthString(h)}`) };
    }
    case 'ONBUILD': {
      c.OnBuild = [...(c.OnBuild ?? []), ins.trigger];
      return { config: c, createdBy: nopCreatedBy(c, `ONBUILD ${ins.trigger}`) };
    }
    default:
      throw new InvalidArgumentError(`${ins.kind} is not a metadata instruction`);
  }
}

/** The new working directory of `WORKDIR <raw>`, relative to the previous one. */
export function workdirOf(state: StageState, raw: string): string {
  const dir = ex(state, raw);
  const base = state.config.WorkingDir || '/';
  return path.resolve(base, dir);
}

/** RUN's argv, created_by (with `|n k=v` args in front) and the env its container gets. */
export function runStep(
  state: StageState,
  command: Command,
): { argv: string[]; createdBy: string; env: string[] } {
  const argv = commandArgv(state.config, command);
  const hist = runArgs(state, true);
  const all = runArgs(state, false);
  const prefix = hist.length > 0 ? [`|${hist.length}`, ...hist] : [];
  return {
    argv,
    createdBy: [...prefix, ...argv].join(' '),
    env: [...(state.config.Env ?? []), ...all],
  };
}

/** A step's cache key: what it does after expansion, over the config it runs with. */
export function cacheKey(parts: Record<string, unknown>): string {
  return sha256(Buffer.from(JSON.stringify(parts)));
}
