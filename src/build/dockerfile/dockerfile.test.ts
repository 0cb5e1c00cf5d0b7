import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  parseDockerfile,
  parseGoDuration,
  parseSecretMount,
  SecretMountError,
  type Instruction,
} from './instructions.js';
import { DockerfileSyntaxError, parseDockerfileText } from './parser.js';
import { expandWord, expandWords, splitRawWords, WordError } from './shell-word.js';

const env: Record<string, string> = { A: 'a', B: 'b c', EMPTY: '' };
const lookup = (n: string): string | undefined => env[n];
const bs = { escape: '\\' };

function only(text: string): Instruction {
  const df = parseDockerfile(`FROM busybox\n${text}`);
  const ins = df.stages[0]?.instructions[0];
  assert.ok(ins);
  return ins;
}

function syntaxError(text: string, line: number, detail: RegExp): void {
  assert.throws(
    () => parseDockerfile(text),
    (err: unknown) => {
      assert.ok(err instanceof DockerfileSyntaxError, String(err));
      assert.equal(err.line, line);
      assert.match(err.detail, detail);
      assert.match(err.message, new RegExp(`^dockerfile parse error line ${line}: `));
      return true;
    },
  );
}

describe('word expansion', () => {
  const cases: [string, string][] = [
    ['$A', 'a'],
    ['${A}', 'a'],
    ['x${A}y', 'xay'],
    ['$A$A', 'aa'],
    ['${NOPE:-w}', 'w'],
    ['${EMPTY:-w}', 'w'],
    ['${EMPTY-w}', ''],
    ['${NOPE-w}', 'w'],
    ['${A:-w}', 'a'],
    ['${A:+w}', 'w'],
    ['${EMPTY:+w}', ''],
    ['${EMPTY+w}', 'w'],
    ['${NOPE+w}', ''],
    ['${NOPE:-$A}', 'a'],
    ['${NOPE:-${A}x}', 'ax'],
    ["'$A'", '$A'],
    ['"$A"', 'a'],
    ['"\\$A"', '$A'],
    ['\\$A', '$A'],
    ['"a\\b"', 'a\\b'],
    ['a\\ b', 'a b'],
    ['$', '$'],
    ['a$', 'a$'],
    ['$-', '$-'],
    ['$NOPE', ''],
    ['"${B}"', 'b c'],
    ['"q\\"q"', 'q"q'],
  ];
  for (const [input, want] of cases) {
    it(`${input} → ${JSON.stringify(want)}`, () => {
      assert.equal(expandWord(input, lookup, bs), want);
    });
  }
  it('does not expand when told not to', () => {
    assert.equal(expandWord('"$A" \\$B', lookup, { escape: '\\', expand: false }), '$A $B');
  });
  it('honours a backtick escape', () => {
    assert.equal(expandWord('`$A c:\\x', lookup, { escape: '`' }), '$A c:\\x');
  });
  it('${VAR:?msg} fails on unset', () => {
    assert.throws(() => expandWord('${NOPE:?gone}', lookup, bs), WordError);
    assert.equal(expandWord('${A:?gone}', lookup, bs), 'a');
  });
  it('reports unterminated quotes', () => {
    assert.throws(() => expandWord('"abc', lookup, bs), WordError);
    assert.throws(() => expandWord("'abc", lookup, bs), WordError);
  });
  it('splits words, unquoted variables too', () => {
    assert.deepEqual(expandWords('x "y z" $B', lookup, bs), ['x', 'y z', 'b', 'c']);
    assert.deepEqual(expandWords('"$B" $EMPTY end', lookup, bs), ['b c', 'end']);
  });
  it('keeps quotes in raw words', () => {
    assert.deepEqual(splitRawWords('a="b c" d=\'e f\' g=h\\ i', '\\'), [
      'a="b c"',
      "d='e f'",
      'g=h\\ i',
    ]);
  });
});

