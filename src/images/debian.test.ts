import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { InvalidArgumentError, SystemError, UnavailableError } from '../errors/index.js';
import {
  debianRootfs,
  debianSources,
  debianTarget,
  hostMirrors,
  mmdebstrapArgs,
  parseDeb822,
  parseSourcesList,
  pickMirrors,
} from './debian.js';

const mirrors = {
  archive: 'http://deb.debian.org/debian',
  security: 'http://deb.debian.org/debian-security',
};

describe('debianTarget', () => {
  it('takes codenames, aliases, numbers and -slim', () => {
    assert.deepEqual(debianTarget('bookworm'), { suite: 'bookworm', tag: 'bookworm', slim: false });
    assert.deepEqual(debianTarget('bookworm-slim'), {
      suite: 'bookworm',
      tag: 'bookworm-slim',
      slim: true,
    });
    assert.equal(debianTarget('12-slim').suite, 'bookworm');
    assert.equal(debianTarget('13').suite, 'trixie');
    assert.equal(debianTarget('latest').suite, 'stable');
    assert.equal(debianTarget('stable-slim').suite, 'stable');
    assert.equal(debianTarget('sid').suite, 'sid');
  });

  it('refuses what Debian has no suite for', () => {
    for (const t of ['nosuch', 'bookworm-fat', 'latest-slim', '12.5', '', 'slim']) {
      assert.throws(() => debianTarget(t), InvalidArgumentError, t);
    }
  });
});

