import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import tar from 'tar-stream';
import { repoRoot, runCommand, startEngine, type CommandResult, type Engine } from './harness.js';

// The builder against Docker's classic builder: each case of build-corpus/ is built by the
// anchor dockerd (DOCKER_BUILDKIT=0) and by berthd (through the same docker CLI), both on the
// same base image (the anchors' busybox rootfs imported under our own name), and the results
// compared: image config, history (created_by with COPY/ADD source hashes, empty_layer) and every layer's files (path,
// type, mode, owner, link target, content hash). Then berth alone: the cache, bad input and
// what the classic builder cannot do (heredocs).

const anchorHost = process.env.ANCHOR_DOCKER_HOST ?? 'unix:///run/berth-anchors/docker.sock';
const anchorTar = '/var/lib/berth-anchors/busybox-rootfs.tar';
const corpus = path.join(repoRoot, 'test/integration/build-corpus');
const p = `berth-it-b${randomBytes(3).toString('hex')}`;
const base = `${p}-base:latest`;

let engine: Engine;
let tmp: string;
const anchorImages = new Set<string>();

function anchor(args: string[], input?: string): Promise<CommandResult> {
  return runCommand(
    'docker',
    args,
    { DOCKER_HOST: anchorHost, DOCKER_BUILDKIT: '0' },
    { input: input ?? '', timeoutMs: 180_000 },
  );
}

function berthDocker(args: string[], input?: string): Promise<CommandResult> {
  return runCommand(
    'docker',
    args,
    { DOCKER_HOST: engine.host, DOCKER_BUILDKIT: '0' },
    { input: input ?? '', timeoutMs: 180_000 },
  );
}

function must(r: CommandResult, what: string): CommandResult {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

interface Facts {
  config: Record<string, unknown>;
  history: string[];
  layers: string[][];
}

/** Blank members dropped: the engines differ in which empty fields they write. */
function compact(v: unknown): unknown {
  if (Array.isArray(v)) return v.length === 0 ? undefined : v.map(compact);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const c = compact(x);
      if (c === undefined || c === null || c === '' || c === false) continue;
      if (
        typeof c === 'object' &&
        !Array.isArray(c) &&
        Object.keys(c).length === 0 &&
        k !== 'ExposedPorts' &&
        !k.startsWith('/') &&
        !/^\d+\//.test(k)
      )
        continue;
      out[k] = c;
    }
    return out;
  }
  return v;
}

