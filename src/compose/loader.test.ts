import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { renderConfig } from './config-output.js';
import { parseEnvFile } from './env-file.js';
import { ComposeError } from './errors.js';
import { interpolate, interpolateTree } from './interpolate.js';
import { findComposeFiles, loadProject, normalizeProjectName } from './loader.js';
import { mergeDocuments, mergeService } from './merge.js';
import { parsePortSpec, parseVolumeSpec, shellSplit } from './normalize.js';
import { formatDuration, parseBytes, parseDuration } from './units.js';

const testdata = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../src/compose/testdata',
);
const scratch = mkdtempSync(path.join(tmpdir(), 'berth-compose-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** A project directory with the given files. */
function dir(name: string, files: Record<string, string>): string {
  const d = path.join(scratch, name);
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(d, f)), { recursive: true });
    writeFileSync(path.join(d, f), text);
  }
  return d;
}

function load(
  d: string,
  extra: Partial<Parameters<typeof loadProject>[0]> = {},
): ReturnType<typeof loadProject> {
  return loadProject({ cwd: d, env: {}, ...extra });
}

function fails(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ComposeError, `not a ComposeError: ${String(err)}`);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

describe('interpolation', () => {
  const env: Record<string, string> = { SET: 'v', EMPTY: '' };
  const lookup = (n: string): string | undefined => env[n];
  const i = (s: string): string => interpolate(s, { lookup });
  it('substitutes plain and braced names', () => {
    assert.equal(i('$SET-${SET}'), 'v-v');
    assert.equal(i('${NOPE}'), '');
  });
  it('applies each modifier by the spec', () => {
    assert.equal(i('${NOPE:-d}'), 'd');
    assert.equal(i('${EMPTY:-d}'), 'd');
    assert.equal(i('${EMPTY-d}'), '');
    assert.equal(i('${NOPE-d}'), 'd');
    assert.equal(i('${SET:+r}'), 'r');
    assert.equal(i('${EMPTY:+r}'), '');
    assert.equal(i('${EMPTY+r}'), 'r');
    assert.equal(i('${NOPE+r}'), '');
    assert.equal(i('${SET:?boom}'), 'v');
    assert.equal(i('${EMPTY?boom}'), '');
  });
  it('fails on a missing required variable with compose message', () => {
    fails(
      () => i('${NOPE:?must be set}'),
      'required variable NOPE is missing a value: must be set',
    );
    fails(() => i('${EMPTY:?empty}'), 'required variable EMPTY is missing a value: empty');
    fails(() => i('${NOPE?gone}'), 'required variable NOPE is missing a value: gone');
  });
  it('escapes $$ and resolves nested defaults', () => {
    assert.equal(i('$$SET $${SET}'), '$SET ${SET}');
    assert.equal(i('${NOPE:-${ALSO:-${SET}}}'), 'v');
    assert.equal(i('${NOPE:-a $$ b}'), 'a $ b');
  });
  it('reports unset variables once per use and rejects bad templates', () => {
    const unset: string[] = [];
    interpolate('${X} $Y ${X:-d}', { lookup, onUnset: (n) => unset.push(n) });
    assert.deepEqual(unset, ['X', 'Y']);
    fails(() => i('${SET'), /Invalid template/);
    fails(() => i('${1BAD}'), /Invalid template/);
    fails(
      () => interpolateTree({ services: { web: { image: 'x${SET' } } }, { lookup }),
      'invalid interpolation format for services.web.image: "x${SET". You may need to escape any $ with another $.',
    );
  });
});

describe('env files', () => {
  it('parses compose dotenv syntax', () => {
    const env = parseEnvFile(
      [
        '# comment',
        'A=1',
        'export B = two ',
        'C="quoted # kept\\nnext"',
        "D='single ${A}'",
        'E=${A}-x # trailing comment',
        'F=',
        'G',
        'H="multi',
        'line"',
      ].join('\n'),
      { file: '.env', lookup: (n) => (n === 'G' ? 'from-os' : undefined) },
    );
    assert.deepEqual(env, {
      A: '1',
      B: 'two',
      C: 'quoted # kept\nnext',
      D: 'single ${A}',
      E: '1-x',
      F: '',
      G: 'from-os',
      H: 'multi\nline',
    });
  });
  it('rejects a bad variable name', () => {
    fails(() => parseEnvFile('1A=x', { file: 'x.env' }), /unexpected character in variable name/);
  });
});

