import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../errors/index.js';
import { cleanSource, globMatch, ignorePatterns, newIgnore } from './context.js';
import { parseDockerfile, type Instruction } from './dockerfile/instructions.js';
import {
  applyMeta,
  goDuration,
  goQuote,
  nopCreatedByOne,
  runStep,
  workdirOf,
  type StageState,
} from './steps.js';

function state(buildArgs: Record<string, string | null> = {}): StageState {
  return {
    config: { Env: ['PATH=/usr/bin:/bin'] },
    args: new Map(),
    buildArgs,
    used: new Set(),
    cmdSet: false,
    escape: '\\',
  };
}

function ins(line: string): Instruction {
  const i = parseDockerfile(`FROM x\n${line}`).stages[0]?.instructions[0];
  assert.ok(i);
  return i;
}

/** Applies each line in turn; returns the created_by of each. */
function apply(s: StageState, lines: string[]): string[] {
  return lines.map((l) => {
    const r = applyMeta(s, ins(l));
    s.config = r.config;
    return r.createdBy;
  });
}

describe('metadata steps: config and created_by as the classic builder writes them', () => {
  it('ENV, LABEL, ARG, EXPOSE, USER, VOLUME, STOPSIGNAL, MAINTAINER', () => {
    const s = state({ V: '2' });
    const made = apply(s, [
      'ARG V=1',
      'ENV A=$V B="x y"',
      'ENV C ${A}-legacy value',
      'LABEL "k 1"=v k2=$B',
      'EXPOSE 80 443/tcp 53/udp',
      'USER app:$V',
      'VOLUME ["/a", "/b"]',
      'STOPSIGNAL SIGKILL',
      'MAINTAINER me',
    ]);
    assert.deepEqual(made, [
      '/bin/sh -c #(nop)  ARG V=1',
      '/bin/sh -c #(nop)  ENV A=2 B=x y',
      '/bin/sh -c #(nop)  ENV C=2-legacy value',
      '/bin/sh -c #(nop)  LABEL k 1=v k2=x y',
      '/bin/sh -c #(nop)  EXPOSE 443/tcp 53/udp 80',
      '/bin/sh -c #(nop)  USER app:2',
      '/bin/sh -c #(nop)  VOLUME [/a /b]',
      '/bin/sh -c #(nop)  STOPSIGNAL SIGKILL',
      '/bin/sh -c #(nop)  MAINTAINER me',
    ]);
    assert.deepEqual(s.config.Env, ['PATH=/usr/bin:/bin', 'A=2', 'B=x y', 'C=2-legacy value']);
    assert.deepEqual(s.config.Labels, { 'k 1': 'v', k2: 'x y' });
    assert.deepEqual(Object.keys(s.config.ExposedPorts ?? {}), ['80/tcp', '443/tcp', '53/udp']);
    assert.equal(s.config.User, 'app:2');
    assert.deepEqual(s.config.Volumes, { '/a': {}, '/b': {} });
    assert.equal(s.author, 'me');
  });

  it('an ENV replaces an earlier value of the same name', () => {
    const s = state();
    apply(s, ['ENV A=1 B=2', 'ENV A=3']);
    assert.deepEqual(s.config.Env, ['PATH=/usr/bin:/bin', 'A=3', 'B=2']);
  });

  it('CMD and ENTRYPOINT combine as Docker documents', () => {
    const s = state();
    apply(s, ['CMD ["a"]', 'ENTRYPOINT ["e"]']);
    assert.deepEqual(s.config.Cmd, ['a'], 'CMD set earlier in the stage is kept');
    const t = state();
    t.config.Cmd = ['inherited'];
    apply(t, ['ENTRYPOINT e f']);
    assert.equal(t.config.Cmd, null, 'an inherited CMD is reset by ENTRYPOINT');
    assert.deepEqual(t.config.Entrypoint, ['/bin/sh', '-c', 'e f']);
  });

  it('CMD, ENTRYPOINT, HEALTHCHECK and SHELL in history', () => {
    const s = state();
    const made = apply(s, [
      'SHELL ["/bin/ash", "-eo", "pipefail", "-c"]',
      'CMD echo "hi"',
      'ENTRYPOINT ["/bin/echo"]',
      'HEALTHCHECK --interval=5s --retries=3 CMD true',
    ]);
    assert.deepEqual(made, [
      '/bin/ash -eo pipefail -c #(nop)  SHELL [/bin/ash -eo pipefail -c]',
      '/bin/ash -eo pipefail -c #(nop)  CMD ["/bin/ash" "-eo" "pipefail" "-c" "echo \\"hi\\""]',
      '/bin/ash -eo pipefail -c #(nop)  ENTRYPOINT ["/bin/echo"]',
      `/bin/ash -eo pipefail -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "true"] "5s" "0s" "0s" '\\x03'}`,
    ]);
    assert.deepEqual(s.config.Healthcheck, {
      Test: ['CMD-SHELL', 'true'],
      Interval: 5e9,
      Retries: 3,
    });
  });

  it('a bad port or signal is refused', () => {
    assert.throws(() => apply(state(), ['EXPOSE 80/bogus']), InvalidArgumentError);
    assert.throws(() => apply(state(), ['STOPSIGNAL $%']), InvalidArgumentError);
  });
});