describe('parser: lines', () => {
  it('reads directives and stops at the first other line', () => {
    const f = parseDockerfileText(
      '# syntax=docker/dockerfile:1\n# escape=`\n# check=skip=all\nFROM x\n',
    );
    assert.deepEqual(f.directives, {
      syntax: 'docker/dockerfile:1',
      escape: '`',
      check: 'skip=all',
    });
    assert.equal(f.escape, '`');
    const g = parseDockerfileText('# hello\n# escape=`\nFROM x\n');
    assert.equal(g.escape, '\\');
  });
  it('rejects a repeated directive and a bad escape', () => {
    assert.throws(() => parseDockerfileText('# escape=`\n# escape=\\\nFROM x'), /only one escape/);
    assert.throws(() => parseDockerfileText('# escape=x\nFROM x'), /invalid escape token/);
  });
  it('joins continuations, skipping comments and blank lines inside', () => {
    const f = parseDockerfileText(
      'FROM x\nRUN echo a \\\n# inner comment\n\n  b \\\n   c\nCMD d\n',
    );
    const run = f.instructions[1];
    assert.equal(run?.args, 'echo a   b    c');
    assert.equal(run?.startLine, 2);
    assert.equal(run?.endLine, 6);
    assert.equal(f.instructions[2]?.startLine, 7);
  });
  it('continues with a backtick under escape=`', () => {
    const f = parseDockerfileText('# escape=`\nFROM x\nRUN dir c:\\ `\n  /b\n');
    assert.equal(f.instructions[1]?.args, 'dir c:\\   /b');
  });
  it('takes flags off the front', () => {
    const f = parseDockerfileText('FROM x\nCOPY --from=a --chown=1:2 src dst\n');
    assert.deepEqual(f.instructions[1]?.flags, ['from=a', 'chown=1:2']);
    assert.equal(f.instructions[1]?.args, 'src dst');
  });
  it('reads heredocs, several on a line, <<- strips tabs', () => {
    const text = [
      'FROM x',
      'RUN <<EOF',
      'echo $A',
      'EOF',
      'COPY <<one <<-"two" /dst/',
      'first',
      'one',
      '\tsecond',
      '\ttwo',
      'CMD x',
    ].join('\n');
    const f = parseDockerfileText(text);
    assert.equal(f.instructions.length, 4);
    assert.deepEqual(f.instructions[1]?.heredocs, [
      { name: 'EOF', content: 'echo $A\n', expand: true, chomp: false },
    ]);
    assert.deepEqual(f.instructions[2]?.heredocs, [
      { name: 'one', content: 'first\n', expand: true, chomp: false },
      { name: 'two', content: 'second\n', expand: false, chomp: true },
    ]);
    assert.equal(f.instructions[3]?.startLine, 10);
  });
  it('an unterminated heredoc is an error at its line', () => {
    assert.throws(
      () => parseDockerfileText('FROM x\nRUN <<EOF\necho\n'),
      /line 2: unterminated heredoc EOF/,
    );
  });
  it('ignores heredoc syntax outside RUN/COPY/ADD', () => {
    const f = parseDockerfileText('FROM x\nCMD cat <<EOF\nENV a=b\n');
    assert.equal(f.instructions.length, 3);
  });
});