describe('merge', () => {
  it('merges services by the spec rules', () => {
    const merged = mergeService(
      {
        image: 'a',
        command: ['x', 'y'],
        environment: ['A=1', 'B=2'],
        ports: ['80:80'],
        volumes: ['./a:/data', 'v:/v'],
        expose: ['1'],
        depends_on: ['db'],
        healthcheck: { test: ['CMD', 'a'], interval: '1s' },
        logging: { driver: 'json-file', options: { a: '1' } },
      },
      {
        command: 'z',
        environment: { B: '3' },
        ports: ['80:80', '90:90'],
        volumes: [{ type: 'bind', source: './b', target: '/data' }],
        expose: ['1', '2'],
        depends_on: { cache: { condition: 'service_healthy' } },
        healthcheck: { test: ['CMD', 'b'] },
        logging: { driver: 'syslog' },
      },
    );
    assert.deepEqual(merged, {
      image: 'a',
      command: 'z',
      environment: { A: '1', B: '3' },
      ports: ['80:80', '90:90'],
      volumes: [{ type: 'bind', source: './b', target: '/data' }, 'v:/v'],
      expose: ['1', '2'],
      depends_on: { db: { condition: 'service_started' }, cache: { condition: 'service_healthy' } },
      healthcheck: { test: ['CMD', 'b'], interval: '1s' },
      logging: { driver: 'syslog' },
    });
  });
  it('merges top-level mappings and replaces other sequences', () => {
    const doc = mergeDocuments([
      {
        services: { a: { image: 'x', dns_opt: ['a'], cap_drop: ['X'] } },
        networks: { n: { driver: 'bridge' } },
      },
      {
        services: { a: { user: 'u', dns_opt: ['b'] }, b: { image: 'y' } },
        networks: { n: { internal: true } },
      },
    ]);
    assert.deepEqual(doc, {
      services: {
        a: { image: 'x', user: 'u', dns_opt: ['a', 'b'], cap_drop: ['X'] },
        b: { image: 'y' },
      },
      networks: { n: { driver: 'bridge', internal: true } },
    });
  });
});

describe('short syntaxes', () => {
  it('expands ports', () => {
    assert.deepEqual(parsePortSpec('80'), [{ mode: 'ingress', target: 80, protocol: 'tcp' }]);
    assert.deepEqual(parsePortSpec('127.0.0.1:8080:80/udp'), [
      { mode: 'ingress', target: 80, protocol: 'udp', host_ip: '127.0.0.1', published: '8080' },
    ]);
    assert.deepEqual(parsePortSpec('[::1]:53:53'), [
      { mode: 'ingress', target: 53, protocol: 'tcp', host_ip: '::1', published: '53' },
    ]);
    assert.deepEqual(
      parsePortSpec('9000-9001:80-81').map((p) => `${p.published}->${p.target}`),
      ['9000->80', '9001->81'],
    );
    assert.deepEqual(parsePortSpec('8000-8010:80'), [
      { mode: 'ingress', target: 80, protocol: 'tcp', published: '8000-8010' },
    ]);
    fails(() => parsePortSpec('a:b:c:d'), /Invalid port specification/);
  });
  it('expands volumes', () => {
    assert.deepEqual(parseVolumeSpec('data:/d:ro,nocopy', '/p'), {
      type: 'volume',
      source: 'data',
      target: '/d',
      read_only: true,
      volume: { nocopy: true },
    });
    assert.deepEqual(parseVolumeSpec('./x:/y:z', '/p'), {
      type: 'bind',
      source: '/p/x',
      target: '/y',
      bind: { selinux: 'z', create_host_path: true },
    });
    assert.deepEqual(parseVolumeSpec('/anon', '/p'), {
      type: 'volume',
      target: '/anon',
      volume: {},
    });
    fails(() => parseVolumeSpec('a:/b:bogus', '/p'), /unknown option bogus/);
  });
  it('splits commands like a shell', () => {
    assert.deepEqual(shellSplit(`sh -c "echo 'a b'; x=\\"1\\"" 'q r' a\\ b`), [
      'sh',
      '-c',
      `echo 'a b'; x="1"`,
      'q r',
      'a b',
    ]);
  });
  it('reads and prints units like compose-go', () => {
    assert.equal(parseBytes('512m'), 512 * 1024 * 1024);
    assert.equal(parseBytes('1gb'), 1024 ** 3);
    assert.equal(parseBytes(100), 100);
    assert.equal(parseDuration('1m30s'), 90e9);
    assert.equal(parseDuration('500ms'), 5e8);
    assert.equal(formatDuration(90e9), '1m30s');
    assert.equal(formatDuration(3600e9), '1h0m0s');
    assert.equal(formatDuration(1.5e9), '1.5s');
    assert.equal(formatDuration(5e8), '500ms');
  });
});

