import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { ExitError } from './command.js';
import { displayJsonMessages } from './progress.js';

const stream = (messages: unknown[]): Readable =>
  Readable.from([messages.map((m) => JSON.stringify(m)).join('\r\n') + '\r\n']);

const pull = [
  { status: 'Pulling from library/busybox', id: 'latest' },
  { status: 'Pulling fs layer', progressDetail: {}, id: 'aaa' },
  { status: 'Pulling fs layer', progressDetail: {}, id: 'bbb' },
  {
    status: 'Downloading',
    progressDetail: { current: 1, total: 2 },
    progress: '[==>  ] 1B/2B',
    id: 'aaa',
  },
  { status: 'Pull complete', progressDetail: {}, id: 'aaa' },
  { status: 'Digest: sha256:x' },
];

function sink(): { text: string; write(s: string): void } {
  return {
    text: '',
    write(s: string): void {
      this.text += s;
    },
  };
}

test('pull progress without a terminal: plain lines, bars left out', async () => {
  const out = sink();
  await displayJsonMessages(stream(pull), out, false);
  assert.equal(
    out.text,
    'latest: Pulling from library/busybox\naaa: Pulling fs layer\nbbb: Pulling fs layer\naaa: Pull complete\nDigest: sha256:x\n',
  );
});

test('pull progress on a terminal: one line per layer, rewritten in place', async () => {
  const out = sink();
  await displayJsonMessages(stream(pull), out, true);
  const esc = '\x1b';
  assert.equal(
    out.text,
    'latest: Pulling from library/busybox\n' +
      `\n${esc}[1A\r${esc}[2Kaaa: Pulling fs layer \r${esc}[1B` +
      `\n${esc}[1A\r${esc}[2Kbbb: Pulling fs layer \r${esc}[1B` +
      `${esc}[2A\r${esc}[2Kaaa: Downloading [==>  ] 1B/2B\r${esc}[2B` +
      `${esc}[2A\r${esc}[2Kaaa: Pull complete \r${esc}[2B` +
      'Digest: sha256:x\n',
  );
});

test('an error message fails with its text', async () => {
  await assert.rejects(
    displayJsonMessages(
      stream([{ status: 'x' }, { errorDetail: { message: 'boom' }, error: 'boom' }]),
      sink(),
      false,
    ),
    (e: unknown) => e instanceof ExitError && e.message === 'boom' && e.code === 1,
  );
});