describe('parser: instructions', () => {
  it('FROM with AS, --platform, ARG before FROM', () => {
    const df = parseDockerfile(
      'ARG V=1\nFROM --platform=linux/amd64 busybox:$V AS Base\nFROM base\n',
    );
    assert.equal(df.metaArgs.length, 1);
    assert.deepEqual(df.metaArgs[0]?.args, [{ name: 'V', value: '1' }]);
    const from = df.stages[0]?.from;
    assert.equal(from?.image, 'busybox:$V');
    assert.equal(from?.name, 'base');
    assert.equal(from?.platform, 'linux/amd64');
    assert.equal(df.stages.length, 2);
    assert.equal(df.total, 3);
  });
  it('RUN shell and exec forms, flags', () => {
    assert.deepEqual((only('RUN echo "a b"') as { command: unknown }).command, {
      json: false,
      text: 'echo "a b"',
    });
    assert.deepEqual((only('RUN ["echo", "a b"]') as { command: unknown }).command, {
      json: true,
      args: ['echo', 'a b'],
    });
    assert.deepEqual((only('RUN [not json') as { command: unknown }).command, {
      json: false,
      text: '[not json',
    });
    const run = only('RUN --mount=type=cache,target=/c,id=x --network=none true');
    assert.equal(run.kind, 'RUN');
    if (run.kind !== 'RUN') return;
    assert.equal(run.network, 'none');
    assert.deepEqual(run.mounts, [
      { type: 'cache', options: { type: 'cache', target: '/c', id: 'x' } },
    ]);
  });
  it('ENV both syntaxes', () => {
    const a = only('ENV A=b C="d e" F=g\\ h');
    assert.deepEqual(a.kind === 'ENV' && a.pairs, [
      { key: 'A', value: 'b' },
      { key: 'C', value: '"d e"' },
      { key: 'F', value: 'g\\ h' },
    ]);
    const b = only('ENV LEGACY some value here');
    assert.deepEqual(b.kind === 'ENV' && b.pairs, [{ key: 'LEGACY', value: 'some value here' }]);
  });
  it('LABEL, ARG, MAINTAINER, EXPOSE, USER, WORKDIR, STOPSIGNAL', () => {
    const l = only('LABEL "a b"="c d" e=f');
    assert.deepEqual(l.kind === 'LABEL' && l.pairs, [
      { key: '"a b"', value: '"c d"' },
      { key: 'e', value: 'f' },
    ]);
    const a = only('ARG X Y=2');
    assert.deepEqual(a.kind === 'ARG' && a.args, [{ name: 'X' }, { name: 'Y', value: '2' }]);
    const m = only('MAINTAINER Jane <j@x>');
    assert.equal(m.kind === 'MAINTAINER' && m.name, 'Jane <j@x>');
    const e = only('EXPOSE 80 90/udp');
    assert.equal(e.kind === 'EXPOSE' && e.raw, '80 90/udp');
  });
  it('VOLUME json and plain', () => {
    const v = only('VOLUME ["/a", "/b"]');
    assert.deepEqual(v.kind === 'VOLUME' && v.json, ['/a', '/b']);
    const w = only('VOLUME /a /b');
    assert.equal(w.kind === 'VOLUME' && w.json, undefined);
  });
  it('COPY/ADD with every flag', () => {
    const c = only(
      'COPY --from=build --chown=1:2 --chmod=0755 --link --parents --exclude=*.md --exclude=x a b /dst/',
    );
    assert.equal(c.kind, 'COPY');
    if (c.kind !== 'COPY') return;
    assert.deepEqual(c.sources, ['a', 'b']);
    assert.equal(c.dest, '/dst/');
    assert.equal(c.from, 'build');
    assert.equal(c.chown, '1:2');
    assert.equal(c.chmod, '0755');
    assert.equal(c.link, true);
    assert.equal(c.parents, true);
    assert.deepEqual(c.exclude, ['*.md', 'x']);
    const j = only('ADD ["a b", "/c d/"]');
    assert.equal(j.kind === 'ADD' && j.json, true);
    assert.deepEqual(j.kind === 'ADD' && j.sources, ['a b']);
    const h = only('COPY <<EOF /f\nhello\nEOF');
    assert.equal(h.kind === 'COPY' && h.heredocs[0]?.content, 'hello\n');
    assert.deepEqual(h.kind === 'COPY' && h.sources, []);
  });
  it('HEALTHCHECK forms', () => {
    const h = only('HEALTHCHECK --interval=5s --timeout=1m30s --retries=3 CMD ["true"]');
    assert.deepEqual(h.kind === 'HEALTHCHECK' && h.check, {
      test: ['CMD', 'true'],
      interval: 5e9,
      timeout: 90e9,
      startPeriod: 0,
      startInterval: 0,
      retries: 3,
    });
    const s = only('HEALTHCHECK CMD curl -f x || exit 1');
    assert.deepEqual(s.kind === 'HEALTHCHECK' && s.check.test, [
      'CMD-SHELL',
      'curl -f x || exit 1',
    ]);
    const n = only('HEALTHCHECK NONE');
    assert.deepEqual(n.kind === 'HEALTHCHECK' && n.check.test, ['NONE']);
  });
  it('SHELL, ONBUILD, CMD, ENTRYPOINT', () => {
    const s = only('SHELL ["/bin/ash", "-eo", "pipefail", "-c"]');
    assert.deepEqual(s.kind === 'SHELL' && s.shell, ['/bin/ash', '-eo', 'pipefail', '-c']);
    const o = only('ONBUILD RUN echo hi');
    assert.equal(o.kind === 'ONBUILD' && o.trigger, 'RUN echo hi');
    const c = only('cmd ["a"]');
    assert.equal(c.kind, 'CMD');
    assert.equal(c.original, 'cmd ["a"]');
  });
  it('Go durations', () => {
    assert.equal(parseGoDuration('1h2m3s'), 3723e9);
    assert.equal(parseGoDuration('1.5s'), 1.5e9);
    assert.equal(parseGoDuration('10'), undefined);
    assert.equal(parseGoDuration('5x'), undefined);
  });
});

