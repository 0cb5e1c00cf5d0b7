import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  call,
  digestOf,
  errorCode,
  OCI_EMPTY,
  OCI_INDEX,
  OCI_MANIFEST,
  pushBlob,
  pushImage,
  startRegistry,
  type Registry,
} from './registry-harness.js';

// The conformance suite of `berth registry serve` (issue #7): one test per requirement of the
// OCI Distribution Specification v1.1's pull, push, content-discovery and content-management
// categories, with the spec's status codes, headers and error codes. Written for berth, in the
// order of the spec's own conformance workflows.

const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

let reg: Registry;

before(async () => {
  reg = await startRegistry();
});
after(async () => {
  await reg?.stop();
});

describe('pull', () => {
  let img: Awaited<ReturnType<typeof pushImage>>;
  let layer: Buffer;
  before(async () => {
    layer = randomBytes(4096);
    img = await pushImage(reg, 'pull/app', 'v1', { layer });
  });

  test('GET /v2/ answers 200 with the API version header', async () => {
    const r = await call(reg, 'GET', '/v2/');
    assert.equal(r.status, 200);
    assert.equal(r.headers['docker-distribution-api-version'], 'registry/2.0');
    assert.equal((await call(reg, 'HEAD', '/v2/')).status, 200);
  });

  test('GET and HEAD of a manifest by tag: the bytes as pushed, Content-Type, Docker-Content-Digest', async () => {
    const r = await call(reg, 'GET', '/v2/pull/app/manifests/v1', {
      headers: { Accept: OCI_MANIFEST },
    });
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), img.body);
    assert.equal(r.headers['content-type'], OCI_MANIFEST);
    assert.equal(r.headers['docker-content-digest'], img.digest);
    const h = await call(reg, 'HEAD', '/v2/pull/app/manifests/v1');
    assert.equal(h.status, 200);
    assert.equal(h.headers['content-length'], String(Buffer.byteLength(img.body)));
    assert.equal(h.headers['docker-content-digest'], img.digest);
    assert.equal(h.body.length, 0);
  });

  test('GET and HEAD of a manifest by digest', async () => {
    const r = await call(reg, 'GET', `/v2/pull/app/manifests/${img.digest}`);
    assert.equal(r.status, 200);
    assert.equal(digestOf(r.body), img.digest);
    assert.equal((await call(reg, 'HEAD', `/v2/pull/app/manifests/${img.digest}`)).status, 200);
  });

  test('an unknown manifest is 404 MANIFEST_UNKNOWN, by tag and by digest', async () => {
    const t = await call(reg, 'GET', '/v2/pull/app/manifests/nope');
    assert.equal(t.status, 404);
    assert.equal(errorCode(t), 'MANIFEST_UNKNOWN');
    const d = await call(reg, 'GET', `/v2/pull/app/manifests/${digestOf('nothing')}`);
    assert.equal(d.status, 404);
    assert.equal(errorCode(d), 'MANIFEST_UNKNOWN');
    assert.equal((await call(reg, 'HEAD', '/v2/pull/app/manifests/nope')).status, 404);
  });

  test('GET and HEAD of a blob: its bytes, Content-Length, Docker-Content-Digest', async () => {
    const r = await call(reg, 'GET', `/v2/pull/app/blobs/${img.layer}`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, layer);
    assert.equal(r.headers['docker-content-digest'], img.layer);
    const h = await call(reg, 'HEAD', `/v2/pull/app/blobs/${img.layer}`);
    assert.equal(h.status, 200);
    assert.equal(h.headers['content-length'], '4096');
    assert.equal(h.headers['accept-ranges'], 'bytes');
  });

  test('a blob GET with Range answers 206 with Content-Range; past the end is 416', async () => {
    const r = await call(reg, 'GET', `/v2/pull/app/blobs/${img.layer}`, {
      headers: { Range: 'bytes=100-199' },
    });
    assert.equal(r.status, 206);
    assert.equal(r.headers['content-range'], 'bytes 100-199/4096');
    assert.deepEqual(r.body, layer.subarray(100, 200));
    const tail = await call(reg, 'GET', `/v2/pull/app/blobs/${img.layer}`, {
      headers: { Range: 'bytes=4000-' },
    });
    assert.equal(tail.status, 206);
    assert.deepEqual(tail.body, layer.subarray(4000));
    const bad = await call(reg, 'GET', `/v2/pull/app/blobs/${img.layer}`, {
      headers: { Range: 'bytes=5000-' },
    });
    assert.equal(bad.status, 416);
    assert.equal(bad.headers['content-range'], 'bytes */4096');
  });

  test('an unknown blob is 404 BLOB_UNKNOWN; a blob of another repository is not visible here', async () => {
    const r = await call(reg, 'GET', `/v2/pull/app/blobs/${digestOf('absent')}`);
    assert.equal(r.status, 404);
    assert.equal(errorCode(r), 'BLOB_UNKNOWN');
    assert.equal((await call(reg, 'HEAD', `/v2/pull/app/blobs/${digestOf('absent')}`)).status, 404);
    const other = await call(reg, 'GET', `/v2/pull/other/blobs/${img.layer}`);
    assert.equal(other.status, 404);
    assert.equal(errorCode(other), 'BLOB_UNKNOWN');
  });

  test('Accept negotiation: a client that lists only other manifest types gets 404 MANIFEST_UNKNOWN', async () => {
    const r = await call(reg, 'GET', '/v2/pull/app/manifests/v1', {
      headers: { Accept: DOCKER_MANIFEST },
    });
    assert.equal(r.status, 404);
    assert.equal(errorCode(r), 'MANIFEST_UNKNOWN');
    const ok = await call(reg, 'GET', '/v2/pull/app/manifests/v1', {
      headers: { Accept: `${DOCKER_MANIFEST}, ${OCI_MANIFEST}` },
    });
    assert.equal(ok.status, 200);
  });

  test('invalid names are 400 NAME_INVALID, path traversal included; a bad digest is DIGEST_INVALID', async () => {
    for (const p of [
      '/v2/../../etc/manifests/passwd',
      '/v2/a/../b/manifests/x',
      '/v2/%2e%2e/manifests/x',
      '/v2/UPPER/manifests/x',
      '/v2/a//b/tags/list',
    ]) {
      const r = await call(reg, 'GET', p);
      assert.equal(r.status, 400, p);
      assert.equal(errorCode(r), 'NAME_INVALID', p);
    }
    const d = await call(reg, 'GET', '/v2/pull/app/blobs/sha256:xyz');
    assert.equal(d.status, 400);
    assert.equal(errorCode(d), 'DIGEST_INVALID');
  });
});