describe('apt sources', () => {
  it('reads one-line and deb822 sources', () => {
    assert.deepEqual(
      parseSourcesList(
        '# comment\ndeb-src http://x/debian bookworm main\n' +
          'deb [signed-by=/k.gpg arch=amd64] http://m/debian bookworm main contrib # c\n',
      ),
      [{ uri: 'http://m/debian', suites: ['bookworm'] }],
    );
    const deb822 =
      'Types: deb\n# a comment\nURIs: http://deb.debian.org/debian\n' +
      'Suites: bookworm bookworm-updates\nComponents: main\n\n' +
      'Types: deb deb-src\nURIs: http://a/debian-security\n http://b/debian-security\n' +
      'Suites: bookworm-security\nComponents: main\n\n' +
      'Enabled: no\nTypes: deb\nURIs: http://off/debian\nSuites: sid\n';
    assert.deepEqual(parseDeb822(deb822), [
      { uri: 'http://deb.debian.org/debian', suites: ['bookworm', 'bookworm-updates'] },
      { uri: 'http://a/debian-security', suites: ['bookworm-security'] },
      { uri: 'http://b/debian-security', suites: ['bookworm-security'] },
    ]);
  });

  it('picks the archive and the security mirror, ignoring other archives', () => {
    const sources = [
      { uri: 'https://deb.nodesource.com/node_20.x', suites: ['nodistro'] },
      { uri: 'http://sec/debian-security', suites: ['bookworm-security'] },
      { uri: 'http://mirror/debian', suites: ['bookworm-updates'] },
    ];
    assert.deepEqual(pickMirrors(sources), {
      archive: 'http://mirror/debian',
      security: 'http://sec/debian-security',
    });
    assert.equal(pickMirrors(sources.slice(0, 1)), undefined);
  });

  it('reads the host layout from a directory; no Debian source is Unavailable', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-apt-'));
    try {
      await fs.mkdir(path.join(dir, 'sources.list.d'));
      await fs.writeFile(
        path.join(dir, 'sources.list.d', 'x.list.disabled'),
        'deb http://no/debian bookworm main\n',
      );
      await assert.rejects(hostMirrors(dir), UnavailableError);
      await fs.writeFile(
        path.join(dir, 'sources.list.d', 'debian.sources'),
        'Types: deb\nURIs: http://m/debian\nSuites: trixie\nComponents: main\n',
      );
      assert.deepEqual(await hostMirrors(dir), { archive: 'http://m/debian' });
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('what the image is made with', () => {
  it("writes deb822 sources like Debian's images", () => {
    assert.equal(
      debianSources(debianTarget('bookworm'), mirrors),
      'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\n' +
        'Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n' +
        'Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\n' +
        'Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n',
    );
    assert.equal(
      debianSources(debianTarget('sid'), mirrors),
      'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: sid\nComponents: main\n' +
        'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n',
    );
  });

  it('runs mmdebstrap minbase to stdout; slim adds the dpkg excludes early', () => {
    const full = mmdebstrapArgs(debianTarget('bookworm'), mirrors);
    assert.ok(full.includes('--variant=minbase'));
    assert.ok(full.includes('--format=tar'));
    assert.deepEqual(full.slice(-4), [
      'bookworm',
      '-',
      'deb http://deb.debian.org/debian bookworm bookworm-updates main',
      'deb http://deb.debian.org/debian-security bookworm-security main',
    ]);
    const customize = full.find((a) => a.startsWith('--customize-hook=')) ?? '';
    assert.match(customize, /debian\.sources/);
    const early = full.find((a) => a.startsWith('--setup-hook=')) ?? '';
    assert.match(early, /policy-rc\.d/);
    assert.match(early, /docker-clean/);
    assert.doesNotMatch(customize, /path-exclude/);
    const slim = mmdebstrapArgs(debianTarget('bookworm-slim'), mirrors);
    const setup = slim.find((a) => a.startsWith('--setup-hook=')) ?? '';
    assert.match(setup, /path-exclude \/usr\/share\/man\/\*/);
    assert.match(setup, /path-include \/usr\/share\/doc\/\*\/copyright/);
    assert.match(slim.find((a) => a.startsWith('--customize-hook=')) ?? '', /-delete/);
  });
});

describe('debianRootfs', () => {
  const fake = async (script: string): Promise<{ bin: string; done: () => Promise<void> }> => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-mmdeb-'));
    const bin = path.join(dir, 'mmdebstrap');
    await fs.writeFile(bin, `#!/bin/sh\n${script}\n`, { mode: 0o755 });
    return { bin, done: () => fs.rm(dir, { recursive: true, force: true }) };
  };

  it('streams the tar and reports progress lines', async () => {
    const f = await fake('echo "I: one" >&2; echo "I: two" >&2; printf TARBYTES');
    try {
      const lines: string[] = [];
      const build = debianRootfs(debianTarget('bookworm'), mirrors, {
        binary: f.bin,
        onProgress: (l) => lines.push(l),
      });
      const chunks: Buffer[] = [];
      for await (const c of build.tar) chunks.push(c as Buffer);
      await build.done;
      assert.equal(Buffer.concat(chunks).toString(), 'TARBYTES');
      assert.deepEqual(lines, ['I: one', 'I: two']);
    } finally {
      await f.done();
    }
  });

  it('fails with the error line when mmdebstrap fails', async () => {
    const f = await fake('echo "I: working" >&2; echo "E: Release file not found" >&2; exit 1');
    try {
      const build = debianRootfs(debianTarget('bookworm'), mirrors, { binary: f.bin });
      build.tar.resume();
      await assert.rejects(
        build.done,
        (err: unknown) =>
          err instanceof SystemError && /exit 1\): E: Release file not found/.test(err.message),
      );
    } finally {
      await f.done();
    }
  });

  it('stops mmdebstrap when aborted', async () => {
    const f = await fake('echo "I: start" >&2; exec sleep 30');
    try {
      const ac = new AbortController();
      const build = debianRootfs(debianTarget('bookworm'), mirrors, {
        binary: f.bin,
        signal: ac.signal,
        onProgress: () => ac.abort(),
      });
      build.tar.resume();
      await assert.rejects(build.done, /cancelled/);
    } finally {
      await f.done();
    }
  });
});
