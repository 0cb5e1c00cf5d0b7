import type { BuildService } from '../build/build.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import type { ContainerService, Attachment } from '../containers/containers.js';
import type { ImageService } from '../images/images.js';
import type { Events, EventSubscription } from '../events/events.js';
import type { SystemService } from '../system/system.js';
import type { EngineEvent } from '../spec/engine.js';
import {
  ConflictError,
  InvalidArgumentError,
  NotFoundError,
  NotImplementedError,
  NotModifiedError,
} from '../errors/index.js';
import { startApiServer, type Services } from './server.js';
import { newRouter } from './router.js';
import { encodeFrame } from './streams.js';
import { eventMatches } from './events.js';

// Fakes stand in for the services so these tests exercise the HTTP layer alone.
function unimplemented(name: string): () => never {
  return () => {
    throw new NotImplementedError(`fake: ${name}`);
  };
}

function fakeContainers(over: Partial<ContainerService>): ContainerService {
  const base: ContainerService = {
    create: unimplemented('create'),
    start: unimplemented('start'),
    stop: unimplemented('stop'),
    restart: unimplemented('restart'),
    kill: unimplemented('kill'),
    remove: unimplemented('remove'),
    pause: unimplemented('pause'),
    unpause: unimplemented('unpause'),
    rename: unimplemented('rename'),
    list: unimplemented('list'),
    inspect: unimplemented('inspect'),
    get: unimplemented('get'),
    wait: unimplemented('wait'),
    logs: unimplemented('logs'),
    attach: unimplemented('attach'),
    resize: unimplemented('resize'),
    top: unimplemented('top'),
    changes: unimplemented('changes'),
    export: unimplemented('export'),
    statPath: unimplemented('statPath'),
    getArchive: unimplemented('getArchive'),
    putArchive: unimplemented('putArchive'),
    commit: unimplemented('commit'),
    prune: unimplemented('prune'),
    imageUsers: () => new Map(),
    execCreate: unimplemented('execCreate'),
    execStart: unimplemented('execStart'),
    execResize: unimplemented('execResize'),
    execInspect: unimplemented('execInspect'),
    counts: () => ({ running: 0, paused: 0, stopped: 0 }),
    stats: unimplemented('stats'),
    update: unimplemented('update'),
    diff: unimplemented('diff'),
    prepare: unimplemented('prepare'),
  };
  return { ...base, ...over };
}

const fakeBuild: BuildService = {
  build: unimplemented('build'),
  prune: unimplemented('prune'),
  stageSecrets: unimplemented('stageSecrets'),
  takeSecrets: unimplemented('takeSecrets'),
};

function fakeImages(over: Partial<ImageService>): ImageService {
  const base: ImageService = {
    list: unimplemented('list'),
    get: unimplemented('get'),
    summaries: async () => [],
    inspect: unimplemented('inspect'),
    history: unimplemented('history'),
    tag: unimplemented('tag'),
    remove: unimplemented('remove'),
    prune: unimplemented('prune'),
    importRootfs: unimplemented('importRootfs'),
    load: unimplemented('load'),
    save: unimplemented('save'),
    bootstrap: unimplemented('bootstrap'),
    commit: unimplemented('commit'),
    build: unimplemented('build'),
    unpack: unimplemented('unpack'),
    pull: unimplemented('pull'),
    push: unimplemented('push'),
    diskUsage: unimplemented('diskUsage'),
  };
  return { ...base, ...over };
}

function event(action: string, id: string, attrs: Record<string, string>, t: number): EngineEvent {
  return {
    Type: 'container',
    Action: action,
    Actor: { ID: id, Attributes: attrs },
    scope: 'local',
    time: Math.floor(t),
    timeNano: Math.round(t * 1e9),
  };
}

