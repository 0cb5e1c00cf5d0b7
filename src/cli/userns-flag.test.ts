import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseArgs, UsageError } from './args.js';
import { buildCreate, CREATE_FLAGS } from './container-config.js';
import { securityOptionLines } from './commands/info.js';

const plan = (argv: string[]): ReturnType<typeof buildCreate> => {
  const p = parseArgs([...argv, 'busybox'], CREATE_FLAGS, { interspersed: false });
  return buildCreate(p.flags, p.args, { detach: true, env: {} });
};

test('--userns takes host (or nothing), as the docker CLI', () => {
  assert.equal(plan(['--userns', 'host']).request.HostConfig?.UsernsMode, 'host');
  assert.equal(plan([]).request.HostConfig?.UsernsMode, undefined);
  assert.throws(
    () => plan(['--userns', 'private']),
    (err: unknown) => err instanceof UsageError && err.message === '--userns: invalid USER mode',
  );
});

test('info prints Security Options as the docker CLI does', () => {
  assert.deepEqual(securityOptionLines(['name=seccomp,profile=default', 'name=userns']), [
    ' Security Options:',
    '  seccomp',
    '   Profile: default',
    '  userns',
  ]);
  assert.deepEqual(securityOptionLines([]), []);
  assert.deepEqual(securityOptionLines(undefined), []);
});