describe('push', () => {
  test('POST then PUT: 202 with Location and Docker-Upload-UUID, then 201 with the blob Location', async () => {
    const data = randomBytes(2048);
    const post = await call(reg, 'POST', '/v2/push/a/blobs/uploads/');
    assert.equal(post.status, 202);
    const loc = post.headers.location as string;
    assert.match(loc, /^\/v2\/push\/a\/blobs\/uploads\/[a-f0-9-]+$/);
    assert.ok(post.headers['docker-upload-uuid']);
    assert.equal(post.headers.range, '0-0');
    const d = digestOf(data);
    const put = await call(reg, 'PUT', `${loc}?digest=${d}`, {
      headers: { 'Content-Type': 'application/octet-stream' },
      body: data,
    });
    assert.equal(put.status, 201);
    assert.equal(put.headers.location, `/v2/push/a/blobs/${d}`);
    assert.equal(put.headers['docker-content-digest'], d);
    assert.deepEqual((await call(reg, 'GET', `/v2/push/a/blobs/${d}`)).body, data);
  });

  test('monolithic POST ?digest= in one request: 201', async () => {
    const data = randomBytes(512);
    const d = digestOf(data);
    const r = await call(reg, 'POST', `/v2/push/a/blobs/uploads/?digest=${d}`, {
      headers: { 'Content-Type': 'application/octet-stream' },
      body: data,
    });
    assert.equal(r.status, 201);
    assert.equal(r.headers.location, `/v2/push/a/blobs/${d}`);
    assert.equal((await call(reg, 'HEAD', `/v2/push/a/blobs/${d}`)).status, 200);
  });

  test('a digest that does not match the bytes is 400 DIGEST_INVALID and publishes nothing', async () => {
    const wrong = digestOf('something else');
    const r = await call(reg, 'POST', `/v2/push/a/blobs/uploads/?digest=${wrong}`, {
      body: 'the bytes',
    });
    assert.equal(r.status, 400);
    assert.equal(errorCode(r), 'DIGEST_INVALID');
    assert.equal((await call(reg, 'HEAD', `/v2/push/a/blobs/${wrong}`)).status, 404);
    assert.equal(
      (await call(reg, 'HEAD', `/v2/push/a/blobs/${digestOf('the bytes')}`)).status,
      404,
    );
    const post = await call(reg, 'POST', '/v2/push/a/blobs/uploads/');
    const put = await call(reg, 'PUT', `${post.headers.location}?digest=${wrong}`, {
      body: 'other bytes',
    });
    assert.equal(put.status, 400);
    assert.equal(errorCode(put), 'DIGEST_INVALID');
  });

  test('chunked upload: PATCH with Content-Range, 202 with Range; GET status; final PUT', async () => {
    const data = randomBytes(3000);
    const post = await call(reg, 'POST', '/v2/push/chunked/blobs/uploads/');
    let loc = post.headers.location as string;
    const p1 = await call(reg, 'PATCH', loc, {
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': '0-999' },
      body: data.subarray(0, 1000),
    });
    assert.equal(p1.status, 202);
    assert.equal(p1.headers.range, '0-999');
    loc = p1.headers.location as string;
    const st = await call(reg, 'GET', loc);
    assert.equal(st.status, 204);
    assert.equal(st.headers.range, '0-999');
    assert.equal(st.headers['docker-upload-uuid'], post.headers['docker-upload-uuid']);
    const p2 = await call(reg, 'PATCH', loc, {
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': '1000-1999' },
      body: data.subarray(1000, 2000),
    });
    assert.equal(p2.status, 202);
    assert.equal(p2.headers.range, '0-1999');
    const put = await call(reg, 'PUT', `${loc}?digest=${digestOf(data)}`, {
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': '2000-2999' },
      body: data.subarray(2000),
    });
    assert.equal(put.status, 201);
    assert.deepEqual(
      (await call(reg, 'GET', `/v2/push/chunked/blobs/${digestOf(data)}`)).body,
      data,
    );
  });

  test('an out-of-order chunk is 416 with the current Range, and the upload is left as it was', async () => {
    const post = await call(reg, 'POST', '/v2/push/chunked/blobs/uploads/');
    const loc = post.headers.location as string;
    await call(reg, 'PATCH', loc, { headers: { 'Content-Range': '0-9' }, body: '0123456789' });
    const r = await call(reg, 'PATCH', loc, {
      headers: { 'Content-Range': '20-29' },
      body: 'abcdefghij',
    });
    assert.equal(r.status, 416);
    assert.equal(errorCode(r), 'BLOB_UPLOAD_INVALID');
    assert.equal(r.headers.range, '0-9');
    const again = await call(reg, 'PATCH', loc, {
      headers: { 'Content-Range': '0-9' },
      body: '0123456789',
    });
    assert.equal(again.status, 416);
    assert.equal((await call(reg, 'GET', loc)).headers.range, '0-9');
    const put = await call(reg, 'PUT', `${loc}?digest=${digestOf('0123456789')}`);
    assert.equal(put.status, 201);
  });

  test('streamed PATCH without Content-Range appends; closing PUT without a body', async () => {
    const post = await call(reg, 'POST', '/v2/push/stream/blobs/uploads/');
    let loc = post.headers.location as string;
    const p = await call(reg, 'PATCH', loc, { body: 'hello ' });
    loc = p.headers.location as string;
    const q = await call(reg, 'PATCH', loc, { body: 'world' });
    assert.equal(q.headers.range, '0-10');
    const put = await call(reg, 'PUT', `${q.headers.location}?digest=${digestOf('hello world')}`);
    assert.equal(put.status, 201);
  });

  test('an unknown or cancelled upload is 404 BLOB_UPLOAD_UNKNOWN; DELETE of an upload is 204', async () => {
    const r = await call(
      reg,
      'GET',
      '/v2/push/a/blobs/uploads/00000000-0000-0000-0000-000000000000',
    );
    assert.equal(r.status, 404);
    assert.equal(errorCode(r), 'BLOB_UPLOAD_UNKNOWN');
    const bogus = await call(reg, 'PATCH', '/v2/push/a/blobs/uploads/..%2f..%2fetc', { body: 'x' });
    assert.equal(errorCode(bogus), 'BLOB_UPLOAD_UNKNOWN');
    const post = await call(reg, 'POST', '/v2/push/a/blobs/uploads/');
    const loc = post.headers.location as string;
    // An upload belongs to the repository it was started in.
    const elsewhere = await call(reg, 'GET', loc.replace('/push/a/', '/push/b/'));
    assert.equal(errorCode(elsewhere), 'BLOB_UPLOAD_UNKNOWN');
    assert.equal((await call(reg, 'DELETE', loc)).status, 204);
    const gone = await call(reg, 'GET', loc);
    assert.equal(gone.status, 404);
    assert.equal(errorCode(gone), 'BLOB_UPLOAD_UNKNOWN');
  });

  test('a PUT without ?digest is 400 DIGEST_INVALID', async () => {
    const post = await call(reg, 'POST', '/v2/push/a/blobs/uploads/');
    const r = await call(reg, 'PUT', post.headers.location as string, { body: 'x' });
    assert.equal(r.status, 400);
    assert.equal(errorCode(r), 'DIGEST_INVALID');
  });

  test('cross-repository mount: 201 when the source has the blob, else a new upload (202)', async () => {
    const d = await pushBlob(reg, 'mount/src', randomBytes(700));
    const r = await call(reg, 'POST', `/v2/mount/dst/blobs/uploads/?mount=${d}&from=mount/src`);
    assert.equal(r.status, 201);
    assert.equal(r.headers.location, `/v2/mount/dst/blobs/${d}`);
    assert.equal(r.headers['docker-content-digest'], d);
    assert.equal((await call(reg, 'HEAD', `/v2/mount/dst/blobs/${d}`)).status, 200);
    const miss = await call(
      reg,
      'POST',
      `/v2/mount/dst/blobs/uploads/?mount=${digestOf('x')}&from=mount/src`,
    );
    assert.equal(miss.status, 202);
    assert.match(miss.headers.location as string, /\/v2\/mount\/dst\/blobs\/uploads\//);
    const bad = await call(reg, 'POST', `/v2/mount/dst/blobs/uploads/?mount=${d}&from=../x`);
    assert.equal(errorCode(bad), 'NAME_INVALID');
  });

  test('blobs are deduplicated across repositories: one file on disk', async () => {
    const data = randomBytes(900);
    const d = await pushBlob(reg, 'dedup/one', data);
    await pushBlob(reg, 'dedup/two', data);
    const file = path.join(reg.root, 'data', 'blobs', 'sha256', d.slice(7));
    assert.equal((await fs.stat(file)).nlink, 1);
    const names = await fs.readdir(path.join(reg.root, 'data', 'blobs', 'sha256'));
    assert.equal(names.filter((n) => n === d.slice(7)).length, 1);
  });

  test('PUT of a manifest by tag: 201 with Location and Docker-Content-Digest', async () => {
    const img = await pushImage(reg, 'push/img', 'latest');
    const r = await call(reg, 'HEAD', '/v2/push/img/manifests/latest');
    assert.equal(r.headers['docker-content-digest'], img.digest);
    const again = await call(reg, 'PUT', '/v2/push/img/manifests/again', {
      headers: { 'Content-Type': OCI_MANIFEST },
      body: img.body,
    });
    assert.equal(again.status, 201);
    assert.equal(again.headers.location, `/v2/push/img/manifests/${img.digest}`);
    assert.equal(again.headers['docker-content-digest'], img.digest);
  });

  test('PUT of a manifest by digest; a digest that does not match is DIGEST_INVALID', async () => {
    const img = await pushImage(reg, 'push/bydigest', 'tmp');
    const body = img.body.replace('"schemaVersion":2', '"schemaVersion":2,"annotations":{"k":"v"}');
    const d = digestOf(body);
    const r = await call(reg, 'PUT', `/v2/push/bydigest/manifests/${d}`, {
      headers: { 'Content-Type': OCI_MANIFEST },
      body,
    });
    assert.equal(r.status, 201);
    assert.equal(
      (await call(reg, 'GET', `/v2/push/bydigest/manifests/${d}`)).body.toString(),
      body,
    );
    const bad = await call(reg, 'PUT', `/v2/push/bydigest/manifests/${digestOf('x')}`, {
      headers: { 'Content-Type': OCI_MANIFEST },
      body,
    });
    assert.equal(bad.status, 400);
    assert.equal(errorCode(bad), 'DIGEST_INVALID');
  });

  test('a manifest naming a blob the repository does not have is MANIFEST_BLOB_UNKNOWN', async () => {
    const cfg = await pushBlob(reg, 'push/missing', '{}');
    const body = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cfg, size: 2 },
      layers: [
        { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digestOf('nope'), size: 4 },
      ],
    });
    const r = await call(reg, 'PUT', '/v2/push/missing/manifests/v1', {
      headers: { 'Content-Type': OCI_MANIFEST },
      body,
    });
    assert.equal(r.status, 400);
    assert.equal(errorCode(r), 'MANIFEST_BLOB_UNKNOWN');
    assert.equal((await call(reg, 'GET', '/v2/push/missing/manifests/v1')).status, 404);
  });

  test('malformed manifests and schema 1 are MANIFEST_INVALID', async () => {
    const cases: [string, string][] = [
      ['{"schemaVersion":', OCI_MANIFEST],
      [
        '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}',
        OCI_MANIFEST,
      ],
      [
        '{"schemaVersion":1,"name":"x","tag":"y","architecture":"amd64","fsLayers":[],"history":[]}',
        'application/vnd.docker.distribution.manifest.v1+prettyjws',
      ],
      [
        '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}',
        OCI_MANIFEST,
      ],
    ];
    for (const [body, ct] of cases) {
      const r = await call(reg, 'PUT', '/v2/push/bad/manifests/x', {
        headers: { 'Content-Type': ct },
        body,
      });
      assert.equal(r.status, 400, body);
      assert.equal(errorCode(r), 'MANIFEST_INVALID', body);
    }
  });

  test('a manifest over the size limit is 413', async () => {
    const body = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [],
      annotations: { pad: 'x'.repeat(4 * 1024 * 1024) },
    });
    // The refused body is read to its end before the answer, so the client, still sending,
    // gets the 413 rather than a reset: every time, not most times.
    for (let i = 0; i < 10; i++) {
      const r = await call(reg, 'PUT', '/v2/push/big/manifests/x', {
        headers: { 'Content-Type': OCI_INDEX },
        body,
      });
      assert.equal(r.status, 413);
      assert.equal(errorCode(r), 'MANIFEST_INVALID');
    }
  });

  test('Docker schema 2 manifests and manifest lists, OCI indexes: stored and served as pushed', async () => {
    const cfg = await pushBlob(reg, 'push/docker', '{"os":"linux"}');
    const lay = await pushBlob(reg, 'push/docker', 'layer-bytes');
    const m = JSON.stringify({
      schemaVersion: 2,
      mediaType: DOCKER_MANIFEST,
      config: {
        mediaType: 'application/vnd.docker.container.image.v1+json',
        digest: cfg,
        size: 14,
      },
      layers: [
        { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: lay, size: 11 },
      ],
    });
    const r = await call(reg, 'PUT', '/v2/push/docker/manifests/amd64', {
      headers: { 'Content-Type': DOCKER_MANIFEST },
      body: m,
    });
    assert.equal(r.status, 201);
    const list = JSON.stringify({
      schemaVersion: 2,
      mediaType: DOCKER_LIST,
      manifests: [
        {
          mediaType: DOCKER_MANIFEST,
          digest: digestOf(m),
          size: m.length,
          platform: { architecture: 'amd64', os: 'linux' },
        },
      ],
    });
    assert.equal(
      (
        await call(reg, 'PUT', '/v2/push/docker/manifests/latest', {
          headers: { 'Content-Type': DOCKER_LIST },
          body: list,
        })
      ).status,
      201,
    );
    const got = await call(reg, 'GET', '/v2/push/docker/manifests/latest');
    assert.equal(got.headers['content-type'], DOCKER_LIST);
    assert.equal(got.body.toString(), list);
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{ mediaType: DOCKER_MANIFEST, digest: digestOf(m), size: m.length }],
    });
    assert.equal(
      (
        await call(reg, 'PUT', '/v2/push/docker/manifests/idx', {
          headers: { 'Content-Type': OCI_INDEX },
          body: index,
        })
      ).status,
      201,
    );
    const dangling = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{ mediaType: OCI_MANIFEST, digest: digestOf('zz'), size: 2 }],
    });
    const d = await call(reg, 'PUT', '/v2/push/docker/manifests/dangling', {
      headers: { 'Content-Type': OCI_INDEX },
      body: dangling,
    });
    assert.equal(errorCode(d), 'MANIFEST_BLOB_UNKNOWN');
  });

  test('a manifest with a subject answers with OCI-Subject, even when the subject is absent', async () => {
    const absent = digestOf('not pushed');
    const a = await pushImage(reg, 'push/subject', 'sig', {
      subject: { digest: absent, size: 10 },
      artifactType: 'application/x.sig',
    });
    const r = await call(reg, 'PUT', '/v2/push/subject/manifests/sig2', {
      headers: { 'Content-Type': OCI_MANIFEST },
      body: a.body,
    });
    assert.equal(r.status, 201);
    assert.equal(r.headers['oci-subject'], absent);
  });
});

