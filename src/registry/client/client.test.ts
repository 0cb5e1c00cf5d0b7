import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError, NotFoundError } from '../../errors/index.js';
import {
  familiarString,
  parseNormalizedNamed,
  referenceString,
  tagNameOnly,
} from '../../images/reference.js';
import { MediaType, type Index } from '../../spec/oci-image.js';
import { decodeRegistryAuth, encodeRegistryAuth } from './auth-config.js';
import { parseChallenges } from './challenge.js';
import { endpointsFor, isInsecureRegistry, validateInsecure, validateMirror } from './hosts.js';
import {
  parseManifestDocument,
  parsePlatformSpec,
  schema1Message,
  selectPlatform,
} from './manifest.js';
import { registryDomain, splitSearchTerm } from './service.js';

const d = (c: string): string => `sha256:${c.repeat(64)}`;

test('references for pulls: Docker tricky cases', () => {
  const table: [string, string][] = [
    ['busybox', 'docker.io/library/busybox:latest'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['index.docker.io/library/busybox:1', 'docker.io/library/busybox:1'],
    ['127.0.0.1:5000/x:tag', '127.0.0.1:5000/x:tag'],
    // A first component without . or : is a path: localhost is the exception.
    ['localhost/x', 'localhost/x:latest'],
    ['registry/x', 'docker.io/registry/x:latest'],
    // `localhost:5000` alone is the image localhost with tag 5000.
    ['localhost:5000', 'docker.io/library/localhost:5000'],
    [`busybox@${d('a')}`, `docker.io/library/busybox@${d('a')}`],
    ['[::1]:5000/a/b', '[::1]:5000/a/b:latest'],
  ];
  for (const [input, want] of table) {
    assert.equal(referenceString(tagNameOnly(parseNormalizedNamed(input))), want, input);
  }
  assert.equal(familiarString(parseNormalizedNamed('docker.io/library/busybox:1')), 'busybox:1');
  assert.throws(() => parseNormalizedNamed('Busybox'), InvalidArgumentError);
});

test('WWW-Authenticate: bearer with realm, service and scope; several challenges', () => {
  const [c] = parseChallenges(
    'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"',
  );
  assert.deepEqual(c, {
    scheme: 'bearer',
    params: {
      realm: 'https://auth.docker.io/token',
      service: 'registry.docker.io',
      scope: 'repository:library/busybox:pull',
    },
  });
  const many = parseChallenges(
    'Basic realm="Registry Realm", Bearer realm="x",error="invalid_token"',
  );
  assert.deepEqual(
    many.map((m) => [m.scheme, m.params]),
    [
      ['basic', { realm: 'Registry Realm' }],
      ['bearer', { realm: 'x', error: 'invalid_token' }],
    ],
  );
  assert.deepEqual(parseChallenges('Bearer realm="a\\"b", Service=tok'), [
    { scheme: 'bearer', params: { realm: 'a"b', service: 'tok' } },
  ]);
  assert.deepEqual(parseChallenges(''), []);
  assert.deepEqual(parseChallenges('Basic'), [{ scheme: 'basic', params: {} }]);
});

test('X-Registry-Auth: URL-safe and standard base64, auth field, anonymous, refused junk', () => {
  const creds = { username: 'u', password: 'p?>~', serveraddress: '127.0.0.1:5000' };
  assert.deepEqual(decodeRegistryAuth(encodeRegistryAuth(creds)), creds);
  const std = Buffer.from(JSON.stringify(creds)).toString('base64');
  assert.deepEqual(decodeRegistryAuth(std), creds);
  const viaAuth = Buffer.from(
    JSON.stringify({ auth: Buffer.from('me:secret').toString('base64') }),
  ).toString('base64url');
  assert.equal(decodeRegistryAuth(viaAuth).username, 'me');
  assert.equal(decodeRegistryAuth(viaAuth).password, 'secret');
  assert.deepEqual(decodeRegistryAuth(undefined), {});
  assert.deepEqual(decodeRegistryAuth(''), {});
  assert.deepEqual(decodeRegistryAuth(Buffer.from('{}').toString('base64')), {});
  assert.throws(() => decodeRegistryAuth('%%%not-base64'), InvalidArgumentError);
  assert.throws(
    () => decodeRegistryAuth(Buffer.from('[1]').toString('base64')),
    InvalidArgumentError,
  );
});

const manifest = {
  schemaVersion: 2,
  mediaType: MediaType.dockerManifest,
  config: { mediaType: MediaType.dockerConfig, digest: d('c'), size: 10 },
  layers: [{ mediaType: MediaType.dockerLayerGzip, digest: d('1'), size: 100 }],
};

test('manifests: schema2 and OCI accepted, schema1 refused with dockerd wording, bad ones refused', () => {
  const doc = parseManifestDocument(Buffer.from(JSON.stringify(manifest)), undefined, 'x:1');
  assert.equal(doc.kind, 'manifest');
  const oci = { ...manifest, mediaType: undefined };
  const ociDoc = parseManifestDocument(
    Buffer.from(JSON.stringify(oci)),
    `${MediaType.ociManifest}; charset=utf-8`,
    'x:1',
  );
  assert.equal(ociDoc.kind, 'manifest');
  assert.equal(ociDoc.mediaType, MediaType.ociManifest);
  assert.throws(
    () => parseManifestDocument(Buffer.from('{"schemaVersion":1,"name":"x"}'), undefined, 'x:1'),
    (e: unknown) => e instanceof InvalidArgumentError && e.message === schema1Message('x:1'),
  );
  assert.match(schema1Message('x:1'), /^\[DEPRECATION NOTICE\] Docker Image Format v1/);
  const bad: [unknown, RegExp][] = [
    ['not json', /not valid JSON/],
    [{ ...manifest, schemaVersion: 3 }, /schemaVersion/],
    [{ ...manifest, config: { ...manifest.config, digest: 'sha256:xyz' } }, /digest/],
    [{ ...manifest, layers: [{ ...manifest.layers[0], size: -1 }] }, /invalid size/],
    [{ ...manifest, layers: undefined }, /missing layers/],
    [
      { ...manifest, layers: [{ ...manifest.layers[0], mediaType: MediaType.ociLayerZstd }] },
      /zstd/,
    ],
    [
      { ...manifest, config: { ...manifest.config, mediaType: 'application/x-helm' } },
      /not a container image/,
    ],
  ];
  for (const [body, re] of bad) {
    const bytes = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    assert.throws(
      () => parseManifestDocument(bytes, undefined, 'x:1'),
      (e: unknown) => e instanceof InvalidArgumentError && re.test(e.message),
      String(re),
    );
  }
});

test('platform selection from an index: host default, --platform, variants, attestations', () => {
  const index: Index = {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: [
      {
        mediaType: MediaType.ociManifest,
        digest: d('a'),
        size: 1,
        platform: { os: 'linux', architecture: 'amd64' },
      },
      {
        mediaType: MediaType.ociManifest,
        digest: d('b'),
        size: 1,
        platform: { os: 'linux', architecture: 'arm', variant: 'v6' },
      },
      {
        mediaType: MediaType.ociManifest,
        digest: d('c'),
        size: 1,
        platform: { os: 'linux', architecture: 'arm', variant: 'v7' },
      },
      {
        mediaType: MediaType.ociManifest,
        digest: d('e'),
        size: 1,
        platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
      },
      {
        mediaType: MediaType.ociManifest,
        digest: d('f'),
        size: 1,
        platform: { os: 'unknown', architecture: 'unknown' },
      },
    ],
  };
  assert.equal(selectPlatform(index, parsePlatformSpec('linux/amd64')).digest, d('a'));
  assert.equal(selectPlatform(index, parsePlatformSpec('linux/arm/v6')).digest, d('b'));
  assert.equal(selectPlatform(index, parsePlatformSpec('linux/arm')).digest, d('c'));
  assert.equal(selectPlatform(index, parsePlatformSpec('linux/arm64')).digest, d('e'));
  assert.equal(selectPlatform(index, parsePlatformSpec('linux/aarch64')).digest, d('e'));
  assert.throws(
    () => selectPlatform(index, parsePlatformSpec('linux/s390x')),
    (e: unknown) =>
      e instanceof NotFoundError &&
      e.message === 'no matching manifest for linux/s390x in the manifest list entries',
  );
  assert.equal(parsePlatformSpec(undefined).os, 'linux');
  assert.deepEqual(parsePlatformSpec('arm64'), {
    os: 'linux',
    architecture: 'arm64',
    variant: 'v8',
  });
  assert.throws(() => parsePlatformSpec('linux/amd64/v1/x'), InvalidArgumentError);
});

test('registry hosts: mirrors for docker.io, insecure by default on loopback, flag checks', () => {
  const opts = { mirrors: ['http://127.0.0.1:5001'], insecure: ['10.0.0.0/8', 'reg.test:5000'] };
  assert.deepEqual(
    endpointsFor('docker.io', opts).map((e) => [e.url, e.mirror]),
    [
      ['http://127.0.0.1:5001', true],
      ['https://registry-1.docker.io', false],
    ],
  );
  assert.deepEqual(
    endpointsFor('quay.io', opts).map((e) => [e.url, e.insecure]),
    [['https://quay.io', false]],
  );
  assert.equal(isInsecureRegistry('127.0.0.1:5000', []), true);
  assert.equal(isInsecureRegistry('127.8.9.1', []), true);
  assert.equal(isInsecureRegistry('localhost:5000', []), true);
  assert.equal(isInsecureRegistry('[::1]:5000', []), true);
  assert.equal(isInsecureRegistry('10.1.2.3:5000', opts.insecure), true);
  assert.equal(isInsecureRegistry('11.1.2.3:5000', opts.insecure), false);
  assert.equal(isInsecureRegistry('reg.test:5000', opts.insecure), true);
  assert.equal(isInsecureRegistry('reg.test:5001', opts.insecure), false);
  assert.equal(validateMirror('https://mirror.test/'), 'https://mirror.test');
  assert.throws(() => validateMirror('https://mirror.test/path'), InvalidArgumentError);
  assert.throws(() => validateMirror('ftp://mirror.test'), InvalidArgumentError);
  assert.throws(() => validateInsecure('http://x:5000'), InvalidArgumentError);
  assert.throws(() => validateInsecure('10.0.0.0/99'), InvalidArgumentError);
});

test('login addresses and search terms name registries as Docker does', () => {
  assert.equal(registryDomain('https://index.docker.io/v1/'), 'docker.io');
  assert.equal(registryDomain(''), 'docker.io');
  assert.equal(registryDomain('http://127.0.0.1:5000/v2/'), '127.0.0.1:5000');
  assert.deepEqual(splitSearchTerm('busybox'), { domain: 'docker.io', term: 'busybox' });
  assert.deepEqual(splitSearchTerm('127.0.0.1:5000/busy'), {
    domain: '127.0.0.1:5000',
    term: 'busy',
  });
  assert.deepEqual(splitSearchTerm('user/app'), { domain: 'docker.io', term: 'user/app' });
});