describe('config corpus (expected output derived from compose-go normalisation rules)', () => {
  const env = { OVERRIDDEN: 'from-os', API_TOKEN: 'tok', HOME: '/home/test' };
  const cases: [string, string[], string][] = readdirSync(testdata)
    .sort()
    .map((d) => [d, [], 'expected.yaml']);
  cases.push(['profiles', ['debug'], 'expected-debug.yaml']);
  for (const [name, profiles, expected] of cases) {
    it(`${name}${profiles.length > 0 ? ` --profile ${profiles.join(',')}` : ''}`, () => {
      const d = path.join(testdata, name);
      const p = loadProject({ cwd: d, env, profiles });
      const out = renderConfig(p).split(d).join('${DIR}');
      assert.equal(out, readFileSync(path.join(d, expected), 'utf8'));
    });
  }
});

describe('project files and names', () => {
  it('finds the file from a subdirectory upwards, with its override', () => {
    const d = dir('find', {
      'compose.yaml': 'services: {a: {image: busybox}}\n',
      'compose.override.yaml': 'services: {a: {user: nobody}}\n',
      'docker-compose.yml': 'services: {}\n',
      'sub/deeper/.keep': '',
    });
    const warnings: string[] = [];
    assert.deepEqual(findComposeFiles(path.join(d, 'sub/deeper'), warnings), [
      path.join(d, 'compose.yaml'),
      path.join(d, 'compose.override.yaml'),
    ]);
    assert.match(warnings[0] as string, /Found multiple config files with supported names/);
    const p = load(path.join(d, 'sub/deeper'));
    assert.equal(p.workingDir, d);
    assert.equal(p.services.a?.user, 'nobody');
  });
  it('fails clearly when there is no file', () => {
    fails(() => load(dir('none', { '.keep': '' })), 'no configuration file provided: not found');
  });
  it('names the project by -p, COMPOSE_PROJECT_NAME, name: and the directory', () => {
    const d = dir('My Dir.v2', { 'compose.yaml': 'services: {a: {image: busybox}}\n' });
    assert.equal(normalizeProjectName('My Dir.v2'), 'mydirv2');
    assert.equal(normalizeProjectName('_-x'), 'x');
    assert.equal(load(d).name, 'mydirv2');
    assert.equal(load(d, { env: { COMPOSE_PROJECT_NAME: 'fromenv' } }).name, 'fromenv');
    assert.equal(
      load(d, { projectName: 'flag', env: { COMPOSE_PROJECT_NAME: 'fromenv' } }).name,
      'flag',
    );
    const n = dir('named', {
      'compose.yaml': 'name: ${N:-fromfile}\nservices: {a: {image: busybox}}\n',
    });
    assert.equal(load(n).name, 'fromfile');
    assert.equal(load(n, { env: { N: 'interp' } }).name, 'interp');
    fails(
      () => load(d, { projectName: 'Bad' }),
      /invalid project name "Bad": must consist only of lowercase/,
    );
  });
  it("merges -f files in order, relative to the first file's directory", () => {
    const d = dir('multi', {
      'base/one.yaml': 'services: {a: {image: busybox, volumes: ["./x:/x"]}}\n',
      'two.yaml': 'services: {a: {image: busybox:2, command: [b]}}\n',
    });
    const p = load(d, { files: ['base/one.yaml', 'two.yaml'] });
    assert.equal(p.workingDir, path.join(d, 'base'));
    assert.equal(p.services.a?.image, 'busybox:2');
    assert.deepEqual(p.services.a?.command, ['b']);
    assert.equal(p.services.a?.volumes?.[0]?.source, path.join(d, 'base/x'));
    assert.deepEqual(p.configFiles, [path.join(d, 'base/one.yaml'), path.join(d, 'two.yaml')]);
  });
  it('reads -f - from stdin with --project-directory', () => {
    const d = dir('stdin', { '.env': 'IMG=busybox:stdin\n' });
    const p = load(scratch, {
      files: ['-'],
      stdin: 'services: {a: {image: "${IMG}"}}\n',
      projectDirectory: d,
    });
    assert.equal(p.services.a?.image, 'busybox:stdin');
    assert.equal(p.name, 'stdin');
    assert.deepEqual(p.configFiles, ['-']);
  });
  it('takes --env-file instead of .env, and the OS environment over both', () => {
    const d = dir('envfile', {
      '.env': 'A=dotenv\n',
      'other.env': 'A=other\nB=other\n',
      'compose.yaml': 'services: {a: {image: busybox, environment: {A: "${A}", B: "${B}"}}}\n',
    });
    assert.equal(load(d).services.a?.environment?.A, 'dotenv');
    const p = load(d, { envFiles: [path.join(d, 'other.env')], env: { B: 'os' } });
    assert.deepEqual(p.services.a?.environment, { A: 'other', B: 'os' });
  });
  it('resolves env_file under environment and bare names from the OS', () => {
    const d = dir('env_file', {
      'a.env': 'X=file\nY=file\n',
      'compose.yaml':
        'services: {a: {image: busybox, env_file: a.env, environment: [Y=own, FROM_OS, MISSING]}}\n',
    });
    assert.deepEqual(load(d, { env: { FROM_OS: 'os' } }).services.a?.environment, {
      X: 'file',
      Y: 'own',
      FROM_OS: 'os',
      MISSING: null,
    });
  });
  it('warns about version and unset variables', () => {
    const d = dir('warn', {
      'compose.yaml': 'version: "3"\nservices: {a: {image: "busybox:${T}"}}\n',
    });
    const p = load(d);
    assert.equal(p.warnings.length, 2);
    assert.match(
      p.warnings[0] as string,
      /The "T" variable is not set\. Defaulting to a blank string\./,
    );
    assert.match(p.warnings[1] as string, /the attribute `version` is obsolete/);
  });
  it('enables profiles from --profile, COMPOSE_PROFILES and named services', () => {
    const d = path.join(testdata, 'profiles');
    assert.deepEqual(Object.keys(load(d).services), ['app']);
    assert.deepEqual(Object.keys(load(d, { env: { COMPOSE_PROFILES: 'tools' } }).services), [
      'app',
      'tools',
    ]);
    assert.deepEqual(Object.keys(load(d, { profiles: ['*'] }).services), ['app', 'debug', 'tools']);
    assert.deepEqual(Object.keys(load(d, { services: ['debug'] }).services), ['app', 'debug']);
  });
  it('detects circular extends', () => {
    const d = dir('extcycle', {
      'compose.yaml': 'services: {a: {extends: b, image: x}, b: {extends: a}}\n',
    });
    fails(() => load(d), /circular reference with extends/);
  });
  it('refuses an include that redefines a service', () => {
    const d = dir('inclconflict', {
      'compose.yaml': 'include: [sub.yaml]\nservices: {a: {image: x}}\n',
      'sub.yaml': 'services: {a: {image: y}}\n',
    });
    fails(() => load(d), 'services.a conflicts with imported resource');
  });
  it('reads YAML anchors, merge keys and Go-style octal', () => {
    const d = dir('yaml', {
      'compose.yaml':
        'x-a: &a {image: busybox, user: "1"}\nservices:\n  s:\n    <<: *a\n    user: "2"\n    secrets: [{source: k, mode: 0440}]\nsecrets: {k: {file: ./k}}\n',
    });
    const s = load(d).services.s;
    assert.equal(s?.image, 'busybox');
    assert.equal(s?.user, '2');
    assert.equal(s?.secrets?.[0]?.mode, 0o440);
  });
});

