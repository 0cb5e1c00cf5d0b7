import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from '../errors/index.js';
import { applyChanges, parsePortSpec } from './changes.js';

test('changes as dockerd applies them (checked against docker import --change)', () => {
  const table: [string, Record<string, unknown>][] = [
    ['cmd echo hi', { Cmd: ['/bin/sh', '-c', 'echo hi'] }],
    ['CMD ["sh"]', { Cmd: ['sh'] }],
    ['ENTRYPOINT ["a","b"]', { Entrypoint: ['a', 'b'], Cmd: null }],
    ['ENTRYPOINT top -b', { Entrypoint: ['/bin/sh', '-c', 'top -b'], Cmd: null }],
    ['ENV A=1 B="two words" C=$A', { Env: ['A=1', 'B=two words', 'C='] }],
    ['ENV X y z', { Env: ['X=y z'] }],
    ['EXPOSE 80 8000-8001/udp', { ExposedPorts: { '80/tcp': {}, '8000/udp': {}, '8001/udp': {} } }],
    ['LABEL a=b "c d"=e', { Labels: { a: 'b', 'c d': 'e' } }],
    ['VOLUME /a /b', { Volumes: { '/a': {}, '/b': {} } }],
    ['VOLUME ["/c"]', { Volumes: { '/c': {} } }],
    ['WORKDIR a', { WorkingDir: '/a' }],
    ['ONBUILD run echo', { OnBuild: ['run echo'] }],
    ['STOPSIGNAL SIGKILL', { StopSignal: 'SIGKILL' }],
    [
      'HEALTHCHECK --interval=5s CMD true',
      { Healthcheck: { Test: ['CMD-SHELL', 'true'], Interval: 5e9 } },
    ],
    ['HEALTHCHECK NONE', { Healthcheck: { Test: ['NONE'] } }],
    ['USER 1:2', { User: '1:2' }],
  ];
  for (const [change, want] of table) {
    assert.deepEqual(applyChanges({}, [change]), want, change);
  }
});

test('changes build on each other and on the base config', () => {
  const base = { Env: ['PATH=/bin', 'A=old'], WorkingDir: '/srv', Cmd: ['sh'] };
  const out = applyChanges(base, [
    'ENV A=new B=${PATH}:/x',
    'WORKDIR app',
    'CMD ["run"]',
    'ENTRYPOINT ["e"]',
  ]);
  assert.deepEqual(out, {
    Env: ['PATH=/bin', 'A=new', 'B=/bin:/x'],
    WorkingDir: '/srv/app',
    Cmd: ['run'],
    Entrypoint: ['e'],
  });
  assert.deepEqual(base.Env, ['PATH=/bin', 'A=old'], 'the base is not changed');
  assert.deepEqual(applyChanges(base, ['ENTRYPOINT ["e"]']).Cmd, null, 'ENTRYPOINT resets CMD');
});

test('bad changes are refused with dockerd words', () => {
  const table: [string, string][] = [
    ['RUN x', 'run is not a valid change command'],
    ['FROM x', 'from is not a valid change command'],
    ['BOGUS x', 'bogus is not a valid change command'],
    ['ONBUILD ONBUILD x', "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"],
    ['EXPOSE abc', 'Invalid containerPort: abc'],
    ['STOPSIGNAL FOO', 'Invalid signal: FOO'],
  ];
  for (const [change, message] of table) {
    assert.throws(
      () => applyChanges({}, [change]),
      (err: unknown) => err instanceof InvalidArgumentError && err.message === message,
      change,
    );
  }
});

test('port specs', () => {
  assert.deepEqual(parsePortSpec('53/UDP'), ['53/udp']);
  assert.throws(() => parsePortSpec('70000'), InvalidArgumentError);
  assert.throws(() => parsePortSpec('9-1'), InvalidArgumentError);
});
