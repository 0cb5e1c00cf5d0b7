import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { runCli } from '../cli/main.js';
import { newProgress } from './progress.js';

function sink(isTTY = false): Writable & { text: string; isTTY: boolean } {
  const w = new Writable({
    write(chunk: Buffer, _enc, cb): void {
      w.text += chunk.toString();
      cb();
    },
  }) as Writable & { text: string; isTTY: boolean };
  w.text = '';
  w.isTTY = isTTY;
  return w;
}

describe('progress', () => {
  it('prints one plain line per event when not a terminal', () => {
    const out = sink();
    const p = newProgress(out);
    p.event('Network', 'p_default', 'Creating');
    p.event('Network', 'p_default', 'Created');
    p.event('Container', 'p-web-1', 'Started');
    p.done();
    assert.equal(
      out.text,
      ' Network p_default  Creating\n Network p_default  Created\n Container p-web-1  Started\n',
    );
  });
  it('redraws one row per resource with ✔ on a terminal', () => {
    const out = sink(true);
    const p = newProgress(out);
    p.event('Container', 'p-db-1', 'Starting');
    p.event('Container', 'p-db-1', 'Started');
    p.event('Container', 'p-web-1', 'Error', 'error');
    p.done();
    // The last frame: a header and one line per resource, in place (cursor moved up).
    const ESC = String.fromCharCode(27);
    const frames = out.text.split(new RegExp(`${ESC}\\[\\d+A`));
    const last = (frames[frames.length - 1] as string).replace(
      new RegExp(`${ESC}\\[[0-9;]*[A-Za-z]`, 'g'),
      '',
    );
    const lines = last.trimEnd().split('\n');
    assert.equal(lines[0], '[+] Running 2/2');
    assert.match(lines[1] as string, /^ ✔ Container p-db-1 {3}Started {4}\d+\.\ds$/);
    assert.match(lines[2] as string, /^ ✘ Container p-web-1 {2}Error/);
  });
});

describe('berth compose command line', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-compose-cli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const run = async (
    args: string[],
    env: NodeJS.ProcessEnv = {},
  ): Promise<{ code: number; out: string; err: string }> => {
    const stdout = sink();
    const stderr = sink();
    const code = await runCli(
      args,
      { stdin: new PassThrough(), stdout, stderr },
      { BERTH_HOST: 'unix:///nonexistent.sock', ...env },
    );
    return { code, out: stdout.text, err: stderr.text };
  };
  it('prints config, services and volumes of a -f file', async () => {
    const file = path.join(dir, 'compose.yaml');
    writeFileSync(
      file,
      'services:\n  b: {image: busybox, volumes: ["v:/v"]}\n  a: {image: busybox}\nvolumes:\n  v: {}\n',
    );
    const svc = await run(['compose', '-f', file, 'config', '--services']);
    assert.deepEqual(svc, { code: 0, out: 'a\nb\n', err: '' });
    const vols = await run(['compose', '-f', file, '--project-name', 'x', 'config', '--volumes']);
    assert.equal(vols.out, 'v\n');
    const full = await run(['compose', '-f', file, '-p', 'demo', 'config']);
    assert.match(full.out, /^name: demo\nservices:\n {2}a:\n/);
    assert.match(full.out, /volumes:\n {2}v:\n {4}name: demo_v\n$/);
    const json = await run(['compose', '-f', file, '-p', 'demo', 'config', '--format', 'json']);
    assert.equal((JSON.parse(json.out) as { name: string }).name, 'demo');
    const hash = await run(['compose', '-f', file, 'config', '--hash', 'a']);
    assert.match(hash.out, /^a [0-9a-f]{64}\n$/);
  });
  it('fails with compose wording and exit 1 on a bad file, before connecting', async () => {
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, 'services:\n  web: {image: busybox, depends_on: [db]}\n');
    const r = await run(['compose', '-f', file, 'up', '-d']);
    assert.equal(r.code, 1);
    assert.equal(
      r.err,
      'service "web" depends on undefined service "db": invalid compose project\n',
    );
    const u = await run(['compose', '-f', file, 'frobnicate']);
    assert.equal(u.code, 1);
    assert.match(u.err, /unknown docker command: "compose frobnicate"/);
    const dry = await run(['compose', '--dry-run', '-f', file, 'up']);
    assert.equal(dry.code, 1);
    assert.match(dry.err, /--dry-run is not supported/);
    const flag = await run(['compose', '-f', file, 'up', '--bogus']);
    assert.equal(flag.code, 1);
    assert.match(flag.err, /unknown flag: --bogus/);
  });
  it('reports an unreachable engine as the CLI does', async () => {
    const file = path.join(dir, 'ok.yaml');
    writeFileSync(file, 'services:\n  a: {image: busybox, network_mode: none}\n');
    const r = await run(['compose', '-f', file, 'ps']);
    assert.equal(r.code, 1);
    assert.match(r.err, /Cannot connect to the berth daemon at unix:\/\/\/nonexistent\.sock/);
  });
  it('prints help and version', async () => {
    const h = await run(['compose', '--help']);
    assert.equal(h.code, 0);
    assert.match(h.out, /Usage: {2}berth compose \[OPTIONS\] COMMAND/);
    assert.match(h.out, /\n {2}up {10}Create and start containers\n/);
    const v = await run(['compose', 'version', '--short']);
    assert.equal(v.out, '2.29.7\n');
    const uh = await run(['compose', 'up', '--help']);
    assert.match(uh.out, /--abort-on-container-exit/);
  });
});
