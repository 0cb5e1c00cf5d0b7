import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import tar from 'tar-stream';
import { berthBin, runCommand, startEngine, type CommandResult, type Engine } from './harness.js';

// Build secrets end to end: `berth build --secret` → POST /berth/build/secrets → the RUN's
// tmpfs. Each secret value is random and looked for afterwards everywhere it must not be:
// every layer of the saved image, its config and history, the daemon's data and exec roots,
// and its log. The classic builder the anchor dockerd has cannot do secrets (BuildKit's
// --secret needs buildx, which these machines do not have), so the behaviour checked is
// BuildKit's as its source and docs give it.

const p = `berth-it-s${randomBytes(3).toString('hex')}`;
let engine: Engine;
let tmp: string;

function must(r: CommandResult, what: string): CommandResult {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

/** The berth CLI with extra environment (for env-sourced secrets). */
function berth(args: string[], env: Record<string, string> = {}): Promise<CommandResult> {
  return runCommand(process.execPath, [berthBin, ...args], { DOCKER_HOST: engine.host, ...env });
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

function cacheHits(out: string): boolean[] {
  const parts = out.split(/^Step \d+\/\d+ : /m).slice(1);
  return parts.filter((s) => !/^(FROM|ARG)/.test(s)).map((s) => s.includes(' ---> Using cache'));
}

async function context(dockerfile: string[]): Promise<string> {
  const dir = await fs.mkdtemp(path.join(tmp, 'ctx-'));
  await fs.writeFile(path.join(dir, 'Dockerfile'), [...dockerfile, ''].join('\n'));
  return dir;
}

async function secretFile(value: string): Promise<string> {
  const f = path.join(tmp, `secret-${randomBytes(4).toString('hex')}`);
  await fs.writeFile(f, value, { mode: 0o600 });
  return f;
}

interface Saved {
  /** Every file of the archive (layers unpacked from gzip when they are). */
  blobs: Buffer[];
  /** Path names in each layer. */
  layers: string[][];
  config: string;
}

async function entries(data: Buffer): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const ex = tar.extract();
  Readable.from(data).pipe(ex);
  for await (const e of ex) {
    const chunks: Buffer[] = [];
    for await (const c of e) chunks.push(c as Buffer);
    out.set(e.header.name.replace(/^\.\//, '').replace(/\/$/, ''), Buffer.concat(chunks));
  }
  return out;
}

async function save(ref: string): Promise<Saved> {
  const archive = execFileSync('docker', ['save', ref], {
    env: { ...process.env, DOCKER_HOST: engine.host },
    maxBuffer: 1 << 28,
  });
  const files = await entries(archive);
  const manifest = JSON.parse(files.get('manifest.json')?.toString() ?? '[]') as {
    Config: string;
    Layers: string[];
  }[];
  const m = manifest[0];
  assert.ok(m, 'an image in the archive');
  const blobs: Buffer[] = [];
  const layers: string[][] = [];
  for (const l of m.Layers) {
    let data = files.get(l);
    assert.ok(data, `layer ${l}`);
    if (data[0] === 0x1f && data[1] === 0x8b) data = gunzipSync(data);
    const inner = await entries(data);
    layers.push([...inner.keys()]);
    blobs.push(data, ...inner.values());
  }
  for (const b of files.values()) blobs.push(b);
  return { blobs, layers, config: files.get(m.Config)?.toString() ?? '' };
}

/** Files under `root` whose bytes contain `needle` (the secret must be in none). */
async function filesHolding(root: string, needle: Buffer): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch {
      return;
    }
    for (const n of names) {
      const f = path.join(dir, n);
      const st = await fs.lstat(f).catch(() => undefined);
      if (!st) continue;
      if (st.isDirectory()) await walk(f);
      else if (st.isFile() && st.size < 64 << 20) {
        const data = await fs.readFile(f).catch(() => Buffer.alloc(0));
        if (data.includes(needle)) found.push(f);
      }
    }
  };
  await walk(root);
  return found;
}

const tmpfsMagic = 0x01021994;

/**
 * Until `done` settles: the filesystem types of the directories of the exec root's
 * config.json files that hold `needle` (the RUN tasks' specs).
 */
async function bundlesHolding(needle: Buffer, done: Promise<unknown>): Promise<number[]> {
  let finished = false;
  void done.finally(() => (finished = true));
  const types: number[] = [];
  while (!finished) {
    const specs: string[] = [];
    const walk = async (dir: string, depth: number): Promise<void> => {
      for (const n of await fs.readdir(dir).catch(() => [] as string[])) {
        const f = path.join(dir, n);
        if (n === 'config.json') specs.push(f);
        else if (depth < 4 && n !== 'rootfs') {
          const st = await fs.lstat(f).catch(() => undefined);
          if (st?.isDirectory()) await walk(f, depth + 1);
        }
      }
    };
    await walk(engine.execRoot, 0);
    for (const f of specs) {
      const data = await fs.readFile(f).catch(() => Buffer.alloc(0));
      if (data.includes(needle)) types.push(Number((await fs.statfs(path.dirname(f))).type));
    }
    if (types.length > 0) {
      assert.deepEqual(await argvHolding(needle), [], 'no process has the secret in its argv');
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return types;
}

/** Processes whose command line (what `ps` shows) contains `needle`. */
async function argvHolding(needle: Buffer): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const argv = await fs.readFile(`/proc/${pid}/cmdline`).catch(() => Buffer.alloc(0));
    if (argv.includes(needle)) found.push(pid);
  }
  return found;
}

/** Asserts that `value` is nowhere it must not be: image, history, inspect, disk, log. */
async function assertNowhere(tag: string, value: string, control: string): Promise<void> {
  const needle = Buffer.from(value);
  const saved = await save(tag);
  assert.ok(!saved.blobs.some((b) => b.includes(needle)), 'the secret is in no layer or blob');
  assert.ok(!saved.config.includes(value), 'nor in the image config');
  const inspect = must(await engine.berth(['image', 'inspect', tag]), 'inspect').stdout;
  assert.ok(!inspect.includes(value), 'nor in inspect');
  const history = must(await engine.berth(['history', '--no-trunc', tag]), 'history').stdout;
  assert.ok(!history.includes(value), 'nor in history');
  assert.deepEqual(await filesHolding(engine.dataRoot, needle), [], 'nor on the data root');
  // The scan does reach the layers: `control`, which a RUN wrote, is found.
  assert.ok((await filesHolding(engine.dataRoot, Buffer.from(control))).length > 0, 'control');
  assert.deepEqual(await filesHolding(engine.execRoot, needle), [], 'nor on the exec root');
  assert.ok(!engine.logs().includes(value), 'nor in the daemon log');
}

before(async () => {
  engine = await startEngine({});
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-secrets-'));
});

after(async () => {
  await engine?.stop();
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

describe('build secrets', () => {
  it('a RUN reads the file secret; it is in no layer, history, config or disk', async () => {
    const value = `file-secret-${randomBytes(12).toString('hex')}`;
    const src = await secretFile(value);
    const dir = await context([
      'FROM busybox',
      'RUN --mount=type=secret,id=tok sha256sum /run/secrets/tok | cut -d" " -f1 > /out && stat -c "%a %u %g" /run/secrets/tok > /meta',
      'RUN --mount=type=secret,id=tok,target=/opt/deep/tok.txt,mode=0440,uid=7,gid=8 stat -c "%a %u %g" /opt/deep/tok.txt > /meta2 && ! test -e /run/secrets/tok',
      'RUN --mount=type=secret,id=absent ! test -e /run/secrets/absent && echo skipped > /absent',
      'RUN --mount=type=secret,source=tok,dst=/etc/tok.conf cat /etc/tok.conf | wc -c | tr -d " " > /len',
    ]);
    const tag = `${p}-file:1`;
    must(await berth(['build', '--secret', `id=tok,src=${src}`, '-t', tag, dir]), 'build');
    const out = must(
      await berth([
        'run',
        '--rm',
        tag,
        'sh',
        '-c',
        'cat /out /meta /meta2 /absent /len; ls -d /run/secrets /opt/deep /etc/tok.conf 2>/dev/null | wc -l',
      ]),
      'run',
    ).stdout;
    assert.equal(
      out.replace(/ +\n/g, '\n'),
      `${sha256(value)}\n400 0 0\n440 7 8\nskipped\n${value.length}\n0\n`,
    );
    const baseLayers = (await save('busybox')).layers.length;
    const saved = await save(tag);
    assert.equal(saved.layers.length, baseLayers + 4);
    for (const names of saved.layers.slice(baseLayers)) {
      for (const gone of [
        'run',
        'run/secrets',
        'run/secrets/tok',
        'opt',
        'opt/deep',
        'etc/tok.conf',
      ])
        assert.ok(!names.includes(gone), `${gone} is in no layer: ${names.join(' ')}`);
    }
    await assertNowhere(tag, value, sha256(value));
  });

  it("a new value of the secret is a cache hit (the key has the mount's shape only)", async () => {
    const dir = await context([
      'FROM busybox',
      'RUN --mount=type=secret,id=k cat /run/secrets/k | sha256sum > /h',
    ]);
    const tag = `${p}-cache:1`;
    const first = `first-${randomBytes(8).toString('hex')}`;
    must(
      await berth(['build', '--secret', `id=k,src=${await secretFile(first)}`, '-t', tag, dir]),
      'first',
    );
    const id1 = must(await engine.berth(['image', 'inspect', '-f', '{{.Id}}', tag]), 'id').stdout;
    const second = `second-${randomBytes(8).toString('hex')}`;
    const again = must(
      await berth(['build', '--secret', `id=k,src=${await secretFile(second)}`, '-t', tag, dir]),
      'second',
    );
    assert.deepEqual(cacheHits(again.stdout), [true]);
    const id2 = must(await engine.berth(['image', 'inspect', '-f', '{{.Id}}', tag]), 'id').stdout;
    assert.equal(id2, id1);
    // Also with no secret at all: the step is cached, so it is not looked for (as BuildKit).
    const none = must(await berth(['build', '-t', tag, dir]), 'without the secret');
    assert.deepEqual(cacheHits(none.stdout), [true]);
    await assertNowhere(tag, second, sha256(first));
  });

  it('env= exposes it to that RUN only; env-sourced secrets from the CLI', async () => {
    const a = `env-a-${randomBytes(10).toString('hex')}`;
    const b = `env-b-${randomBytes(10).toString('hex')}`;
    const c = `env-c-${randomBytes(10).toString('hex')}`;
    const dir = await context([
      'FROM busybox',
      'RUN --mount=type=secret,id=a,env=TOKEN printf %s "$TOKEN" | sha256sum | cut -d" " -f1 > /a && ! test -e /run/secrets/a && sleep 2',
      'RUN --mount=type=secret,id=BERTH_IT_B,env=B,target=/bsecret printf %s "$B" | sha256sum | cut -d" " -f1 > /b && wc -c < /bsecret | tr -d " " > /bfile',
      'RUN --mount=type=secret,id=c,env=C printf %s "$C" | sha256sum | cut -d" " -f1 > /c',
      'RUN echo "${TOKEN:-unset} ${B:-unset} ${C:-unset}" > /after',
      'WORKDIR /w',
      'ARG SID=a',
      'RUN --mount=type=secret,id=$SID,target=rel/${SID}.f wc -c < /w/rel/a.f | tr -d " " > /rel',
    ]);
    const tag = `${p}-env:1`;
    const building = berth(
      [
        'build',
        '--secret',
        'id=a,env=BERTH_IT_A',
        '--secret',
        'id=BERTH_IT_B',
        '--secret',
        'type=env,id=c,src=BERTH_IT_C',
        '-t',
        tag,
        dir,
      ],
      { BERTH_IT_A: a, BERTH_IT_B: b, BERTH_IT_C: c },
    );
    // While the first RUN sleeps, its spec (which holds the env secret) is on a tmpfs.
    const seen = await bundlesHolding(Buffer.from(a), building);
    must(await building, 'build');
    assert.ok(seen.length > 0, 'the RUN task was seen');
    for (const type of seen) assert.equal(type, tmpfsMagic, 'config.json is on a tmpfs');
    const out = must(
      await berth([
        'run',
        '--rm',
        tag,
        'sh',
        '-c',
        'cat /a /b /c /after /bfile /rel; for f in /bsecret /w/rel; do test -e $f && echo present || echo absent; done',
      ]),
      'run',
    ).stdout;
    assert.equal(
      out.replace(/ +/g, ' '),
      `${sha256(a)}\n${sha256(b)}\n${sha256(c)}\nunset unset unset\n${b.length}\n${a.length}\nabsent\nabsent\n`,
    );
    const env = must(
      await engine.berth(['image', 'inspect', '-f', '{{json .Config.Env}}', tag]),
      'env',
    ).stdout;
    for (const name of ['TOKEN', 'B=', 'C=']) assert.ok(!env.includes(name), `${name} in ${env}`);
    for (const v of [a, b, c]) await assertNowhere(tag, v, sha256(v));
  });

  it('a missing required secret fails the step, naming it, and tags nothing', async () => {
    const dir = await context([
      'FROM busybox',
      'RUN --mount=type=secret,id=needed,required=true cat /run/secrets/needed',
    ]);
    const tag = `${p}-required:1`;
    const r = await berth(['build', '-t', tag, dir]);
    assert.notEqual(r.code, 0);
    assert.equal(r.stderr.trim(), 'secret needed: not found');
    const other = await berth([
      'build',
      '--secret',
      `id=other,src=${await secretFile('x')}`,
      '-t',
      tag,
      dir,
    ]);
    assert.notEqual(other.code, 0);
    assert.equal(other.stderr.trim(), 'secret needed: not found');
    assert.notEqual((await engine.berth(['image', 'inspect', tag])).code, 0, 'nothing tagged');
  });

  it('a bad --secret is one line of error and builds nothing', async () => {
    const dir = await context(['FROM busybox', 'RUN touch /built']);
    const tag = `${p}-badflag:1`;
    const cases: [string, RegExp][] = [
      [
        'foo=bar',
        /^invalid argument "foo=bar" for "--secret" flag: unexpected key 'foo' in 'foo=bar'$/,
      ],
      ['id=x,type=dir', /unsupported secret type "dir"$/],
      ['src=/etc/hostname', /secret missing ID$/],
      [
        `id=x,src=${path.join(tmp, 'no-such-file')}`,
        /^failed to stat .*no-such-file: stat .*: no such file or directory$/,
      ],
    ];
    for (const [flag, re] of cases) {
      const r = await berth(['build', '--secret', flag, '-t', tag, dir]);
      assert.equal(r.code, 1, flag);
      assert.equal(r.stdout, '', `nothing sent for ${flag}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr.trim(), re);
    }
    assert.notEqual((await engine.berth(['image', 'inspect', tag])).code, 0, 'nothing tagged');
  });

  it('a crash mid-RUN: no secret left mounted or on disk once berthd is back', async () => {
    const value = `crash-${randomBytes(12).toString('hex')}`;
    const dir = await context([
      'FROM busybox',
      'RUN --mount=type=secret,id=s --mount=type=secret,id=s,env=S,target=/x sleep 60',
    ]);
    const building = berth([
      'build',
      '--secret',
      `id=s,src=${await secretFile(value)}`,
      '-t',
      `${p}-crash:1`,
      dir,
    ]);
    /** Mount points under the engine's roots, with their filesystem types. */
    const mountsOf = async (): Promise<{ at: string; type: string }[]> =>
      (await fs.readFile('/proc/self/mountinfo', 'utf8'))
        .split('\n')
        .map((l) => ({ at: l.split(' ')[4] ?? '', type: l.split(' - ')[1]?.split(' ')[0] ?? '' }))
        .filter(
          (m) => m.at.startsWith(`${engine.dataRoot}/`) || m.at.startsWith(`${engine.execRoot}/`),
        );
    const mounted = async (): Promise<string[]> => (await mountsOf()).map((m) => m.at);
    const secretMounts = async (): Promise<string[]> =>
      (await mounted()).filter((m) => m.includes('/secrets-'));
    const taskBundles = async (): Promise<string[]> =>
      (await mountsOf())
        .filter((m) => m.at.startsWith(engine.execRoot) && m.type === 'tmpfs')
        .map((m) => m.at);
    // The secret tmpfs comes first, the RUN's task (its bundle a tmpfs) after it: wait for both.
    for (
      let i = 0;
      i < 200 && ((await secretMounts()).length === 0 || (await taskBundles()).length === 0);
      i++
    ) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal((await secretMounts()).length, 1, 'the RUN has its secret tmpfs');
    const tasks = await taskBundles();
    assert.ok(tasks.length > 0, 'the RUN task has a tmpfs bundle');
    await engine.crash();
    assert.notEqual((await building).code, 0);
    await engine.restart();
    assert.deepEqual(await secretMounts(), [], 'the secret tmpfs is gone');
    // The RUN's task lives on (containers outlive berthd); removing it drops its tmpfs bundle.
    const ids = must(await engine.berth(['ps', '-aq']), 'ps')
      .stdout.split('\n')
      .filter(Boolean);
    assert.ok(ids.length > 0);
    must(await engine.berth(['rm', '-f', ...ids]), 'rm');
    const still = await mounted();
    for (const t of tasks) assert.ok(!still.includes(t), `${t} unmounted`);
    assert.deepEqual(await filesHolding(engine.dataRoot, Buffer.from(value)), []);
    assert.deepEqual(await filesHolding(engine.execRoot, Buffer.from(value)), []);
  });

  it('against dockerd, --secret says it needs berthd and sends no build', async () => {
    const anchor = process.env.ANCHOR_DOCKER_HOST ?? 'unix:///run/berth-anchors/docker.sock';
    const dir = await context(['FROM busybox', 'RUN --mount=type=secret,id=s true']);
    const tag = `${p}-dockerd:1`;
    const r = await runCommand(
      process.execPath,
      [berthBin, 'build', '--secret', `id=s,src=${await secretFile('v')}`, '-t', tag, dir],
      { DOCKER_HOST: anchor, BERTH_HOST: anchor },
    );
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, '', 'no context was sent');
    assert.equal(
      r.stderr.trim(),
      'berth build: --secret needs berthd (this engine has no /berth/build/secrets)',
    );
    const inspect = await runCommand('docker', ['image', 'inspect', tag], { DOCKER_HOST: anchor });
    assert.notEqual(inspect.code, 0, 'nothing tagged on dockerd');
  });

  it('the staging API: one-use handles, bad bodies refused', async () => {
    const staged = await engine.api('POST', '/berth/build/secrets', {
      Secrets: [{ ID: 'x', Data: Buffer.from('v').toString('base64') }],
    });
    assert.equal(staged.status, 201, staged.text);
    const id = (staged.body as { ID: string }).ID;
    assert.match(id, /^[0-9a-f]{64}$/);
    const bad = await engine.api('POST', '/build?berthsecrets=nope');
    assert.equal(bad.status, 404, bad.text);
    for (const body of [
      {},
      { Secrets: [{ ID: 1, Data: 'x' }] },
      { Secrets: [{ ID: 'a', Data: '!!' }] },
    ]) {
      const r = await engine.api('POST', '/berth/build/secrets', body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    }
    const big = await engine.api('POST', '/berth/build/secrets', {
      Secrets: [{ ID: 'big', Data: Buffer.alloc(500 * 1024 + 1).toString('base64') }],
    });
    assert.equal(big.status, 400);
    assert.match(big.text, /secret big too big/);
    // A claimed handle is spent: the first /build takes it (and fails on its empty body), the
    // second finds nothing.
    const first = await engine.api('POST', `/build?berthsecrets=${id}`);
    assert.notEqual(first.status, 404, first.text);
    const second = await engine.api('POST', `/build?berthsecrets=${id}`);
    assert.equal(second.status, 404, second.text);
  });
});
