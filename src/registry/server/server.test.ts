import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  allows,
  challenge,
  grant,
  parseBasic,
  parseHtpasswd,
  parseScopes,
  signToken,
  verifyToken,
} from './auth.js';
import { parseAddr, parseBytes, parseDuration } from './config.js';
import { DistributionError } from './errors.js';
import {
  accepts,
  DOCKER_LIST,
  DOCKER_MANIFEST,
  OCI_INDEX,
  OCI_MANIFEST,
  parseManifest,
} from './manifest.js';
import { isRepositoryName, parseDigestParam, parseReference } from './names.js';
import { paginate, parseN } from './paging.js';
import { parseContentRange, parseRangeHeader, uploadRange } from './ranges.js';
import { parseRoute } from './routes.js';
import { RwLock } from './rwlock.js';

const D1 = `sha256:${'a'.repeat(64)}`;
const D2 = `sha256:${'b'.repeat(64)}`;

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err: unknown) {
    if (err instanceof DistributionError) return err.code;
    throw err;
  }
  return 'none';
}

test('repository names follow the spec grammar; traversal and upper case are refused', () => {
  for (const ok of ['a', 'library/busybox', 'a.b/c_d/e__f', 'x-y--z/0', 'a/b/c/d']) {
    assert.ok(isRepositoryName(ok), ok);
  }
  for (const bad of [
    '',
    '..',
    '../etc',
    'a/../b',
    'A',
    'a//b',
    '/a',
    'a/',
    '-a',
    'a.',
    'a___b',
    'a%2e',
    'a/.b',
  ]) {
    assert.ok(!isRepositoryName(bad), bad);
  }
  assert.ok(!isRepositoryName('a'.repeat(256)));
});

test('routes: suffixes pick the route, names may hold slashes, bad names are NAME_INVALID', () => {
  assert.deepEqual(parseRoute('/v2/'), { kind: 'base' });
  assert.deepEqual(parseRoute('/v2/a/b/manifests/latest'), {
    kind: 'manifest',
    name: 'a/b',
    reference: 'latest',
  });
  assert.deepEqual(parseRoute('/v2/a/blobs/uploads/'), { kind: 'uploads', name: 'a' });
  assert.deepEqual(parseRoute('/v2/a/blobs/uploads/u1'), { kind: 'upload', name: 'a', uuid: 'u1' });
  assert.deepEqual(parseRoute(`/v2/a/blobs/${D1}`), { kind: 'blob', name: 'a', digest: D1 });
  assert.deepEqual(parseRoute('/v2/x/tags/list'), { kind: 'tags', name: 'x' });
  assert.deepEqual(parseRoute('/v2/manifests/tags/list'), { kind: 'tags', name: 'manifests' });
  assert.deepEqual(parseRoute(`/v2/x/referrers/${D1}`), {
    kind: 'referrers',
    name: 'x',
    digest: D1,
  });
  assert.equal(parseRoute('/v1/x'), undefined);
  assert.equal(
    code(() => parseRoute('/v2/../../etc/manifests/x')),
    'NAME_INVALID',
  );
  assert.equal(
    code(() => parseRoute('/v2/%2e%2e/manifests/x')),
    'NAME_INVALID',
  );
});

test('digests and references', () => {
  assert.equal(parseDigestParam(D1), D1);
  assert.equal(
    code(() => parseDigestParam('sha256:abc')),
    'DIGEST_INVALID',
  );
  assert.equal(
    code(() => parseDigestParam(`sha512:${'a'.repeat(128)}`)),
    'DIGEST_INVALID',
  );
  assert.equal(
    code(() => parseDigestParam('nope')),
    'DIGEST_INVALID',
  );
  assert.deepEqual(parseReference('v1.0'), { kind: 'tag', tag: 'v1.0' });
  assert.deepEqual(parseReference(D1), { kind: 'digest', digest: D1 });
  assert.equal(
    code(() => parseReference('.bad')),
    'MANIFEST_INVALID',
  );
  assert.equal(
    code(() => parseReference('a'.repeat(129))),
    'MANIFEST_INVALID',
  );
});

