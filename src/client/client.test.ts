import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { access } from 'node:fs/promises';
import { ClientError, encodeQuery, newClient, parseHost } from './client.js';
import { demux, encodeFrame, jsonLines, newDemuxer, type Frame } from './streams.js';

// The anchor dockerd (shared/bench/anchors.sh) is the reference these tests run against.
const ANCHOR = process.env.ANCHOR_DOCKER_HOST ?? 'unix:///run/berth-anchors/docker.sock';

async function anchor(): Promise<ReturnType<typeof newClient>> {
  const path = ANCHOR.replace(/^unix:\/\//, '');
  try {
    await access(path);
  } catch (cause) {
    throw new Error(
      `the anchor dockerd is not reachable at ${ANCHOR}: run 'source /work/shared/bench/anchors.sh' as root first`,
      { cause },
    );
  }
  return newClient(ANCHOR);
}

test('demuxer copes with any chunking', () => {
  const bytes = Buffer.concat([
    encodeFrame('stdout', Buffer.from('hello ')),
    encodeFrame('stderr', Buffer.from('oops')),
    encodeFrame('stdout', Buffer.alloc(0)),
  ]);
  for (const size of [1, 3, 8, 9, bytes.length]) {
    const frames: Frame[] = [];
    const d = newDemuxer((f) => frames.push({ stream: f.stream, data: Buffer.from(f.data) }));
    for (let i = 0; i < bytes.length; i += size) d.push(bytes.subarray(i, i + size));
    assert.deepEqual(
      frames.map((f) => [f.stream, f.data.toString()]),
      [
        ['stdout', 'hello '],
        ['stderr', 'oops'],
        ['stdout', ''],
      ],
    );
    assert.equal(d.pending(), 0);
  }
});

test('demux and jsonLines over streams', async () => {
  const frames: string[] = [];
  for await (const f of demux(Readable.from([encodeFrame('stderr', Buffer.from('e'))]))) {
    frames.push(`${f.stream}:${f.data.toString()}`);
  }
  assert.deepEqual(frames, ['stderr:e']);
  const values: unknown[] = [];
  for await (const v of jsonLines(
    Readable.from([Buffer.from('{"a":1}\n{"b"'), Buffer.from(':2}\n\n')]),
  )) {
    values.push(v);
  }
  assert.deepEqual(values, [{ a: 1 }, { b: 2 }]);
});

test('hosts and queries', () => {
  assert.deepEqual(parseHost('unix:///run/x.sock'), { socketPath: '/run/x.sock' });
  assert.deepEqual(parseHost('tcp://127.0.0.1:2375'), { hostname: '127.0.0.1', port: 2375 });
  assert.throws(() => parseHost('ssh://x'), ClientError);
  assert.equal(
    encodeQuery({
      all: true,
      size: false,
      name: undefined,
      filters: { label: ['a=b'] },
      names: ['x', 'y'],
    }),
    '?all=1&size=0&filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%7D&names=x&names=y',
  );
  assert.equal(encodeQuery({ filters: {} }), '');
});

test('unreachable daemon gives a ClientError with status 0', async () => {
  const c = newClient('unix:///nonexistent/berth-test.sock');
  await assert.rejects(c.ping(), (err: unknown) => {
    assert.ok(err instanceof ClientError);
    assert.equal(err.statusCode, 0);
    assert.match(err.message, /Cannot connect to the berth daemon at unix:\/\/\/nonexistent/);
    return true;
  });
});

test('against dockerd: negotiation, errors, run with piped stdin via hijack', async () => {
  const c = await anchor();
  const ping = await c.ping();
  assert.equal(ping.osType, 'linux');
  const version = await c.apiVersion();
  assert.ok(version === ping.apiVersion || version === '1.47', `negotiated ${version}`);
  await assert.rejects(
    c.containerInspect('berth-client-test-no-such-container'),
    (err: unknown) => {
      assert.ok(err instanceof ClientError);
      assert.equal(err.statusCode, 404);
      assert.match(err.message, /No such container: berth-client-test-no-such-container/);
      return true;
    },
  );
  const { Id } = await c.containerCreate({
    Image: 'busybox',
    Cmd: ['sh', '-c', 'cat; echo done >&2; exit 7'],
    OpenStdin: true,
    StdinOnce: true,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
  });
  try {
    const hj = await c.containerAttach(Id, {
      stdin: true,
      stdout: true,
      stderr: true,
      tty: false,
    });
    const frames: Frame[] = [];
    const d = newDemuxer((f) => frames.push({ stream: f.stream, data: Buffer.from(f.data) }));
    const ended = new Promise<void>((resolve) => {
      hj.socket.on('data', (b: Buffer) =>
        hj.multiplexed ? d.push(b) : frames.push({ stream: 'stdout', data: b }),
      );
      hj.socket.on('end', resolve);
    });
    const wait = await c.containerWait(Id, 'next-exit');
    await c.containerStart(Id);
    hj.socket.write('piped input\n');
    hj.socket.end();
    await ended;
    const exit = await wait.result;
    assert.equal(exit.StatusCode, 7);
    const out = frames
      .filter((f) => f.stream === 'stdout')
      .map((f) => f.data.toString())
      .join('');
    const err = frames
      .filter((f) => f.stream === 'stderr')
      .map((f) => f.data.toString())
      .join('');
    assert.equal(out, 'piped input\n');
    assert.equal(err, 'done\n');
    // Starting a stopped-again container twice: the second stop is "not modified".
    await c.containerStop(Id);
  } finally {
    await c.containerRemove(Id, { force: true });
  }
});