describe('content discovery', () => {
  before(async () => {
    const img = await pushImage(reg, 'disc/tags', 'seed');
    for (const t of ['b', 'a', 'd', 'c', 'e']) {
      await call(reg, 'PUT', `/v2/disc/tags/manifests/${t}`, {
        headers: { 'Content-Type': OCI_MANIFEST },
        body: img.body,
      });
    }
  });

  test('the tag list is every tag in lexical order', async () => {
    const r = await call(reg, 'GET', '/v2/disc/tags/tags/list');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { name: 'disc/tags', tags: ['a', 'b', 'c', 'd', 'e', 'seed'] });
    assert.equal(r.headers.link, undefined);
  });

  test('n limits the list, with a Link to the next page; last continues after a tag', async () => {
    const r = await call(reg, 'GET', '/v2/disc/tags/tags/list?n=2');
    assert.deepEqual((r.json as { tags: string[] }).tags, ['a', 'b']);
    assert.equal(r.headers.link, '</v2/disc/tags/tags/list?n=2&last=b>; rel="next"');
    const next = await call(reg, 'GET', '/v2/disc/tags/tags/list?n=2&last=b');
    assert.deepEqual((next.json as { tags: string[] }).tags, ['c', 'd']);
    const end = await call(reg, 'GET', '/v2/disc/tags/tags/list?n=10&last=d');
    assert.deepEqual((end.json as { tags: string[] }).tags, ['e', 'seed']);
    assert.equal(end.headers.link, undefined);
    const zero = await call(reg, 'GET', '/v2/disc/tags/tags/list?n=0');
    assert.deepEqual((zero.json as { tags: string[] }).tags, []);
  });

  test('the tag list of an unknown repository is 404 NAME_UNKNOWN', async () => {
    const r = await call(reg, 'GET', '/v2/disc/none/tags/list');
    assert.equal(r.status, 404);
    assert.equal(errorCode(r), 'NAME_UNKNOWN');
  });

  test('the catalog lists repositories, paginated', async () => {
    const all = await call(reg, 'GET', '/v2/_catalog');
    const repos = (all.json as { repositories: string[] }).repositories;
    assert.ok(repos.includes('disc/tags'));
    assert.deepEqual(repos, [...repos].sort());
    const page = await call(reg, 'GET', '/v2/_catalog?n=1');
    assert.equal((page.json as { repositories: string[] }).repositories.length, 1);
    assert.match(page.headers.link as string, /^<\/v2\/_catalog\?n=1&last=[^>]+>; rel="next"$/);
  });

  test('the referrers API lists manifests by subject as an OCI index, filtered by artifactType', async () => {
    const subject = await pushImage(reg, 'disc/ref', 'subject');
    const size = Buffer.byteLength(subject.body);
    const empty = await pushBlob(reg, 'disc/ref', '{}');
    const put = async (artifactType: string, tag: string): Promise<string> => {
      const body = JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType,
        config: { mediaType: OCI_EMPTY, digest: empty, size: 2 },
        layers: [{ mediaType: OCI_EMPTY, digest: empty, size: 2 }],
        subject: { mediaType: OCI_MANIFEST, digest: subject.digest, size },
        annotations: { 'org.example.tag': tag },
      });
      const r = await call(reg, 'PUT', `/v2/disc/ref/manifests/${tag}`, {
        headers: { 'Content-Type': OCI_MANIFEST },
        body,
      });
      assert.equal(r.headers['oci-subject'], subject.digest);
      return digestOf(body);
    };
    const sig = await put('application/x.signature', 'sig');
    const sbom = await put('application/x.sbom', 'sbom');
    const r = await call(reg, 'GET', `/v2/disc/ref/referrers/${subject.digest}`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], OCI_INDEX);
    const idx = r.json as {
      schemaVersion: number;
      mediaType: string;
      manifests: { digest: string; artifactType: string; annotations: Record<string, string> }[];
    };
    assert.equal(idx.schemaVersion, 2);
    assert.equal(idx.mediaType, OCI_INDEX);
    assert.deepEqual(idx.manifests.map((m) => m.digest).sort(), [sig, sbom].sort());
    const sigDesc = idx.manifests.find((m) => m.digest === sig);
    assert.equal(sigDesc?.artifactType, 'application/x.signature');
    assert.equal(sigDesc?.annotations['org.example.tag'], 'sig');
    const f = await call(
      reg,
      'GET',
      `/v2/disc/ref/referrers/${subject.digest}?artifactType=application/x.sbom`,
    );
    assert.equal(f.headers['oci-filters-applied'], 'artifactType');
    assert.deepEqual(
      (f.json as typeof idx).manifests.map((m) => m.digest),
      [sbom],
    );
    const none = await call(reg, 'GET', `/v2/disc/ref/referrers/${digestOf('no referrers')}`);
    assert.equal(none.status, 200);
    assert.deepEqual((none.json as typeof idx).manifests, []);
    const bad = await call(reg, 'GET', '/v2/disc/ref/referrers/sha256:bad');
    assert.equal(bad.status, 400);
    assert.equal(errorCode(bad), 'DIGEST_INVALID');
  });
});

