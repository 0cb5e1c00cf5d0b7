import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseArgs } from '../args.js';
import { command, forwardFlags } from './registry-serve.js';

test('registry serve forwards the flags it was given, and only those, as --long=value', () => {
  const parsed = parseArgs(
    ['--addr', '127.0.0.1:0', '--read-only', '--token-auth=false', '--max-upload-size=1g'],
    command.flags,
  );
  assert.deepEqual(forwardFlags(command.flags, parsed), [
    '--addr=127.0.0.1:0',
    '--read-only',
    '--max-upload-size=1g',
  ]);
  assert.throws(() => parseArgs(['--bogus'], command.flags), /unknown flag: --bogus/);
});