test('Range headers of blob GETs', () => {
  assert.equal(parseRangeHeader(undefined, 10), undefined);
  assert.deepEqual(parseRangeHeader('bytes=0-3', 10), { start: 0, end: 3 });
  assert.deepEqual(parseRangeHeader('bytes=5-', 10), { start: 5, end: 9 });
  assert.deepEqual(parseRangeHeader('bytes=-3', 10), { start: 7, end: 9 });
  assert.deepEqual(parseRangeHeader('bytes=8-100', 10), { start: 8, end: 9 });
  assert.equal(parseRangeHeader('bytes=10-', 10), 'unsatisfiable');
  assert.equal(parseRangeHeader('bytes=-0', 10), 'unsatisfiable');
  assert.equal(parseRangeHeader('bytes=0-1,3-4', 10), undefined);
  assert.equal(parseRangeHeader('items=0-1', 10), undefined);
  assert.equal(parseRangeHeader('bytes=5-2', 10), undefined);
});

test('Content-Range of upload chunks, and the upload status Range', () => {
  assert.deepEqual(parseContentRange('0-1023'), { start: 0, end: 1023 });
  assert.deepEqual(parseContentRange('bytes 10-19/*'), { start: 10, end: 19 });
  assert.deepEqual(parseContentRange('bytes=10-19'), { start: 10, end: 19 });
  assert.equal(parseContentRange('9-1'), undefined);
  assert.equal(parseContentRange('abc'), undefined);
  assert.equal(uploadRange(0), '0-0');
  assert.equal(uploadRange(10), '0-9');
});

test('pagination: n, last and the Link header', () => {
  const all = ['c', 'a', 'd', 'b'];
  assert.deepEqual(paginate(all, { n: undefined, last: null, path: '/p' }), {
    items: ['a', 'b', 'c', 'd'],
    link: undefined,
  });
  assert.deepEqual(paginate(all, { n: 2, last: null, path: '/v2/x/tags/list' }), {
    items: ['a', 'b'],
    link: '</v2/x/tags/list?n=2&last=b>; rel="next"',
  });
  assert.deepEqual(paginate(all, { n: 2, last: 'b', path: '/p' }), {
    items: ['c', 'd'],
    link: undefined,
  });
  assert.deepEqual(paginate(all, { n: 5, last: 'a', path: '/p' }).items, ['b', 'c', 'd']);
  assert.deepEqual(paginate(all, { n: 0, last: null, path: '/p' }), { items: [], link: undefined });
  // A server-side cap pages even when the client asks for everything, or for more.
  assert.deepEqual(paginate(all, { n: undefined, last: null, path: '/p', maxN: 3 }), {
    items: ['a', 'b', 'c'],
    link: '</p?n=3&last=c>; rel="next"',
  });
  assert.equal(paginate(all, { n: 10, last: null, path: '/p', maxN: 2 }).items.length, 2);
  assert.equal(parseN(null), undefined);
  assert.equal(parseN('3'), 3);
  assert.throws(() => parseN('-1'), DistributionError);
});

function manifest(extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: D1, size: 2 },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: D2, size: 3 }],
      ...extra,
    }),
  );
}

