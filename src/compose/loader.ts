import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml, YAMLParseError, type ScalarTag } from 'yaml';
import { ComposeError, NoConfigFileError } from './errors.js';
import { parseEnvFile } from './env-file.js';
import { interpolateTree, type Lookup } from './interpolate.js';
import { isDict, mergeDocuments, mergeService } from './merge.js';
import type { Project, Service } from './model.js';
import {
  normalizeFileObjects,
  normalizeNetworks,
  normalizeService,
  normalizeVolumesTop,
  resolveHostPath,
} from './normalize.js';
import { validateSchema } from './schema.js';
import { checkProject } from './validate.js';

type Dict = Record<string, unknown>;

export interface LoadOptions {
  /** The working directory (discovery starts here; relative -f and --env-file resolve here). */
  cwd: string;
  /** `-f` values in order; `-` reads `stdin`. Empty: COMPOSE_FILE, then discovery. */
  files?: string[];
  /** The text of `-f -`. */
  stdin?: string;
  projectDirectory?: string;
  /** `-p`. */
  projectName?: string;
  /** `--env-file` values; empty: `<project dir>/.env` when present. */
  envFiles?: string[];
  /** `--profile` values; empty: COMPOSE_PROFILES. */
  profiles?: string[];
  /** Services named on the command line: enabled whatever their profiles. */
  services?: string[];
  /** The OS environment. */
  env: Record<string, string | undefined>;
  /** Skip the checks that need the whole model (config --no-consistency). */
  skipChecks?: boolean;
}

/** The names compose looks for, in order of preference. */
export const DEFAULT_FILES = [
  'compose.yaml',
  'compose.yml',
  'docker-compose.yaml',
  'docker-compose.yml',
];
const OVERRIDE_FILES = [
  'compose.override.yaml',
  'compose.override.yml',
  'docker-compose.override.yaml',
  'docker-compose.override.yml',
];

/**
 * Finds the Compose file from `cwd` upwards (and its override beside it). Several candidate
 * names in one directory: the first is used, with compose's warning.
 */
export function findComposeFiles(cwd: string, warnings: string[] = []): string[] {
  let dir = path.resolve(cwd);
  while (true) {
    const found = DEFAULT_FILES.filter((f) => existsSync(path.join(dir, f)));
    if (found.length > 0) {
      if (found.length > 1)
        warnings.push(
          `Found multiple config files with supported names: ${found.map((f) => path.join(dir, f)).join(', ')}\nUsing ${path.join(dir, found[0] as string)}`,
        );
      const main = path.join(dir, found[0] as string);
      const override = OVERRIDE_FILES.find((f) => existsSync(path.join(dir, f)));
      return override ? [main, path.join(dir, override)] : [main];
    }
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new NoConfigFileError('no configuration file provided: not found');
}

/** Compose's normalisation of a directory name into a project name. */
export function normalizeProjectName(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^-_a-z0-9]+/g, '')
    .replace(/^[-_]+/, '');
}

/** Checks an explicit project name (-p, COMPOSE_PROJECT_NAME, `name:`). */
export function checkProjectName(name: string): string {
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(name))
    throw new ComposeError(
      `invalid project name "${name}": must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number`,
    );
  return name;
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ComposeError(`open ${file}: no such file or directory`);
    throw err;
  }
}

/**
 * Go's yaml.v3 (which compose uses) reads `0755` as octal, as YAML 1.1 did; the yaml package's
 * 1.2 core schema would read 755. File modes in secrets/configs depend on it.
 */
const GO_OCTAL: ScalarTag = {
  tag: 'tag:yaml.org,2002:int',
  default: true,
  test: /^0[0-7]+$/,
  resolve: (s: string) => parseInt(s, 8),
};

function parseDocument(text: string, file: string): Dict {
  let doc: unknown;
  try {
    doc = parseYaml(text, {
      merge: true,
      uniqueKeys: true,
      maxAliasCount: 10000,
      customTags: (tags) => [GO_OCTAL, ...tags],
    });
  } catch (err: unknown) {
    if (err instanceof YAMLParseError) {
      const where = err.linePos?.[0];
      throw new ComposeError(
        `yaml: ${where ? `line ${where.line}: ` : ''}${err.message.split('\n')[0]} (${file})`,
      );
    }
    throw err;
  }
  if (doc === null || doc === undefined) return {};
  if (!isDict(doc)) throw new ComposeError(`Top-level object must be a mapping (${file})`);
  return doc;
}