describe('validation errors, before anything is created', () => {
  const bad = (name: string, text: string): string => dir(name, { 'compose.yaml': text });
  it('names the file, the path and what was expected', () => {
    const d = bad('schema1', 'services: {web: {image: busybox, bogus: 1}}\n');
    fails(
      () => load(d),
      `validating ${path.join(d, 'compose.yaml')}: services.web additional properties 'bogus' not allowed`,
    );
    const d2 = bad('schema2', 'services: {web: {image: [1]}}\n');
    fails(
      () => load(d2),
      `validating ${path.join(d2, 'compose.yaml')}: services.web.image must be a string`,
    );
    const d3 = bad(
      'schema3',
      'services: {web: {image: x, depends_on: {db: {condition: sometimes}}}, db: {image: x}}\n',
    );
    fails(
      () => load(d3),
      /services\.web\.depends_on\.db\.condition must be one of the following: "service_started", "service_healthy", "service_completed_successfully"/,
    );
    const d4 = bad('schema4', 'bogus: 1\nservices: {}\n');
    fails(() => load(d4), /\(root\) additional properties 'bogus' not allowed/);
    const d5 = bad(
      'schema5',
      'services: {web: {image: x, ports: [{target: 80, published: true}]}}\n',
    );
    fails(() => load(d5), /services\.web\.ports\.0\.published must be a string or integer/);
  });
  it('reports YAML syntax errors with the file', () => {
    const d = bad('yamlerr', 'services:\n  a: [\n');
    fails(() => load(d), /yaml: line \d+: .*compose\.yaml/);
  });
  it('finds unknown dependencies, cycles and undefined resources', () => {
    fails(
      () => load(bad('dep', 'services: {web: {image: x, depends_on: [db]}}\n')),
      'service "web" depends on undefined service "db": invalid compose project',
    );
    fails(
      () =>
        load(
          bad(
            'cycle',
            'services: {a: {image: x, depends_on: [b]}, b: {image: x, depends_on: [c]}, c: {image: x, depends_on: [a]}}\n',
          ),
        ),
      'dependency cycle detected: a -> b -> c -> a',
    );
    fails(
      () => load(bad('net', 'services: {a: {image: x, networks: [nope]}}\n')),
      'service "a" refers to undefined network nope: invalid compose project',
    );
    fails(
      () => load(bad('vol', 'services: {a: {image: x, volumes: ["nope:/x"]}}\n')),
      'service "a" refers to undefined volume nope: invalid compose project',
    );
    fails(
      () => load(bad('sec', 'services: {a: {image: x, secrets: [nope]}}\n')),
      'service "a" refers to undefined secret nope: invalid compose project',
    );
    fails(
      () => load(bad('noimage', 'services: {a: {command: x}}\n')),
      'service "a" has neither an image nor a build context specified: invalid compose project',
    );
    fails(
      () => load(bad('required', 'services: {a: {image: "${IMG:?set IMG}"}}\n')),
      'required variable IMG is missing a value: set IMG',
    );
  });
  it('lets a dependency that is not required be missing from the profiles', () => {
    const d = bad(
      'optional',
      'services: {a: {image: x, depends_on: {b: {condition: service_started, required: false}}}, b: {image: x, profiles: [p]}}\n',
    );
    assert.deepEqual(Object.keys(load(d).services), ['a']);
  });
});