describe('content management', () => {
  test('DELETE of a tag: 202; the tag is gone, the manifest stays by digest', async () => {
    const img = await pushImage(reg, 'mgmt/tag', 'one');
    await call(reg, 'PUT', '/v2/mgmt/tag/manifests/two', {
      headers: { 'Content-Type': OCI_MANIFEST },
      body: img.body,
    });
    assert.equal((await call(reg, 'DELETE', '/v2/mgmt/tag/manifests/one')).status, 202);
    assert.equal((await call(reg, 'GET', '/v2/mgmt/tag/manifests/one')).status, 404);
    assert.equal((await call(reg, 'GET', `/v2/mgmt/tag/manifests/${img.digest}`)).status, 200);
    assert.deepEqual((await call(reg, 'GET', '/v2/mgmt/tag/tags/list')).json, {
      name: 'mgmt/tag',
      tags: ['two'],
    });
    const again = await call(reg, 'DELETE', '/v2/mgmt/tag/manifests/one');
    assert.equal(again.status, 404);
    assert.equal(errorCode(again), 'MANIFEST_UNKNOWN');
  });

  test('DELETE of a manifest by digest: 202; it and its tags are gone (404 MANIFEST_UNKNOWN)', async () => {
    const img = await pushImage(reg, 'mgmt/man', 'v1');
    assert.equal((await call(reg, 'DELETE', `/v2/mgmt/man/manifests/${img.digest}`)).status, 202);
    const r = await call(reg, 'GET', `/v2/mgmt/man/manifests/${img.digest}`);
    assert.equal(r.status, 404);
    assert.equal(errorCode(r), 'MANIFEST_UNKNOWN');
    assert.equal((await call(reg, 'GET', '/v2/mgmt/man/manifests/v1')).status, 404);
    assert.equal(
      errorCode(await call(reg, 'DELETE', `/v2/mgmt/man/manifests/${img.digest}`)),
      'MANIFEST_UNKNOWN',
    );
  });

  test('a deleted referrer leaves the referrers list', async () => {
    const subject = await pushImage(reg, 'mgmt/ref', 's');
    const ref = await pushImage(reg, 'mgmt/ref', 'r', {
      subject: { digest: subject.digest, size: Buffer.byteLength(subject.body) },
    });
    const before = await call(reg, 'GET', `/v2/mgmt/ref/referrers/${subject.digest}`);
    assert.equal((before.json as { manifests: unknown[] }).manifests.length, 1);
    await call(reg, 'DELETE', `/v2/mgmt/ref/manifests/${ref.digest}`);
    const afterDel = await call(reg, 'GET', `/v2/mgmt/ref/referrers/${subject.digest}`);
    assert.deepEqual((afterDel.json as { manifests: unknown[] }).manifests, []);
  });

  test('DELETE of a blob: 202; then 404 BLOB_UNKNOWN in that repository only', async () => {
    const data = randomBytes(300);
    const d = await pushBlob(reg, 'mgmt/blob', data);
    await pushBlob(reg, 'mgmt/blob2', data);
    assert.equal((await call(reg, 'DELETE', `/v2/mgmt/blob/blobs/${d}`)).status, 202);
    const r = await call(reg, 'GET', `/v2/mgmt/blob/blobs/${d}`);
    assert.equal(r.status, 404);
    assert.equal(errorCode(r), 'BLOB_UNKNOWN');
    assert.equal((await call(reg, 'GET', `/v2/mgmt/blob2/blobs/${d}`)).status, 200);
    assert.equal(errorCode(await call(reg, 'DELETE', `/v2/mgmt/blob/blobs/${d}`)), 'BLOB_UNKNOWN');
  });

  test('methods a route does not have are 405 UNSUPPORTED', async () => {
    const r = await call(reg, 'POST', '/v2/mgmt/blob/tags/list');
    assert.equal(r.status, 405);
    assert.equal(errorCode(r), 'UNSUPPORTED');
  });
});