/** Rewrites the paths a service names (build context, env_file, bind sources) as absolute. */
function resolveServicePaths(svc: Dict, dir: string): Dict {
  const s = { ...svc };
  const isUrl = (c: string): boolean => /^[a-z]+:\/\//.test(c) || c.startsWith('git@');
  if (typeof s.build === 'string') s.build = isUrl(s.build) ? s.build : path.resolve(dir, s.build);
  else if (isDict(s.build)) {
    const ctx = String(s.build.context ?? '.');
    s.build = { ...s.build, context: isUrl(ctx) ? ctx : path.resolve(dir, ctx) };
  }
  if (s.env_file !== undefined) {
    const list = Array.isArray(s.env_file) ? s.env_file : [s.env_file];
    s.env_file = list.map((e) =>
      isDict(e) ? { ...e, path: path.resolve(dir, String(e.path)) } : path.resolve(dir, String(e)),
    );
  }
  if (Array.isArray(s.volumes)) {
    s.volumes = s.volumes.map((v) => {
      if (typeof v === 'string') {
        const parts = v.split(':');
        const src = parts[0] as string;
        if (parts.length > 1 && (src.startsWith('.') || src.startsWith('~')))
          return [resolveHostPath(src, dir), ...parts.slice(1)].join(':');
        return v;
      }
      if (isDict(v) && v.type === 'bind' && typeof v.source === 'string')
        return { ...v, source: resolveHostPath(v.source, dir) };
      return v;
    });
  }
  if (isDict(s.extends) && typeof s.extends.file === 'string')
    s.extends = { ...s.extends, file: path.resolve(dir, s.extends.file) };
  return s;
}

function resolveDocPaths(doc: Dict, dir: string): Dict {
  const out = { ...doc };
  if (isDict(doc.services)) {
    const services: Dict = {};
    for (const [k, v] of Object.entries(doc.services))
      services[k] = isDict(v) ? resolveServicePaths(v, dir) : v;
    out.services = services;
  }
  for (const kind of ['secrets', 'configs']) {
    const top = doc[kind];
    if (!isDict(top)) continue;
    const o: Dict = {};
    for (const [k, v] of Object.entries(top))
      o[k] =
        isDict(v) && typeof v.file === 'string' ? { ...v, file: resolveHostPath(v.file, dir) } : v;
    out[kind] = o;
  }
  return out;
}

interface Context {
  lookup: Lookup;
  warnings: string[];
  unset: Set<string>;
  env: Record<string, string | undefined>;
}

/** Reads, interpolates and validates one file; paths resolved against `dir`. */
function loadDocument(file: string, text: string, dir: string, ctx: Context): Dict {
  const raw = parseDocument(text, file);
  const doc = interpolateTree(raw, {
    lookup: ctx.lookup,
    onUnset: (name) => {
      if (ctx.unset.has(name)) return;
      ctx.unset.add(name);
      ctx.warnings.push(`The "${name}" variable is not set. Defaulting to a blank string.`);
    },
  }) as Dict;
  validateSchema(doc, file);
  if (doc.version !== undefined) {
    ctx.warnings.push(
      `${file}: the attribute \`version\` is obsolete, it will be ignored, please remove it to avoid potential confusion`,
    );
    delete doc.version;
  }
  return resolveDocPaths(doc, dir);
}

/** Resolves `extends` in the services of one document (`file` names it for other-file refs). */
function resolveExtends(doc: Dict, file: string, ctx: Context): void {
  const services = isDict(doc.services) ? doc.services : {};
  const cache = new Map<string, Dict>();
  const visit = (svcs: Dict, name: string, where: string, stack: string[]): Dict => {
    const key = `${where}#${name}`;
    const done = cache.get(key);
    if (done) return done;
    if (stack.includes(key))
      throw new ComposeError(`circular reference with extends: ${[...stack, key].join(' -> ')}`);
    const svc = svcs[name];
    if (!isDict(svc))
      throw new ComposeError(`cannot extend service "${name}" in ${where}: service not found`);
    const ext = svc.extends;
    if (ext === undefined) {
      cache.set(key, svc);
      return svc;
    }
    const ref = typeof ext === 'string' ? { service: ext } : (ext as Dict);
    const baseName = String(ref.service);
    let base: Dict;
    if (typeof ref.file === 'string' && path.resolve(ref.file) !== path.resolve(where)) {
      const other = ref.file;
      const otherDoc = loadDocument(other, readText(other), path.dirname(other), ctx);
      const otherSvcs = isDict(otherDoc.services) ? otherDoc.services : {};
      base = visit(otherSvcs, baseName, other, [...stack, key]);
    } else base = visit(svcs, baseName, where, [...stack, key]);
    const own = { ...svc };
    delete own.extends;
    const b = { ...base };
    delete b.extends;
    const merged = mergeService(b, own);
    cache.set(key, merged);
    return merged;
  };
  const out: Dict = {};
  for (const name of Object.keys(services)) out[name] = visit(services, name, file, []);
  doc.services = out;
}