/** Facts of a saved image (docker-archive): config, history beyond the base, layer listings. */
async function facts(save: Buffer, baseLayers: number, baseHistory: number): Promise<Facts> {
  const files = new Map<string, Buffer>();
  const ex = tar.extract();
  Readable.from(save).pipe(ex);
  for await (const e of ex) {
    const chunks: Buffer[] = [];
    for await (const c of e) chunks.push(c as Buffer);
    files.set(e.header.name.replace(/^\.\//, ''), Buffer.concat(chunks));
  }
  const manifest = JSON.parse((files.get('manifest.json') ?? Buffer.from('[]')).toString()) as {
    Config: string;
    Layers: string[];
  }[];
  const m = manifest[0];
  assert.ok(m, 'manifest.json has an image');
  const cfg = JSON.parse((files.get(m.Config) ?? Buffer.from('{}')).toString()) as {
    config?: Record<string, unknown>;
    history?: { created_by?: string; empty_layer?: boolean }[];
  };
  const config = (compact(cfg.config ?? {}) ?? {}) as Record<string, unknown>;
  delete config.Image;
  delete config.Hostname;
  const history = (cfg.history ?? [])
    .slice(baseHistory)
    // COPY/ADD hashes included: berth sums sources as dockerd does.
    .map((h) => `${h.created_by ?? ''}${h.empty_layer ? ' [empty]' : ''}`);
  const layers: string[][] = [];
  for (const name of m.Layers.slice(baseLayers)) {
    const data = files.get(name);
    assert.ok(data, `layer ${name} in the archive`);
    layers.push(await listing(data));
  }
  return { config, history, layers };
}

async function listing(layer: Buffer): Promise<string[]> {
  const out: string[] = [];
  const ex = tar.extract();
  Readable.from(layer).pipe(ex);
  for await (const e of ex) {
    const h = e.header;
    const hash = createHash('sha256');
    for await (const c of e) hash.update(c as Buffer);
    const name = h.name.replace(/^\.\//, '').replace(/\/$/, '');
    const type = h.type ?? 'file';
    const content = type === 'file' ? hash.digest('hex').slice(0, 16) : '';
    const mode = ((h.mode ?? 0) & 0o7777).toString(8);
    out.push(
      `${name} ${type} ${mode} ${h.uid ?? 0}:${h.gid ?? 0} ${h.linkname ?? ''} ${content}`.trimEnd(),
    );
  }
  return out.sort();
}

async function saved(run: typeof anchor, ref: string): Promise<Buffer> {
  const host = run === anchor ? anchorHost : engine.host;
  return new Promise((resolve, reject) => {
    try {
      resolve(
        execFileSync('docker', ['save', ref], {
          env: { ...process.env, DOCKER_HOST: host },
          maxBuffer: 1 << 28,
        }),
      );
    } catch (err: unknown) {
      reject(err instanceof Error ? err : new Error(String(err)));
    }
  });
}

function saved2(ref: string): Promise<Buffer> {
  return saved(berthDocker, ref);
}

/** A copy of a corpus case in a temporary directory, with what git cannot keep made there. */
async function prepare(name: string): Promise<string> {
  const dir = path.join(tmp, name);
  await fs.cp(path.join(corpus, name), dir, { recursive: true, verbatimSymlinks: true });
  if (name === 'copy') {
    await fs.symlink('one.txt', path.join(dir, 'link-to-one')).catch(() => undefined);
    await fs.chmod(path.join(dir, 'two.txt'), 0o600);
    await fs.chmod(path.join(dir, 'dir/sub'), 0o750);
    await fs.chmod(path.join(dir, 'dir/d.txt'), 0o755);
    // A hard link: the client's tar holds it as a link entry, which dockerd sums as such.
    await fs.link(path.join(dir, 'other/o.txt'), path.join(dir, 'other/hard.txt'));
  }
  if (name === 'add') {
    execFileSync('tar', [
      '-cf',
      path.join(dir, 'archive.tar'),
      '--owner=5',
      '--group=6',
      '-C',
      path.join(dir, 'src'),
      '.',
    ]);
    execFileSync('tar', [
      '-czf',
      path.join(dir, 'archive.tar.gz'),
      '--owner=0',
      '--group=0',
      '-C',
      path.join(dir, 'src'),
      'inner',
    ]);
  }
  return dir;
}

let baseLayers = 1;
let baseHistory = 1;

before(async () => {
  const ping = await anchor(['version', '--format', '{{.Server.Version}}']);
  if (ping.code !== 0) {
    throw new Error(
      `the anchor dockerd at ${anchorHost} is unreachable (run shared/bench/anchors.sh as root; make test does): ${ping.stderr.trim()}`,
    );
  }
  engine = await startEngine({ bootstrap: false });
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-build-'));
  anchorImages.add(base);
  must(await anchor(['import', anchorTar, base]), 'anchor import');
  must(await engine.berth(['import', anchorTar, base]), 'berth import');
  const h = JSON.parse(must(await anchor(['image', 'inspect', base]), 'inspect').stdout) as {
    RootFS: { Layers: string[] };
  }[];
  baseLayers = h[0]?.RootFS.Layers.length ?? 1;
  baseHistory = 1;
});

after(async () => {
  for (const img of anchorImages) await anchor(['rmi', '-f', img]);
  // The stage of the multistage case that nothing needs is built by Docker and left dangling.
  await anchor(['image', 'prune', '-f', '--filter', 'label=berth.test=build-corpus']);
  await engine?.stop();
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

interface Case {
  name: string;
  args?: string[];
  /** A fixed tag, for a later case to build on. */
  tag?: string;
}

const cases: Case[] = [
  { name: 'metadata', args: ['--build-arg', 'VERSION=2.5'] },
  {
    name: 'run',
    args: [
      '--build-arg',
      'USERARG=given',
      '--build-arg',
      'OTHER=x',
      '--build-arg',
      'HTTP_PROXY=http://proxy.invalid',
    ],
  },
  { name: 'copy' },
  { name: 'add' },
  { name: 'multistage' },
  { name: 'multistage', args: ['--target', 'second'] },
  { name: 'workdir' },
  { name: 'dockerignore' },
  { name: 'escape' },
  { name: 'scratch' },
  { name: 'volume-run' },
  { name: 'onbuild-parent', tag: `${p}-onbuild-parent:latest` },
  { name: 'onbuild-child', args: ['--build-arg', `PARENT=${p}-onbuild-parent:latest`] },
];

describe('corpus: berth builds what the classic builder builds', () => {
  for (const c of cases) {
    const label = `${c.name}${c.args ? ` ${c.args.join(' ')}` : ''}`;
    it(label, async () => {
      const dir = await prepare(`${c.name}`);
      const tag = c.tag ?? `${p}-${c.name}:${randomBytes(2).toString('hex')}`;
      const args = ['build', '-t', tag, '--build-arg', `BASE=${base}`, ...(c.args ?? []), dir];
      anchorImages.add(tag);
      const a = must(await anchor(args), `anchor ${label}`);
      const b = must(await berthDocker(args), `berth ${label}`);
      const steps = (r: CommandResult): string[] =>
        r.stdout.split('\n').filter((l) => l.startsWith('Step '));
      // The same steps, numbered the same; stages the target does not need are not built.
      const sa = steps(a);
      let from = 0;
      for (const line of steps(b)) {
        const at = sa.indexOf(line, from);
        assert.ok(
          at >= 0,
          `berth's "${line}" is one of the anchor's steps, in order:\n${sa.join('\n')}`,
        );
        from = at + 1;
      }
      if (c.name !== 'multistage') assert.deepEqual(steps(b), sa);
      const fa = await facts(await saved(anchor, tag), baseLayers, baseHistory);
      const fb = await facts(await saved(berthDocker, tag), baseLayers, baseHistory);
      assert.deepEqual(fb.config, fa.config, 'image config');
      assert.deepEqual(fb.history, fa.history, 'history');
      assert.equal(fb.layers.length, fa.layers.length, 'layer count');
      fb.layers.forEach((l, i) => assert.deepEqual(l, fa.layers[i], `layer ${i + 1} files`));
    });
  }
});

describe('ADD of a URL (a loopback server of the test)', () => {
  it('fetched as the classic builder fetches it', async () => {
    const server = http.createServer((req, res) => {
      res.setHeader('Last-Modified', 'Tue, 14 Nov 2023 22:13:20 GMT');
      res.end(`served ${req.url ?? ''}\n`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as { port: number }).port;
      const dir = await fs.mkdtemp(path.join(tmp, 'url-'));
      await fs.writeFile(
        path.join(dir, 'Dockerfile'),
        `ARG BASE\nFROM $BASE\nADD http://127.0.0.1:${port}/hello.txt /web/\nADD http://127.0.0.1:${port}/x /named.txt\n`,
      );
      const tag = `${p}-url:1`;
      anchorImages.add(tag);
      const args = ['build', '-t', tag, '--build-arg', `BASE=${base}`, dir];
      must(await anchor(args), 'anchor');
      must(await berthDocker(args), 'berth');
      const fa = await facts(await saved(anchor, tag), baseLayers, baseHistory);
      const fb = await facts(await saved(berthDocker, tag), baseLayers, baseHistory);
      assert.deepEqual(fb.history, fa.history);
      assert.deepEqual(fb.layers, fa.layers);
    } finally {
      server.close();
    }
  });
});

const cacheDockerfile = `ARG BASE
FROM $BASE
ENV A=1
COPY a.txt /a.txt
RUN cat /a.txt > /copy.txt
COPY b.txt /b.txt
CMD ["cat", "/b.txt"]
`;

async function cacheContext(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(tmp, 'cache-'));
  await fs.writeFile(path.join(dir, 'Dockerfile'), cacheDockerfile);
  await fs.writeFile(path.join(dir, 'a.txt'), 'a\n');
  await fs.writeFile(path.join(dir, 'b.txt'), 'b\n');
  return dir;
}

function cacheHits(out: string): boolean[] {
  // One entry per step after FROM: whether it came from the cache.
  const parts = out.split(/^Step \d+\/\d+ : /m).slice(1);
  return parts.filter((s) => !/^(FROM|ARG)/.test(s)).map((s) => s.includes(' ---> Using cache'));
}

describe('cache', () => {
  it('an unchanged rebuild is all cache hits, across a daemon restart too', async () => {
    const dir = await cacheContext();
    const tag = `${p}-cache:1`;
    const first = must(
      await engine.berth(['build', '-t', tag, '--build-arg', `BASE=${base}`, dir]),
      'first',
    );
    assert.deepEqual(cacheHits(first.stdout), [false, false, false, false, false]);
    const second = must(
      await engine.berth(['build', '-t', tag, '--build-arg', `BASE=${base}`, dir]),
      'second',
    );
    assert.deepEqual(cacheHits(second.stdout), [true, true, true, true, true]);
    const id = (s: string): string => /Successfully built ([0-9a-f]{12})/.exec(s)?.[1] ?? '';
    assert.equal(id(second.stdout), id(first.stdout));
    await engine.stopDaemon();
    await engine.restart();
    const third = must(
      await engine.berth(['build', '-t', tag, '--build-arg', `BASE=${base}`, dir]),
      'third',
    );
    assert.deepEqual(cacheHits(third.stdout), [true, true, true, true, true]);
    assert.equal(id(third.stdout), id(first.stdout));
  });

  it('changing one file rebuilds from its COPY on; touching it does not', async () => {
    const dir = await cacheContext();
    must(await engine.berth(['build', '--build-arg', `BASE=${base}`, dir]), 'warm');
    const now = new Date(Date.now() + 5000);
    await fs.utimes(path.join(dir, 'b.txt'), now, now);
    const touched = must(
      await engine.berth(['build', '--build-arg', `BASE=${base}`, dir]),
      'touched',
    );
    assert.deepEqual(cacheHits(touched.stdout), [true, true, true, true, true]);
    await fs.writeFile(path.join(dir, 'a.txt'), 'changed\n');
    const r = must(await engine.berth(['build', '--build-arg', `BASE=${base}`, dir]), 'changed');
    assert.deepEqual(cacheHits(r.stdout), [true, false, false, false, false]);
    const out = must(
      await engine.berth([
        'run',
        '--rm',
        /Successfully built ([0-9a-f]{12})/.exec(r.stdout)?.[1] ?? '',
        'cat',
        '/copy.txt',
      ]),
      'run',
    );
    assert.equal(out.stdout, 'changed\n');
  });

  it('--no-cache reuses nothing; a build arg change reruns RUN', async () => {
    const dir = await cacheContext();
    must(await engine.berth(['build', '--build-arg', `BASE=${base}`, dir]), 'warm');
    const r = must(
      await engine.berth(['build', '--no-cache', '--build-arg', `BASE=${base}`, dir]),
      'no-cache',
    );
    assert.deepEqual(cacheHits(r.stdout), [false, false, false, false, false]);
    await fs.writeFile(
      path.join(dir, 'Dockerfile'),
      `ARG BASE\nFROM $BASE\nARG X=1\nRUN echo $X > /x\n`,
    );
    must(await engine.berth(['build', '--build-arg', `BASE=${base}`, dir]), 'x default');
    const x2 = must(
      await engine.berth(['build', '--build-arg', `BASE=${base}`, '--build-arg', 'X=2', dir]),
      'x=2',
    );
    assert.deepEqual(cacheHits(x2.stdout), [false]);
    const x2again = must(
      await engine.berth(['build', '--build-arg', `BASE=${base}`, '--build-arg', 'X=2', dir]),
      'x=2 again',
    );
    assert.deepEqual(cacheHits(x2again.stdout), [true]);
  });

  it('--cache-from: a loaded image is the cache source; without it nothing is (as dockerd)', async () => {
    const dir = await cacheContext();
    // Steps of their own from the first on: no other test's step image is a cache for them.
    const unique = randomBytes(4).toString('hex');
    await fs.writeFile(
      path.join(dir, 'Dockerfile'),
      cacheDockerfile.replace('ENV A=1', `ENV A=${unique}`),
    );
    const tag = `${p}-cachefrom:1`;
    const id = (s: string): string => /Successfully built ([0-9a-f]{12})/.exec(s)?.[1] ?? '';
    const flow = async (
      run: typeof anchor,
      dropCache: () => Promise<void>,
    ): Promise<{ hits: boolean[][]; sameImage: boolean }> => {
      const build = async (extra: string[], what: string): Promise<CommandResult> => {
        const r = must(await run(['build', ...extra, '--build-arg', `BASE=${base}`, dir]), what);
        if (run === anchor) anchorImages.add(id(r.stdout));
        return r;
      };
      const built = await build(['-t', tag], 'build');
      const archive = path.join(tmp, `cachefrom-${run === anchor ? 'anchor' : 'berth'}.tar`);
      must(await run(['save', '-o', archive, tag]), 'save');
      // The image comes back by load alone: no step image of the build is left.
      must(await run(['rmi', tag]), 'rmi');
      await dropCache();
      must(await run(['load', '-i', archive]), 'load');
      const plain = await build([], 'without --cache-from');
      // The step images that build left are no ancestors of the --cache-from image: they are
      // not used; the loaded image's history is.
      const from = await build(['--cache-from', tag], 'with --cache-from');
      const absent = await build(['--cache-from', `${p}-no-such-image:1`], 'an absent one');
      return {
        hits: [plain, from, absent].map((r) => cacheHits(r.stdout)),
        sameImage: id(from.stdout) === id(built.stdout),
      };
    };
    anchorImages.add(tag);
    const a = await flow(anchor, async () => undefined);
    const b = await flow(berthDocker, async () => {
      must(await engine.berth(['builder', 'prune', '-a', '-f']), 'prune');
    });
    const none = [false, false, false, false, false];
    assert.deepEqual(a.hits, [none, none.map(() => true), none], 'the anchor');
    assert.deepEqual(b.hits, a.hits);
    assert.ok(a.sameImage && b.sameImage, 'with --cache-from the result is the loaded image');
  });

  it('builder prune removes the cache no tagged image stands on', async () => {
    const dir = await cacheContext();
    await fs.writeFile(path.join(dir, 'a.txt'), `prune-${randomBytes(4).toString('hex')}\n`);
    const tag = `${p}-prune:1`;
    must(await engine.berth(['build', '-t', tag, '--build-arg', `BASE=${base}`, dir]), 'build');
    must(await engine.berth(['rmi', tag]), 'rmi');
    const pr = must(await engine.berth(['builder', 'prune', '-f']), 'prune');
    assert.match(pr.stdout, /Deleted build cache objects:/);
    const again = must(
      await engine.berth(['build', '--build-arg', `BASE=${base}`, dir]),
      'rebuild',
    );
    assert.equal(
      cacheHits(again.stdout)[1],
      false,
      'the COPY of the pruned build is not cached any more',
    );
  });
});

describe('stages in parallel', () => {
  const context = async (dockerfile: string): Promise<string> => {
    const dir = await fs.mkdtemp(path.join(tmp, 'par-'));
    await fs.writeFile(path.join(dir, 'Dockerfile'), dockerfile);
    return dir;
  };
  // Waits for a file in the shared cache mount, giving up (exit 9) after many tries: a build
  // that ran the stages one after the other fails there instead of hanging.
  const awaitFile = (f: string): string =>
    `i=0; until [ -e /r/${f} ]; do sleep 0.1; i=$((i+1)); if [ $i -gt 1500 ]; then exit 9; fi; done`;

  it('independent stages run at once: each waits for a file the other writes', async () => {
    const id = `${p}-rdv-${randomBytes(3).toString('hex')}`;
    const mount = `--mount=type=cache,target=/r,id=${id}`;
    const dir = await context(
      [
        `FROM ${base} AS a`,
        `RUN ${mount} touch /r/a && ${awaitFile('b')} && echo a > /a`,
        `FROM ${base} AS b`,
        `RUN ${mount} touch /r/b && ${awaitFile('a')} && echo b > /b`,
        `FROM ${base}`,
        'COPY --from=a /a /a',
        'COPY --from=b /b /b',
        '',
      ].join('\n'),
    );
    const tag = `${p}-par:1`;
    const r = must(await berthDocker(['build', '-t', tag, dir]), 'build');
    // The classic builder's output, whole per stage and in stage order.
    const steps = r.stdout.split('\n').filter((l) => l.startsWith('Step '));
    assert.deepEqual(
      steps.map((l) => /^Step (\d+)\/7 : /.exec(l)?.[1]),
      ['1', '2', '3', '4', '5', '6', '7'],
      r.stdout,
    );
    const stageA = r.stdout.slice(r.stdout.indexOf('Step 1/7'), r.stdout.indexOf('Step 3/7'));
    assert.match(stageA, /Running in [0-9a-f]{12}\n[^]*Removing intermediate container/);
    const out = must(await engine.berth(['run', '--rm', tag, 'cat', '/a', '/b']), 'run');
    assert.equal(out.stdout, 'a\nb\n');
  });

  it('the first failing stage cancels the others; the error names its step and line', async () => {
    const id = `${p}-fail-${randomBytes(3).toString('hex')}`;
    const mount = `--mount=type=cache,target=/r,id=${id}`;
    const dir = await context(
      [
        `FROM ${base} AS slow`,
        // Runs until it is killed: the build only ends when the failure cancels it.
        `RUN ${mount} touch /r/started && while true; do sleep 0.1; done`,
        `FROM ${base} AS bad`,
        `RUN ${mount} ${awaitFile('started')}; exit 3`,
        `FROM ${base}`,
        'COPY --from=slow /etc/hostname /x',
        'COPY --from=bad /etc/hostname /y',
        '',
      ].join('\n'),
    );
    const r = await engine.berth(['build', '-t', `${p}-parfail:1`, dir]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(
      r.stderr,
      /Step 4\/7 : RUN .*exit 3 \(line 4\): The command '\/bin\/sh -c .*exit 3' returned a non-zero code: 3/,
    );
    assert.match(r.stdout, /Step 2\/7 : RUN [^]*Step 4\/7 : RUN /, 'both stages shown, in order');
    const ps = must(await engine.berth(['ps', '-aq']), 'ps');
    assert.equal(ps.stdout.trim(), '', 'no build container left behind');
    const img = await engine.berth(['image', 'inspect', `${p}-parfail:1`]);
    assert.notEqual(img.code, 0, 'nothing tagged');
  });
});

describe('bad input', () => {
  const build = async (
    dockerfile: string,
    extra: string[] = [],
    files: Record<string, string> = {},
  ): Promise<CommandResult> => {
    const dir = await fs.mkdtemp(path.join(tmp, 'bad-'));
    await fs.writeFile(path.join(dir, 'Dockerfile'), dockerfile);
    for (const [k, v] of Object.entries(files)) await fs.writeFile(path.join(dir, k), v);
    return engine.berth([
      'build',
      '-t',
      `${p}-bad:x`,
      '--build-arg',
      `BASE=${base}`,
      ...extra,
      dir,
    ]);
  };
  const notTagged = async (): Promise<void> => {
    const r = await engine.berth(['image', 'inspect', `${p}-bad:x`]);
    assert.notEqual(r.code, 0, 'no image tagged');
  };

  it('a syntax error names the line', async () => {
    const r = await build('ARG BASE\nFROM $BASE\nRUN true\nFOO bar\n');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /dockerfile parse error line 4: unknown instruction: FOO/);
    await notTagged();
  });
  it('a bad flag and a bad ENV name their lines', async () => {
    const r = await build('ARG BASE\nFROM $BASE\nCOPY --bogus=1 a b\n');
    assert.match(r.stderr, /line 3: unknown flag: bogus/);
    const e = await build('ARG BASE\nFROM $BASE\n\nENV a=b c\n');
    assert.match(e.stderr, /line 4: .*can't find = in "c"/);
  });
  it('a COPY source outside the context is refused', async () => {
    const r = await build('ARG BASE\nFROM $BASE\nCOPY ../../etc/passwd /x\n');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Forbidden path outside the build context: \.\.\/\.\.\/etc\/passwd/);
    await notTagged();
  });
  it('a missing source, a missing stage, a missing target', async () => {
    const r = await build('ARG BASE\nFROM $BASE\nCOPY nope /x\n');
    assert.match(
      r.stderr,
      /COPY failed: file not found in build context or excluded by \.dockerignore: stat nope: file does not exist/,
    );
    const s = await build('ARG BASE\nFROM $BASE\nCOPY --from=nosuchstage /a /b\n');
    assert.equal(s.code, 1);
    assert.match(s.stderr, /nosuchstage/);
    const t = await build('ARG BASE\nFROM $BASE\n', ['--target', 'nope']);
    assert.match(t.stderr, /failed to reach build target nope in Dockerfile/);
    await notTagged();
  });
  it('a failed RUN says the command and its exit code, and tags nothing', async () => {
    const r = await build('ARG BASE\nFROM $BASE\nRUN echo before\nRUN exit 7\n');
    assert.equal(r.code, 7);
    assert.match(r.stderr, /The command '\/bin\/sh -c exit 7' returned a non-zero code: 7/);
    assert.match(r.stdout, /Step 4\/4 : RUN exit 7/);
    await notTagged();
    const ps = must(await engine.berth(['ps', '-aq']), 'ps');
    assert.equal(ps.stdout.trim(), '', 'no build container left behind');
  });
  it('a context tar with an escaping path is refused', async () => {
    const pack = tar.pack();
    pack.entry({ name: 'Dockerfile' }, `FROM ${base}\n`);
    pack.entry({ name: '../escape.txt' }, 'x');
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack) chunks.push(c as Buffer);
    const r = await runCommand(
      'docker',
      ['build', '-'],
      { DOCKER_HOST: engine.host, DOCKER_BUILDKIT: '0' },
      { input: Buffer.concat(chunks).toString('latin1') },
    );
    assert.notEqual(r.code, 0);
  });
});

describe('berth build', () => {
  it('a Dockerfile on stdin, -q, --iidfile, several tags, labels', async () => {
    const iid = path.join(tmp, 'iid');
    const r = must(
      await engine.berth(
        [
          'build',
          '-q',
          '--iidfile',
          iid,
          '-t',
          `${p}-stdin:a`,
          '-t',
          `${p}-stdin:b`,
          '--label',
          'x=y',
          '-',
        ],
        { input: `FROM ${base}\nENV S=1\n` },
      ),
      'build -',
    );
    const id = (await fs.readFile(iid, 'utf8')).trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    assert.equal(r.stdout.trim(), id);
    const inspect = JSON.parse(
      must(await engine.berth(['image', 'inspect', `${p}-stdin:b`]), 'inspect').stdout,
    ) as { Id: string; Config: { Labels: Record<string, string>; Env: string[] } }[];
    assert.equal(inspect[0]?.Id, id);
    assert.deepEqual(inspect[0]?.Config.Labels, { x: 'y' });
    assert.ok(inspect[0]?.Config.Env.includes('S=1'));
  });
  it('-f - with a context directory; heredocs', async () => {
    const dir = await fs.mkdtemp(path.join(tmp, 'heredoc-'));
    await fs.writeFile(path.join(dir, 'ctx.txt'), 'from context\n');
    const df = `FROM ${base}\nARG WHO=world\nCOPY ctx.txt /\nRUN <<EOF\necho "hello $WHO" > /greeting\nEOF\nCOPY <<-one <<"two" /docs/\n\tfirst $WHO\n\tone\nsecond $WHO\ntwo\n`;
    const r = must(
      await engine.berth(['build', '-f', '-', '-t', `${p}-heredoc:1`, dir], { input: df }),
      'build',
    );
    assert.match(r.stdout, /Successfully tagged/);
    const out = must(
      await engine.berth([
        'run',
        '--rm',
        `${p}-heredoc:1`,
        'cat',
        '/ctx.txt',
        '/greeting',
        '/docs/one',
        '/docs/two',
      ]),
      'run',
    );
    assert.equal(out.stdout, 'from context\nhello world\nfirst world\nsecond $WHO\n');
  });
  it('RUN --mount: a cache kept between builds, tmpfs and bind mounts left out of the layer', async () => {
    const dir = await fs.mkdtemp(path.join(tmp, 'mounts-'));
    await fs.mkdir(path.join(dir, 'src'));
    await fs.writeFile(path.join(dir, 'src/b.txt'), 'bound\n');
    await fs.writeFile(
      path.join(dir, 'Dockerfile'),
      [
        `FROM ${base}`,
        `RUN --mount=type=cache,target=/cache,id=${p} echo run >> /cache/log && wc -l < /cache/log > /count`,
        'RUN --mount=type=tmpfs,target=/scratchpad echo hi > /scratchpad/x && ls /scratchpad > /tmpfs-list',
        'RUN --mount=type=bind,source=src,target=/mnt cat /mnt/b.txt > /bound.txt',
        'RUN --mount=type=bind,source=src,target=/mnt,rw echo w > /mnt/new && ls /mnt > /rwlist',
        '',
      ].join('\n'),
    );
    const tag = `${p}-mounts:1`;
    must(await engine.berth(['build', '-t', tag, dir]), 'first');
    must(await engine.berth(['build', '--no-cache', '-t', tag, dir]), 'second');
    const out = must(
      await engine.berth([
        'run',
        '--rm',
        tag,
        'sh',
        '-c',
        'cat /count /tmpfs-list /bound.txt /rwlist; ls -d /cache /scratchpad /mnt 2>&1 | wc -l',
      ]),
      'run',
    );
    assert.equal(out.stdout.replace(/ +/g, ''), '2\nx\nbound\nb.txt\nnew\n3\n');
    assert.deepEqual(
      await fs.readdir(path.join(dir, 'src')),
      ['b.txt'],
      'the context is untouched',
    );
    const saved = await facts(await saved2(tag), baseLayers, baseHistory);
    const files = saved.layers.flat().map((l) => l.split(' ')[0]);
    for (const gone of ['cache', 'scratchpad', 'mnt']) assert.ok(!files.includes(gone), gone);
    const changed = await fs.readFile(path.join(dir, 'src/b.txt'), 'utf8');
    assert.equal(changed, 'bound\n');
    await fs.writeFile(path.join(dir, 'src/b.txt'), 'changed\n');
    const again = must(
      await engine.berth(['build', '-t', tag, dir]),
      'after the bound file changed',
    );
    assert.deepEqual(
      cacheHits(again.stdout),
      [true, true, false, false],
      'a bind source is part of the key',
    );
  });

  it('SOURCE_DATE_EPOCH gives the same image for the same inputs', async () => {
    const dir = await fs.mkdtemp(path.join(tmp, 'epoch-'));
    await fs.writeFile(path.join(dir, 'f.txt'), 'same\n');
    await fs.writeFile(
      path.join(dir, 'Dockerfile'),
      `FROM ${base}\nENV E=1\nCOPY f.txt /dst/\nRUN echo made > /made && mkdir -p /d/e\nWORKDIR /w\n`,
    );
    const args = ['build', '-q', '--no-cache', '--build-arg', 'SOURCE_DATE_EPOCH=1700000000', dir];
    const a = must(await engine.berth(args), 'first').stdout.trim();
    await new Promise((r) => setTimeout(r, 1100));
    const b = must(await engine.berth(args), 'second').stdout.trim();
    assert.match(a, /^sha256:/);
    assert.equal(b, a);
    const created = must(
      await engine.berth(['image', 'inspect', '--format', '{{.Created}}', a]),
      'inspect',
    );
    assert.match(created.stdout, /^2023-11-14T22:13:20/);
    const plain = must(
      await engine.berth(['build', '-q', '--no-cache', dir]),
      'no epoch',
    ).stdout.trim();
    assert.notEqual(plain, a);
  });

  it('history shows the builder steps as docker does', async () => {
    const r = must(
      await engine.berth(['history', '--no-trunc', '--format', '{{.CreatedBy}}', `${p}-stdin:a`]),
      'history',
    );
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines[0], '/bin/sh -c #(nop)  LABEL x=y');
    assert.equal(lines[1], '/bin/sh -c #(nop)  ENV S=1');
  });
});