describe('server modes and limits', () => {
  test('read-only: reads work, every write is 405 UNSUPPORTED', async () => {
    const ro = await startRegistry(['--read-only'], { root: undefined });
    try {
      assert.equal((await call(ro, 'GET', '/v2/')).status, 200);
      for (const [m, p] of [
        ['POST', '/v2/x/blobs/uploads/'],
        ['PUT', '/v2/x/manifests/t'],
        ['DELETE', `/v2/x/blobs/${digestOf('a')}`],
      ] as const) {
        const r = await call(ro, m, p, { body: '{}' });
        assert.equal(r.status, 405, `${m} ${p}`);
        assert.equal(errorCode(r), 'UNSUPPORTED');
      }
    } finally {
      await ro.stop();
    }
  });

  test('upload size limit: 413 SIZE_INVALID; concurrent upload bound: 429 TOOMANYREQUESTS', async () => {
    const lim = await startRegistry(['--max-upload-size', '1k', '--max-concurrent-uploads', '1']);
    try {
      const big = randomBytes(2048);
      const r = await call(lim, 'POST', `/v2/x/blobs/uploads/?digest=${digestOf(big)}`, {
        body: big,
      });
      assert.equal(r.status, 413);
      assert.equal(errorCode(r), 'SIZE_INVALID');
      const post = await call(lim, 'POST', '/v2/x/blobs/uploads/');
      const loc = post.headers.location as string;
      const chunked = await call(lim, 'PATCH', loc, { body: randomBytes(800) });
      assert.equal(chunked.status, 202);
      const over = await call(lim, 'PATCH', loc, { body: randomBytes(800) });
      assert.equal(over.status, 413);
      assert.equal((await call(lim, 'GET', loc)).headers.range, '0-799');

      const post2 = await call(lim, 'POST', '/v2/x/blobs/uploads/');
      const slow = call(lim, 'PATCH', post2.headers.location as string, {
        headers: { 'Content-Length': '100' },
        slowBody: { pieces: [Buffer.alloc(50), Buffer.alloc(50)], pauseMs: 1500 },
      });
      await new Promise((res) => setTimeout(res, 500));
      const busy = await call(lim, 'PATCH', loc, { body: 'x' });
      assert.equal(busy.status, 429);
      assert.equal(errorCode(busy), 'TOOMANYREQUESTS');
      assert.equal((await slow).status, 202);
    } finally {
      await lim.stop();
    }
  });

  test('upload sessions are bounded: past the limit a new one is 429 TOOMANYREQUESTS', async () => {
    const lim = await startRegistry(['--max-upload-sessions', '2']);
    try {
      const a = await call(lim, 'POST', '/v2/x/blobs/uploads/');
      assert.equal((await call(lim, 'POST', '/v2/x/blobs/uploads/')).status, 202);
      const r = await call(lim, 'POST', '/v2/x/blobs/uploads/');
      assert.equal(r.status, 429);
      assert.equal(errorCode(r), 'TOOMANYREQUESTS');
      assert.equal(r.headers['retry-after'], '1');
      assert.equal((await call(lim, 'DELETE', a.headers.location as string)).status, 204);
      assert.equal((await call(lim, 'POST', '/v2/x/blobs/uploads/')).status, 202);
    } finally {
      await lim.stop();
    }
  });

  test('connections past --max-connections are closed on arrival', async () => {
    const lim = await startRegistry(['--max-connections', '2']);
    const sockets: net.Socket[] = [];
    try {
      const open = (): Promise<net.Socket> =>
        new Promise((resolve, reject) => {
          const s = net.connect(lim.port, '127.0.0.1', () => resolve(s));
          s.on('error', reject);
          sockets.push(s);
        });
      await open();
      await open();
      const third = await open();
      const closed = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 10_000);
        third.on('close', () => {
          clearTimeout(timer);
          resolve(true);
        });
        third.on('error', () => undefined);
      });
      assert.ok(closed, 'the third connection was closed');
      for (const s of sockets) s.destroy();
      // Once the others are gone, the registry answers again.
      await new Promise((r) => setTimeout(r, 200));
      assert.equal((await call(lim, 'GET', '/v2/')).status, 200);
    } finally {
      for (const s of sockets) s.destroy();
      await lim.stop();
    }
  });

  test('an idle connection is closed after the idle timeout', async () => {
    const idle = await startRegistry(['--idle-timeout', '1s']);
    try {
      const closed = await new Promise<boolean>((resolve) => {
        const s = net.connect(idle.port, '127.0.0.1');
        const timer = setTimeout(() => {
          s.destroy();
          resolve(false);
        }, 20_000);
        s.on('close', () => {
          clearTimeout(timer);
          resolve(true);
        });
        s.on('error', () => undefined);
      });
      assert.ok(closed, 'the server closed the idle socket');
    } finally {
      await idle.stop();
    }
  });
});