const RESOURCE_KINDS = ['services', 'networks', 'volumes', 'secrets', 'configs'] as const;

/** Loads the projects an `include` names and adds their resources (conflicts are errors). */
function applyInclude(doc: Dict, dir: string, ctx: Context): void {
  const include = doc.include;
  delete doc.include;
  if (!Array.isArray(include)) return;
  for (const entry of include) {
    const e = typeof entry === 'string' ? { path: entry } : (entry as Dict);
    const paths = (Array.isArray(e.path) ? e.path : [e.path]).map((p) =>
      path.resolve(dir, String(p)),
    );
    const projectDir = e.project_directory
      ? path.resolve(dir, String(e.project_directory))
      : path.dirname(paths[0] as string);
    const envFiles = e.env_file
      ? (Array.isArray(e.env_file) ? e.env_file : [e.env_file]).map((p) =>
          path.resolve(dir, String(p)),
        )
      : [path.join(projectDir, '.env')].filter((p) => existsSync(p));
    let extra: Record<string, string> = {};
    for (const f of envFiles)
      extra = { ...extra, ...parseEnvFile(readText(f), { file: f, lookup: ctx.lookup }) };
    const sub: Context = {
      ...ctx,
      lookup: (n) => ctx.env[n] ?? extra[n] ?? ctx.lookup(n),
    };
    const docs = paths.map((p) => {
      const d = loadDocument(p, readText(p), projectDir, sub);
      applyInclude(d, path.dirname(p), sub);
      resolveExtends(d, p, sub);
      return d;
    });
    const included = mergeDocuments(docs);
    for (const kind of RESOURCE_KINDS) {
      const theirs = included[kind];
      if (!isDict(theirs)) continue;
      const ours = isDict(doc[kind]) ? (doc[kind] as Dict) : {};
      for (const [k, v] of Object.entries(theirs)) {
        if (k in ours) throw new ComposeError(`${kind}.${k} conflicts with imported resource`);
        ours[k] = v;
      }
      doc[kind] = ours;
    }
  }
}

function readEnvFileEntries(svc: Dict, lookup: Lookup): Record<string, string> | undefined {
  if (svc.env_file === undefined) return undefined;
  let out: Record<string, string> = {};
  for (const e of svc.env_file as unknown[]) {
    const file = isDict(e) ? String(e.path) : String(e);
    const required = isDict(e) ? e.required !== false : true;
    if (!existsSync(file)) {
      if (!required) continue;
      throw new ComposeError(`env file ${file} not found: stat ${file}: no such file or directory`);
    }
    out = { ...out, ...parseEnvFile(readText(file), { file, lookup }) };
  }
  return out;
}

function activeProfiles(options: LoadOptions, lookup: Lookup): string[] {
  if (options.profiles && options.profiles.length > 0)
    return options.profiles.flatMap((p) => p.split(',')).filter((p) => p !== '');
  const env = lookup('COMPOSE_PROFILES');
  return env
    ? env
        .split(',')
        .map((p) => p.trim())
        .filter((p) => p !== '')
    : [];
}

/**
 * Loads a Compose project as docker compose does: files found or given, merged, interpolated
 * from the OS environment over `.env`, validated against the schema, `include` and `extends`
 * resolved, profiles applied, normalised, then checked as a whole. Throws ComposeError with
 * compose's wording on the first problem; reads files but changes nothing.
 */