function fakeEvents(past: EngineEvent[]): Events {
  return {
    publish: () => undefined,
    history: (since, until) =>
      past.filter(
        (e) => (since === undefined || e.time >= since) && (until === undefined || e.time <= until),
      ),
    subscribe: (): EventSubscription => ({
      async *[Symbol.asyncIterator]() {
        /* nothing live */
      },
      close: () => undefined,
    }),
  };
}

const system: SystemService = {
  version: () => ({ Version: '0.1.0', ApiVersion: '1.47' }),
  info: async () => ({ Name: 'fake' }),
  df: async () => ({ LayersSize: 0 }),
};

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function call(sock: string, method: string, path: string, body?: string | Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: sock, method, path }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (b: Buffer) => parts.push(b));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }),
      );
    });
    req.on('error', reject);
    if (body !== undefined) req.setHeader('Content-Type', 'application/json');
    req.end(body);
  });
}

async function withServer(
  services: Partial<Services>,
  fn: (sock: string) => Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-api-'));
  const sock = join(dir, 'api.sock');
  const server = await startApiServer({
    hosts: [`unix://${sock}`],
    services: {
      containers: fakeContainers({}),
      images: fakeImages({}),
      events: fakeEvents([]),
      system,
      build: fakeBuild,
      ...services,
    },
  });
  try {
    await fn(sock);
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

test('router: params, greedy names, version prefix', () => {
  const router = newRouter();
  const h = async (): Promise<void> => undefined;
  router.add('GET', '/images/json', h);
  router.add('GET', '/images/{name*}/json', h);
  router.add('POST', '/containers/{id}/start', h);
  assert.deepEqual(router.match('GET', '/v1.41/images/docker.io/library/busybox:1/json').params, {
    name: 'docker.io/library/busybox:1',
  });
  assert.equal(router.match('GET', '/v1.41/images/json').params.name, undefined);
  const m = router.match('POST', '/v1.24/containers/abc/start');
  assert.deepEqual([m.params, m.version, m.path], [{ id: 'abc' }, '1.24', '/containers/abc/start']);
  assert.equal(router.match('POST', '/containers/abc/start').version, '1.47');
  assert.throws(() => router.match('GET', '/containers/abc/start'), NotFoundError);
  assert.throws(
    () => router.match('GET', '/v1.23/images/json'),
    (err: Error) =>
      err instanceof InvalidArgumentError &&
      err.message ===
        'client version 1.23 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version',
  );
  assert.throws(
    () => router.match('GET', '/v1.48/images/json'),
    /client version 1.48 is too new. Maximum supported API version is 1.47/,
  );
});

test('frames', () => {
  const f = encodeFrame('stderr', Buffer.from('hey'));
  assert.deepEqual([...f], [2, 0, 0, 0, 0, 0, 0, 3, 0x68, 0x65, 0x79]);
});

test('event filters', () => {
  const ev = event('exec_start: sh', 'abc123', { name: 'web', image: 'busybox', a: 'b' }, 1);
  assert.ok(eventMatches(ev, { event: ['exec_start'] }));
  assert.ok(eventMatches(ev, { container: ['web'], image: ['busybox'], label: ['a=b'] }));
  assert.ok(eventMatches(ev, { container: ['abc'] }));
  assert.ok(!eventMatches(ev, { type: ['image'] }));
  assert.ok(!eventMatches(ev, { label: ['a=c'] }));
});

test('ping, version headers, errors, 404, bad versions', async () => {
  await withServer(
    {
      containers: fakeContainers({
        start: async (ref) => {
          if (ref === 'running') throw new NotModifiedError('already started');
          if (ref === 'boom') throw new Error('kaput');
          if (ref === 'busy') throw new ConflictError('busy');
          throw new NotFoundError(`No such container: ${ref}`);
        },
      }),
    },
    async (sock) => {
      const ping = await call(sock, 'GET', '/_ping');
      assert.equal(ping.status, 200);
      assert.equal(ping.body.toString(), 'OK');
      assert.equal(ping.headers['api-version'], '1.47');
      assert.equal(ping.headers['ostype'], 'linux');
      assert.equal(ping.headers['docker-experimental'], 'false');
      assert.equal(ping.headers['builder-version'], '1');
      assert.match(String(ping.headers['cache-control']), /no-cache/);
      const head = await call(sock, 'HEAD', '/_ping');
      assert.equal(head.status, 200);
      assert.equal(head.headers['api-version'], '1.47');
      const v = await call(sock, 'GET', '/v1.41/version');
      assert.equal(JSON.parse(v.body.toString()).ApiVersion, '1.47');
      const old = await call(sock, 'GET', '/v1.12/version');
      assert.equal(old.status, 400);
      assert.match(JSON.parse(old.body.toString()).message, /too old/);
      const nf = await call(sock, 'GET', '/nope');
      assert.equal(nf.status, 404);
      assert.deepEqual(JSON.parse(nf.body.toString()), { message: 'page not found' });
      const notMod = await call(sock, 'POST', '/v1.47/containers/running/start');
      assert.equal(notMod.status, 304);
      assert.equal(notMod.body.length, 0);
      const missing = await call(sock, 'POST', '/containers/x/start');
      assert.equal(missing.status, 404);
      assert.deepEqual(JSON.parse(missing.body.toString()), { message: 'No such container: x' });
      assert.equal((await call(sock, 'POST', '/containers/busy/start')).status, 409);
      const origWrite = process.stderr.write.bind(process.stderr);
      let logged = '';
      process.stderr.write = ((chunk: string | Uint8Array): boolean => {
        logged += String(chunk);
        return true;
      }) as typeof process.stderr.write;
      try {
        const boom = await call(sock, 'POST', '/containers/boom/start');
        assert.equal(boom.status, 500);
        assert.deepEqual(JSON.parse(boom.body.toString()), { message: 'kaput' });
      } finally {
        process.stderr.write = origWrite;
      }
      assert.match(logged, /Error: kaput\n\s+at /);
    },
  );
});

test('create: bad JSON is 400, name and body reach the service', async () => {
  let seen: unknown;
  await withServer(
    {
      containers: fakeContainers({
        create: async (req, name) => {
          seen = { req, name };
          return { Id: 'abc', Warnings: [] };
        },
      }),
    },
    async (sock) => {
      const bad = await call(sock, 'POST', '/containers/create', '{bad');
      assert.equal(bad.status, 400);
      assert.match(JSON.parse(bad.body.toString()).message, /invalid JSON/);
      const ok = await call(sock, 'POST', '/containers/create?name=web', '{"Image":"busybox"}');
      assert.equal(ok.status, 201);
      assert.deepEqual(JSON.parse(ok.body.toString()), { Id: 'abc', Warnings: [] });
      assert.deepEqual(seen, { req: { Image: 'busybox' }, name: 'web' });
      const badName = await call(sock, 'POST', '/containers/create?name=a%20b', '{}');
      assert.equal(badName.status, 400);
    },
  );
});

test('socket file is 0660 and a stale one is replaced', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-api-'));
  const sock = join(dir, 'api.sock');
  try {
    const first = await startApiServer({
      hosts: [`unix://${sock}`],
      services: {
        containers: fakeContainers({}),
        images: fakeImages({}),
        events: fakeEvents([]),
        system,
        build: fakeBuild,
      },
    });
    assert.equal((await stat(sock)).mode & 0o777, 0o660);
    // Leave the socket file behind as a crashed daemon would.
    await first.close();
    const { writeFile } = await import('node:fs/promises');
    await writeFile(sock, '');
    const second = await startApiServer({
      hosts: [`unix://${sock}`],
      services: {
        containers: fakeContainers({}),
        images: fakeImages({}),
        events: fakeEvents([]),
        system,
        build: fakeBuild,
      },
    });
    assert.equal((await call(sock, 'GET', '/_ping')).status, 200);
    await second.close();
    await assert.rejects(
      startApiServer({
        hosts: ['tcp://127.0.0.1:2375'],
        services: {
          containers: fakeContainers({}),
          images: fakeImages({}),
          events: fakeEvents([]),
          system,
          build: fakeBuild,
        },
      }),
      /tcp hosts need TLS client certificates \(--tlsverify\)/,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('logs are multiplexed without a TTY, with timestamps', async () => {
  await withServer(
    {
      containers: fakeContainers({
        logs: async (_ref, opts) => ({
          tty: false,
          chunks: (async function* () {
            yield { stream: 'stdout' as const, data: Buffer.from('out\n'), time: 'T1' };
            yield { stream: 'stderr' as const, data: Buffer.from('err\n'), time: 'T2' };
            assert.equal(opts.tail, 5);
          })(),
        }),
      }),
    },
    async (sock) => {
      const none = await call(sock, 'GET', '/containers/x/logs');
      assert.equal(none.status, 400);
      const r = await call(sock, 'GET', '/containers/x/logs?stdout=1&stderr=1&timestamps=1&tail=5');
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'application/vnd.docker.multiplexed-stream');
      const want = Buffer.concat([
        encodeFrame('stdout', Buffer.from('T1 out\n')),
        encodeFrame('stderr', Buffer.from('T2 err\n')),
      ]);
      assert.deepEqual(r.body, want);
      const only = await call(sock, 'GET', '/v1.41/containers/x/logs?stderr=1&tail=5');
      assert.equal(only.headers['content-type'], 'application/vnd.docker.raw-stream');
      assert.deepEqual(only.body, encodeFrame('stderr', Buffer.from('err\n')));
    },
  );
});

test('archive stat header, events replay, images create pull streams and errors', async () => {
  const pulls: { ref: string; allTags: boolean; user: string | undefined }[] = [];
  const stat = {
    name: 'etc',
    size: 4096,
    mode: 2147484141,
    mtime: '2024-01-01T00:00:00Z',
    linkTarget: '',
  };
  await withServer(
    {
      containers: fakeContainers({ statPath: async () => stat }),
      images: fakeImages({
        pull: async (ref, options) => {
          pulls.push({ ref, allTags: options.allTags === true, user: options.auth?.username });
          if (ref.startsWith('missing')) throw new NotFoundError(`manifest for ${ref} not found`);
          options.onProgress?.({ status: 'Pulling from library/alpine', id: 'latest' });
          throw new InvalidArgumentError('filesystem layer verification failed for digest x');
        },
      }),
      events: fakeEvents([
        event('create', 'a1', { name: 'one' }, 100),
        event('start', 'a1', { name: 'one' }, 101),
        event('create', 'b2', { name: 'two' }, 102),
      ]),
    },
    async (sock) => {
      const h = await call(sock, 'HEAD', '/containers/x/archive?path=/etc');
      assert.equal(h.status, 200);
      const decoded: unknown = JSON.parse(
        Buffer.from(String(h.headers['x-docker-container-path-stat']), 'base64').toString(),
      );
      assert.deepEqual(decoded, stat);
      const filters = encodeURIComponent(JSON.stringify({ container: { one: true } }));
      const ev = await call(sock, 'GET', `/events?since=0&until=200&filters=${filters}`);
      const lines = ev.body
        .toString()
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as EngineEvent);
      assert.deepEqual(
        lines.map((e) => e.Action),
        ['create', 'start'],
      );
      const badFilter = await call(
        sock,
        'GET',
        `/events?filters=${encodeURIComponent('{"bogus":["x"]}')}`,
      );
      assert.equal(badFilter.status, 400);
      // A failure after the first message ends the stream with errorDetail, as dockerd's.
      const pull = await call(sock, 'POST', '/images/create?fromImage=alpine&tag=latest');
      assert.equal(pull.status, 200);
      assert.deepEqual(
        pull.body
          .toString()
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as unknown),
        [
          { status: 'Pulling from library/alpine', id: 'latest' },
          {
            errorDetail: { message: 'filesystem layer verification failed for digest x' },
            error: 'filesystem layer verification failed for digest x',
          },
        ],
      );
      // One before it is a plain error status.
      const missing = await call(sock, 'POST', '/images/create?fromImage=missing&tag=1');
      assert.equal(missing.status, 404);
      assert.deepEqual(JSON.parse(missing.body.toString()), {
        message: 'manifest for missing:1 not found',
      });
      // No tag anywhere: every tag; a digest as the tag; X-Registry-Auth decoded.
      await call(sock, 'POST', '/images/create?fromImage=missing-all');
      await call(sock, 'POST', `/images/create?fromImage=missing-d&tag=sha256:${'a'.repeat(64)}`);
      assert.deepEqual(pulls.slice(2), [
        { ref: 'missing-all', allTags: true, user: undefined },
        { ref: `missing-d@sha256:${'a'.repeat(64)}`, allTags: false, user: undefined },
      ]);
    },
  );
});

test('attach hijack: 101, frames out, stdin in, half-close ends stdin only', async () => {
  const output = new PassThrough({ objectMode: true });
  const received: Buffer[] = [];
  let inputEnded!: () => void;
  const ended = new Promise<void>((r) => (inputEnded = r));
  const input = new Writable({
    write(chunk: Buffer, _enc, cb) {
      received.push(chunk);
      cb();
    },
    final(cb) {
      inputEnded();
      cb();
    },
  });
  const att: Attachment = { output, input, tty: false, close: () => undefined };
  await withServer({ containers: fakeContainers({ attach: async () => att }) }, async (sock) => {
    const socket = connect(sock);
    const data: Buffer[] = [];
    socket.on('data', (b: Buffer) => data.push(b));
    const closed = new Promise<void>((r) => socket.on('end', () => r()));
    socket.write(
      'POST /v1.47/containers/x/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\n' +
        'Host: berth\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n',
    );
    socket.write('hello');
    socket.end();
    await ended;
    assert.equal(Buffer.concat(received).toString(), 'hello');
    // Output still flows after the client's half-close.
    output.write({ stream: 'stdout', data: Buffer.from('late') });
    output.end();
    await closed;
    const text = Buffer.concat(data);
    const headEnd = text.indexOf('\r\n\r\n');
    const head = text.subarray(0, headEnd).toString();
    assert.match(head, /^HTTP\/1.1 101 UPGRADED\r\n/);
    assert.match(head, /Content-Type: application\/vnd.docker.multiplexed-stream/);
    assert.match(head, /Upgrade: tcp/);
    assert.deepEqual(text.subarray(headEnd + 4), encodeFrame('stdout', Buffer.from('late')));
  });
});

test('exec start reads the JSON body of an upgrade request, TTY stream is raw', async () => {
  const output = Readable.from([{ stream: 'stdout', data: Buffer.from('tty out') }]);
  let opts: unknown;
  await withServer(
    {
      containers: fakeContainers({
        execStart: async (_id, o) => {
          opts = o;
          return { output, tty: true, close: () => undefined, exited: Promise.resolve(0) };
        },
      }),
    },
    async (sock) => {
      const socket = connect(sock);
      const data: Buffer[] = [];
      socket.on('data', (b: Buffer) => data.push(b));
      const closed = new Promise<void>((r) => socket.on('end', () => r()));
      const body = '{"Detach":false,"Tty":true}';
      socket.write(
        `POST /exec/e1/start HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      );
      await closed;
      socket.end();
      assert.deepEqual(opts, { detach: false, tty: true });
      const text = Buffer.concat(data).toString();
      assert.match(text, /Content-Type: application\/vnd.docker.raw-stream/);
      assert.ok(text.endsWith('\r\n\r\ntty out'));
    },
  );
});