describe('RUN', () => {
  it('build args in front of created_by, sorted, ENV-shadowed and undeclared proxies left out', () => {
    const s = state({ B: 'given', HTTP_PROXY: 'http://p', UNDECLARED: 'u' });
    apply(s, ['ARG B', 'ARG A=default', 'ARG C']);
    const r = runStep(s, { json: false, text: 'echo $A' });
    assert.equal(r.createdBy, '|2 A=default B=given /bin/sh -c echo $A');
    assert.deepEqual(r.argv, ['/bin/sh', '-c', 'echo $A']);
    assert.deepEqual(r.env, ['PATH=/usr/bin:/bin', 'A=default', 'B=given', 'HTTP_PROXY=http://p']);
    apply(s, ['ENV A=env']);
    assert.equal(runStep(s, { json: true, args: ['x'] }).createdBy, '|1 B=given x');
  });
  it('without build args, the plain command', () => {
    assert.equal(runStep(state(), { json: false, text: 'true' }).createdBy, '/bin/sh -c true');
  });
});

describe('helpers', () => {
  it('WORKDIR is relative to the previous one', () => {
    const s = state();
    s.config.WorkingDir = '/a/b';
    assert.equal(workdirOf(s, '../c'), '/a/c');
    assert.equal(workdirOf(s, '/abs'), '/abs');
    assert.equal(nopCreatedByOne(s.config, 'WORKDIR /a/c'), '/bin/sh -c #(nop) WORKDIR /a/c');
  });
  it('Go formatting', () => {
    assert.equal(goQuote('a"b\\c'), '"a\\"b\\\\c"');
    assert.equal(goDuration(0), '0s');
    assert.equal(goDuration(90e9), '1m30s');
    assert.equal(goDuration(500e6), '500ms');
    assert.equal(goDuration(3723e9), '1h2m3s');
  });
  it('COPY sources stay inside the context', () => {
    assert.equal(cleanSource('a/../b/'), 'b');
    assert.equal(cleanSource('/abs/x'), 'abs/x');
    assert.equal(cleanSource('.'), '');
    assert.throws(() => cleanSource('../x'), /Forbidden path outside the build context: \.\.\/x/);
    assert.throws(() => cleanSource('a/../../x'), /Forbidden path/);
  });
  it('globs as filepath.Match', () => {
    assert.ok(globMatch('*.txt', 'a.txt'));
    assert.ok(!globMatch('*.txt', 'd/a.txt'));
    assert.ok(globMatch('d/*.txt', 'd/a.txt'));
    assert.ok(globMatch('t?o', 'two'));
    assert.ok(globMatch('[a-c]x', 'bx'));
    assert.ok(!globMatch('[a-c]x', 'dx'));
    assert.ok(globMatch('[^a]x', 'bx'));
  });
  it('.dockerignore with exceptions and **', () => {
    const ig = newIgnore(
      ignorePatterns('# c\n*.md\n!README.md\nlogs\n!logs/keep\n**/*.key\n/abs/\n'),
    );
    const want: Record<string, boolean> = {
      'a.md': true,
      'README.md': false,
      logs: true,
      'logs/x.log': true,
      'logs/keep': false,
      'deep/a/b.key': true,
      abs: true,
      'src/a.ts': false,
    };
    for (const [p, v] of Object.entries(want)) assert.equal(ig.ignores(p), v, p);
  });
});