test('manifest validation: types, references, subject and artifactType', () => {
  const m = parseManifest(manifest(), OCI_MANIFEST);
  assert.equal(m.mediaType, OCI_MANIFEST);
  assert.deepEqual(
    m.blobs.map((b) => b.digest),
    [D1, D2],
  );
  assert.equal(m.artifactType, 'application/vnd.oci.image.config.v1+json');
  const withSubject = parseManifest(
    manifest({ artifactType: 'x/y', subject: { mediaType: OCI_MANIFEST, digest: D2, size: 9 } }),
    OCI_MANIFEST,
  );
  assert.equal(withSubject.subject?.digest, D2);
  assert.equal(withSubject.artifactType, 'x/y');
  // No mediaType field: the Content-Type decides, else the shape.
  const bare = Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [] }));
  assert.equal(parseManifest(bare, undefined).mediaType, OCI_INDEX);
  const docker = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: DOCKER_MANIFEST,
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: D1, size: 1 },
      layers: [
        { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: D2, size: 1 },
        {
          mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
          digest: D1,
          size: 1,
          urls: ['https://example.invalid/x'],
        },
      ],
    }),
  );
  assert.equal(parseManifest(docker, DOCKER_MANIFEST).blobs.length, 2);
  const list = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: DOCKER_LIST,
      manifests: [{ mediaType: DOCKER_MANIFEST, digest: D1, size: 5 }],
    }),
  );
  assert.equal(parseManifest(list, DOCKER_LIST).manifests.length, 1);

  const bad = (body: Buffer | string, ct: string | undefined): string =>
    code(() => parseManifest(Buffer.from(body), ct));
  assert.equal(bad('{not json', OCI_MANIFEST), 'MANIFEST_INVALID');
  assert.equal(bad('[]', OCI_MANIFEST), 'MANIFEST_INVALID');
  assert.equal(bad('{"schemaVersion":1,"name":"x","fsLayers":[]}', undefined), 'MANIFEST_INVALID');
  assert.equal(
    bad('{"schemaVersion":1}', 'application/vnd.docker.distribution.manifest.v1+prettyjws'),
    'MANIFEST_INVALID',
  );
  // The Content-Type and the mediaType field must agree.
  assert.equal(bad(manifest(), DOCKER_MANIFEST), 'MANIFEST_INVALID');
  assert.equal(bad(manifest({ mediaType: 'application/x-other' }), undefined), 'MANIFEST_INVALID');
  assert.equal(
    bad(manifest({ config: { digest: 'sha256:1', size: 1 } }), OCI_MANIFEST),
    'MANIFEST_INVALID',
  );
  assert.equal(
    bad(manifest({ layers: [{ mediaType: 'x', digest: D1, size: -1 }] }), OCI_MANIFEST),
    'MANIFEST_INVALID',
  );
  assert.equal(bad(manifest({ layers: 'x' }), OCI_MANIFEST), 'MANIFEST_INVALID');
  assert.equal(bad(manifest({ annotations: { a: 1 } }), OCI_MANIFEST), 'MANIFEST_INVALID');
});

test('Accept negotiation on manifest GET', () => {
  assert.ok(accepts(undefined, OCI_MANIFEST));
  assert.ok(accepts('*/*', OCI_MANIFEST));
  assert.ok(accepts(`${DOCKER_MANIFEST}, ${OCI_MANIFEST};q=0.9`, OCI_MANIFEST));
  assert.ok(!accepts(DOCKER_MANIFEST, OCI_MANIFEST));
  assert.ok(!accepts('application/vnd.docker.distribution.manifest.v1+json', DOCKER_MANIFEST));
  assert.ok(accepts('text/plain', DOCKER_MANIFEST));
});

test('htpasswd and basic credentials', () => {
  const users = parseHtpasswd(
    '# comment\nalice:$2y$05$abcdefghijklmnopqrstuuMxZ4v0n5V5M5KcP2cBq8VdC8o9Oa.\n\n',
  );
  assert.deepEqual([...users.keys()], ['alice']);
  assert.throws(() => parseHtpasswd('bob:{SHA}abc'), /not bcrypt/);
  assert.throws(() => parseHtpasswd('nocolon'), /malformed/);
  assert.deepEqual(parseBasic(`Basic ${Buffer.from('u:p:q').toString('base64')}`), {
    user: 'u',
    password: 'p:q',
  });
  assert.equal(parseBasic('Bearer x'), undefined);
});