export function loadProject(options: LoadOptions): Project {
  const warnings: string[] = [];
  const cwd = path.resolve(options.cwd);
  const env = options.env;
  let files = options.files ?? [];
  if (files.length === 0 && env.COMPOSE_FILE)
    files = env.COMPOSE_FILE.split(env.COMPOSE_PATH_SEPARATOR ?? ':').filter((f) => f !== '');
  let configFiles: string[];
  if (files.length > 0) configFiles = files.map((f) => (f === '-' ? '-' : path.resolve(cwd, f)));
  else
    configFiles = findComposeFiles(
      options.projectDirectory ? path.resolve(cwd, options.projectDirectory) : cwd,
      warnings,
    );
  for (const f of configFiles) {
    if (f !== '-' && existsSync(f) && statSync(f).isDirectory()) {
      const inside = DEFAULT_FILES.map((n) => path.join(f, n)).find((p) => existsSync(p));
      if (!inside) throw new NoConfigFileError(`no configuration file provided: not found in ${f}`);
      configFiles[configFiles.indexOf(f)] = inside;
    }
  }
  const first = configFiles[0] as string;
  const workingDir = options.projectDirectory
    ? path.resolve(cwd, options.projectDirectory)
    : first === '-'
      ? cwd
      : path.dirname(first);

  let dotenv: Record<string, string> = {};
  const envFiles =
    options.envFiles && options.envFiles.length > 0
      ? options.envFiles.map((f) => path.resolve(cwd, f))
      : [path.join(workingDir, '.env')].filter((f) => existsSync(f) && statSync(f).isFile());
  const osLookup: Lookup = (n) => env[n];
  for (const f of envFiles) {
    dotenv = {
      ...dotenv,
      ...parseEnvFile(readText(f), { file: f, lookup: (n) => env[n] ?? dotenv[n] }),
    };
  }
  const lookup: Lookup = (n) => env[n] ?? dotenv[n];
  const ctx: Context = { lookup, warnings, unset: new Set(), env };

  const docs = configFiles.map((f) => {
    const text = f === '-' ? (options.stdin ?? '') : readText(f);
    const d = loadDocument(f, text, workingDir, ctx);
    applyInclude(d, f === '-' ? workingDir : path.dirname(f), ctx);
    resolveExtends(d, f, ctx);
    return d;
  });
  const merged = mergeDocuments(docs);

  let name: string;
  if (options.projectName) name = checkProjectName(options.projectName);
  else if (lookup('COMPOSE_PROJECT_NAME'))
    name = checkProjectName(lookup('COMPOSE_PROJECT_NAME') as string);
  else if (typeof merged.name === 'string' && merged.name !== '')
    name = checkProjectName(merged.name);
  else name = normalizeProjectName(path.basename(workingDir));
  if (name === '') throw new ComposeError('project name must not be empty');

  const profiles = activeProfiles(options, lookup);
  const services: Record<string, Service> = {};
  const disabledServices: Record<string, Service> = {};
  const rawServices = isDict(merged.services) ? merged.services : {};
  const wanted = new Set(options.services ?? []);
  for (const [svcName, raw] of Object.entries(rawServices)) {
    const svc = raw as Dict;
    const normalized = normalizeService(svc, {
      baseDir: workingDir,
      lookup: osLookup,
      envFiles: readEnvFileEntries(svc, lookup),
    });
    const own = Array.isArray(svc.profiles) ? svc.profiles.map(String) : [];
    const enabled =
      own.length === 0 ||
      profiles.includes('*') ||
      own.some((p) => profiles.includes(p)) ||
      wanted.has(svcName);
    (enabled ? services : disabledServices)[svcName] = normalized;
  }
  // A service another enabled service needs is enabled with it (compose activates them).
  let grew = true;
  while (grew) {
    grew = false;
    for (const svc of Object.values(services))
      for (const dep of Object.keys(svc.depends_on ?? {}))
        if (disabledServices[dep] && wanted.size > 0) {
          services[dep] = disabledServices[dep];
          delete disabledServices[dep];
          grew = true;
        }
  }
  const usedNetworks = new Set<string>();
  for (const svc of Object.values(services))
    for (const n of Object.keys(svc.networks ?? {})) usedNetworks.add(n);
  const project: Project = {
    name,
    workingDir,
    configFiles,
    environment: Object.fromEntries(
      Object.entries({ ...dotenv, ...env }).filter(
        (e): e is [string, string] => e[1] !== undefined,
      ),
    ),
    services: sortKeys(services),
    disabledServices,
    networks: normalizeNetworks(
      isDict(merged.networks) ? merged.networks : undefined,
      name,
      usedNetworks,
    ),
    volumes: normalizeVolumesTop(isDict(merged.volumes) ? merged.volumes : undefined, name),
    secrets: normalizeFileObjects(
      isDict(merged.secrets) ? merged.secrets : undefined,
      name,
      workingDir,
    ),
    configs: normalizeFileObjects(
      isDict(merged.configs) ? merged.configs : undefined,
      name,
      workingDir,
    ),
    extensions: Object.fromEntries(Object.entries(merged).filter(([k]) => k.startsWith('x-'))),
    profiles,
    warnings,
  };
  if (!options.skipChecks) checkProject(project);
  return project;
}

function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