describe('parser: errors name the line', () => {
  it('unknown instruction', () =>
    syntaxError('FROM x\n\nFOO bar\n', 3, /^unknown instruction: FOO$/));
  it('instruction before FROM', () => syntaxError('RUN x\nFROM y', 1, /no build stage/));
  it('empty file', () => syntaxError('# just a comment\n', 1, /no instructions/));
  it('unknown flag', () => syntaxError('FROM x\nCOPY --bogus=1 a b', 2, /unknown flag: bogus/));
  it('flag on the wrong instruction', () =>
    syntaxError('FROM x\nRUN --from=a true', 2, /unknown flag: from/));
  it('bad FROM', () => syntaxError('FROM a b', 1, /one or three arguments/));
  it('duplicate stage name', () => syntaxError('FROM a AS x\nFROM b AS x', 2, /duplicate name x/));
  it('COPY with one argument', () => syntaxError('FROM a\nCOPY a', 2, /at least two arguments/));
  it('ENV without =', () => syntaxError('FROM a\nENV a=b c', 2, /can't find = in "c"/));
  it('ENV legacy without value', () => syntaxError('FROM a\nENV a', 2, /must have two arguments/));
  it('empty RUN', () => syntaxError('FROM a\nRUN', 2, /requires at least one argument/));
  it('SHELL not json', () => syntaxError('FROM a\nSHELL /bin/sh -c', 2, /JSON form/));
  it('bad HEALTHCHECK', () =>
    syntaxError('FROM a\nHEALTHCHECK --interval=5 CMD x', 2, /invalid duration/));
  it('ONBUILD ONBUILD', () => syntaxError('FROM a\nONBUILD ONBUILD RUN x', 2, /Chaining ONBUILD/));
  it('bad chmod', () => syntaxError('FROM a\nCOPY --chmod=abc a b', 2, /invalid chmod/));
  it('the column is in the message', () => {
    assert.throws(
      () => parseDockerfile('FROM x\n   BAD y'),
      /line 2: unknown instruction: BAD \(column 4\)/,
    );
  });
});

describe('RUN --mount=type=secret', () => {
  const secret = (flag: string): unknown => {
    const run = only(`RUN --mount=${flag} true`);
    assert.ok(run.kind === 'RUN');
    return run.mounts[0]?.secret;
  };
  it('defaults: the target under /run/secrets, mode 0400, root, optional', () => {
    assert.deepEqual(secret('type=secret,id=tok'), {
      id: 'tok',
      target: '/run/secrets/tok',
      required: false,
      mode: 0o400,
      uid: 0,
      gid: 0,
    });
  });
  it('source is the id; an id from the target base name; aliases of target', () => {
    assert.deepEqual(secret('type=secret,source=a,dst=/x/y'), {
      id: 'a',
      target: '/x/y',
      required: false,
      mode: 0o400,
      uid: 0,
      gid: 0,
    });
    assert.equal((secret('type=secret,destination=/etc/key.pem') as { id: string }).id, 'key.pem');
    assert.equal((secret('type=secret,target=rel/f') as { target: string }).target, 'rel/f');
  });
  it('required, mode, uid, gid', () => {
    assert.deepEqual(secret('type=secret,id=t,required,mode=0444,uid=1000,gid=50'), {
      id: 't',
      target: '/run/secrets/t',
      required: true,
      mode: 0o444,
      uid: 1000,
      gid: 50,
    });
    assert.equal(
      (secret('type=secret,id=t,required=false') as { required: boolean }).required,
      false,
    );
    assert.equal(
      (secret('type=secret,id=t,required=True') as { required: boolean }).required,
      true,
    );
  });
  it('env= alone gives no file; with a target, both', () => {
    assert.deepEqual(secret('type=secret,id=t,env=TOKEN'), {
      id: 't',
      env: 'TOKEN',
      required: false,
      mode: 0o400,
      uid: 0,
      gid: 0,
    });
    assert.deepEqual(secret('type=secret,id=t,env=TOKEN,target=/t'), {
      id: 't',
      target: '/t',
      env: 'TOKEN',
      required: false,
      mode: 0o400,
      uid: 0,
      gid: 0,
    });
  });
  it('a flag with variables is checked once they are expanded', () => {
    const run = only('RUN --mount=type=secret,id=$ID,mode=${MODE} true');
    assert.ok(run.kind === 'RUN');
    assert.equal(run.mounts[0]?.secret, undefined);
    assert.equal(run.mounts[0]?.secretSpec, 'type=secret,id=$ID,mode=${MODE}');
    const vars: Record<string, string> = { $ID: 'tok', '${MODE}': '0440' };
    assert.deepEqual(
      parseSecretMount('type=secret,id=$ID,mode=${MODE}', (v) => vars[v] ?? v),
      { id: 'tok', target: '/run/secrets/tok', required: false, mode: 0o440, uid: 0, gid: 0 },
    );
    assert.throws(
      () => parseSecretMount('type=secret,id=a,mode=$M', () => 'x'),
      (err: unknown) =>
        err instanceof SecretMountError && err.message === 'invalid value x for mode',
    );
  });
  it("bad fields, in BuildKit's words", () => {
    const bad: [string, RegExp][] = [
      ['type=secret', /invalid secret mount. one of source, target required/],
      ['type=secret,id=a,source=b', /both source and id can't be set/],
      ['type=secret,id=a,mode=0999', /invalid value 0999 for mode/],
      ['type=secret,id=a,uid=-1', /invalid value -1 for uid/],
      ['type=secret,id=a,gid=x', /invalid value x for gid/],
      ['type=secret,id=a,required=maybe', /invalid value for required: maybe/],
      ['type=secret,id=a,from=stage', /secret mount should not have a from/],
      ['type=secret,id=a,sharing=locked', /secret mount should not define sharing/],
      ['type=secret,id=a,colour=red', /unexpected key 'colour' in 'colour=red'/],
      ['type=secret,id=a,bogus', /invalid field 'bogus' must be a key=value pair/],
      ['type=secret,id=a,env=', /invalid environment variable name/],
    ];
    for (const [flag, re] of bad) syntaxError(`FROM x\nRUN --mount=${flag} true`, 2, re);
  });
});