test('tokens: scopes, grants, signatures, expiry, audience', () => {
  const scopes = parseScopes(['repository:a/b:pull,push', 'registry:catalog:* repository:c:pull']);
  assert.deepEqual(scopes, [
    { type: 'repository', name: 'a/b', actions: ['pull', 'push'] },
    { type: 'registry', name: 'catalog', actions: ['*'] },
    { type: 'repository', name: 'c', actions: ['pull'] },
  ]);
  assert.deepEqual(grant([{ type: 'repository', name: 'x', actions: ['pull', 'fly'] }]), [
    { type: 'repository', name: 'x', actions: ['pull'] },
  ]);
  const key = Buffer.alloc(32, 7);
  const now = 1_700_000_000_000;
  const claims = {
    iss: 's',
    sub: 'u',
    aud: 's',
    iat: now / 1000,
    nbf: now / 1000,
    exp: now / 1000 + 60,
    access: scopes,
  };
  const tok = signToken(claims, key);
  assert.deepEqual(verifyToken(tok, key, { service: 's', now }), claims);
  assert.equal(verifyToken(tok, Buffer.alloc(32, 8), { service: 's', now }), undefined);
  assert.equal(verifyToken(tok, key, { service: 'other', now }), undefined);
  assert.equal(verifyToken(tok, key, { service: 's', now: now + 61_000 }), undefined);
  assert.equal(verifyToken(`${tok}x`, key, { service: 's', now }), undefined);
  // A signature spelt otherwise that decodes to the same bytes (the last character's two
  // spare bits set) is not the one issued.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const last = alphabet.indexOf(tok.slice(-1));
  const respelt = `${tok.slice(0, -1)}${alphabet[last ^ 1]}`;
  assert.deepEqual(
    Buffer.from(respelt.split('.')[2] as string, 'base64url'),
    Buffer.from(tok.split('.')[2] as string, 'base64url'),
  );
  assert.equal(verifyToken(respelt, key, { service: 's', now }), undefined);
  assert.ok(allows(scopes, 'repository', 'a/b', 'push'));
  assert.ok(!allows(scopes, 'repository', 'c', 'push'));
  assert.ok(allows(scopes, 'registry', 'catalog', '*'));
  const ch = challenge({
    kind: 'bearer',
    realm: 'http://h/token',
    service: 's',
    scope: 'repository:a:pull',
  });
  assert.equal(ch.status, 401);
  assert.equal(
    ch.headers['WWW-Authenticate'],
    'Bearer realm="http://h/token",service="s",scope="repository:a:pull"',
  );
});

test('flag values: sizes, durations, addresses', () => {
  assert.equal(parseBytes('4MiB'), 4 * 1024 * 1024);
  assert.equal(parseBytes('512k'), 512 * 1024);
  assert.equal(parseBytes('100'), 100);
  assert.throws(() => parseBytes('lots'));
  assert.equal(parseDuration('90s'), 90_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('2'), 2000);
  assert.throws(() => parseDuration('soon'));
  assert.deepEqual(parseAddr('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
  assert.deepEqual(parseAddr('[::1]:5000'), { host: '::1', port: 5000 });
  assert.deepEqual(parseAddr(':5000'), { host: '0.0.0.0', port: 5000 });
  assert.throws(() => parseAddr('nohost'));
});

test('RwLock: shared holders overlap, exclusive runs alone', async () => {
  const lock = new RwLock();
  const log: string[] = [];
  const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  await Promise.all([
    lock.shared(async () => {
      log.push('r1+');
      await wait(20);
      log.push('r1-');
    }),
    lock.shared(async () => {
      log.push('r2+');
      await wait(20);
      log.push('r2-');
    }),
    lock.exclusive(async () => {
      log.push('w+');
      await wait(5);
      log.push('w-');
    }),
    lock.shared(async () => {
      log.push('r3+');
      log.push('r3-');
    }),
  ]);
  assert.deepEqual(log.slice(0, 2), ['r1+', 'r2+']);
  const w = log.indexOf('w+');
  assert.equal(log[w + 1], 'w-');
  assert.ok(w > log.indexOf('r1-') && w > log.indexOf('r2-'));
  assert.ok(log.indexOf('r3+') > w);
});
