import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from '../errors/index.js';
import {
  familiarString,
  normalizeTag,
  parseAnyReference,
  parseNormalizedNamed,
  parseTagTarget,
  referenceString,
} from './reference.js';

const zeros = '0'.repeat(64);

test('normalised names: docker.io, library/ and tags', () => {
  const table: [string, string, string][] = [
    ['busybox', 'docker.io/library/busybox', 'busybox'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36', 'busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox', 'busybox'],
    ['docker.io/library/busybox:latest', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['index.docker.io/busybox', 'docker.io/library/busybox', 'busybox'],
    ['user/app:v1', 'docker.io/user/app:v1', 'user/app:v1'],
    ['localhost/app', 'localhost/app', 'localhost/app'],
    ['localhost:5000/a/b:c', 'localhost:5000/a/b:c', 'localhost:5000/a/b:c'],
    ['quay.io/org/img', 'quay.io/org/img', 'quay.io/org/img'],
    ['[::1]:5000/img', '[::1]:5000/img', '[::1]:5000/img'],
    ['my-reg.example:443/a-b/c__d', 'my-reg.example:443/a-b/c__d', 'my-reg.example:443/a-b/c__d'],
    ['ab__c/d', 'docker.io/ab__c/d', 'ab__c/d'],
    [
      `busybox@sha256:${zeros}`,
      `docker.io/library/busybox@sha256:${zeros}`,
      `busybox@sha256:${zeros}`,
    ],
    [
      `busybox:1@sha256:${zeros}`,
      `docker.io/library/busybox:1@sha256:${zeros}`,
      `busybox:1@sha256:${zeros}`,
    ],
  ];
  for (const [input, full, familiar] of table) {
    const ref = parseNormalizedNamed(input);
    assert.equal(referenceString(ref), full, input);
    assert.equal(familiarString(ref), familiar, input);
  }
});

test("invalid references fail with Docker's messages", () => {
  const table: [string, string][] = [
    ['Foo', 'invalid reference format: repository name (library/Foo) must be lowercase'],
    ['user/Foo:tag', 'invalid reference format: repository name (user/Foo) must be lowercase'],
    ['localhost:5000/Foo', 'invalid reference format: repository name (Foo) must be lowercase'],
    ['a..b', 'invalid reference format'],
    ['busybox:', 'invalid reference format'],
    ['busybox:-x', 'invalid reference format'],
    [':tag', 'invalid reference format'],
    ['', 'invalid reference format'],
    ['a/', 'invalid reference format'],
    ['-a', 'invalid reference format'],
    ['busybox@sha256:abc', 'invalid reference format'],
    [`busybox@sha256:${'0'.repeat(63)}`, 'invalid checksum digest length'],
    [`busybox@sha256:${'0'.repeat(66)}`, 'invalid checksum digest length'],
    [`busybox@md5:${'0'.repeat(32)}`, 'unsupported digest algorithm'],
    [zeros, `invalid repository name (${zeros}), cannot specify 64-byte hexadecimal strings`],
    [`${'a'.repeat(256)}`, 'repository name must not be more than 255 characters'],
  ];
  for (const [input, message] of table) {
    assert.throws(
      () => parseNormalizedNamed(input),
      (err: unknown) => err instanceof InvalidArgumentError && err.message === message,
      `${input} → ${message}`,
    );
  }
});

test('IDs and names are told apart as dockerd does', () => {
  assert.deepEqual(parseAnyReference(zeros), { kind: 'id', digest: `sha256:${zeros}` });
  assert.deepEqual(parseAnyReference(`sha256:${zeros}`), { kind: 'id', digest: `sha256:${zeros}` });
  const short = parseAnyReference('sha256:1234');
  assert.equal(short.kind, 'named');
  assert.equal(short.kind === 'named' && familiarString(short.ref), 'sha256:1234');
  const name = parseAnyReference('busybox:latest');
  assert.equal(
    name.kind === 'named' && referenceString(name.ref),
    'docker.io/library/busybox:latest',
  );
});

test('tag targets get latest and refuse digests', () => {
  assert.equal(normalizeTag('busybox'), 'busybox:latest');
  assert.equal(normalizeTag('docker.io/library/busybox:1'), 'busybox:1');
  assert.equal(familiarString(parseTagTarget('me/app', 'v2')), 'me/app:v2');
  assert.throws(
    () => parseTagTarget('me/app', 'a@b'),
    /^InvalidArgumentError: invalid tag format$/,
  );
  assert.throws(
    () => parseTagTarget(`me/app@sha256:${zeros}`),
    /refusing to create a tag with a digest reference/,
  );
  assert.throws(
    () => parseTagTarget('sha256', 'a'.repeat(64)),
    /refusing to create an ambiguous tag using digest algorithm as name/,
  );
});
