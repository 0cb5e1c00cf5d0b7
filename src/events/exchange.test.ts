import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newEventExchange } from './exchange.js';

test('subscribers get events in order; history filters by time', async () => {
  const events = newEventExchange();
  const before = Date.now() / 1000 - 1;
  events.publish({
    Type: 'container',
    Action: 'create',
    id: 'a',
    attributes: { image: 'busybox' },
  });
  const sub = events.subscribe();
  events.publish({ Type: 'container', Action: 'start', id: 'a' });
  events.publish({ Type: 'image', Action: 'tag', id: 'sha256:x' });
  const got: string[] = [];
  for await (const e of sub) {
    got.push(e.Action);
    if (got.length === 2) sub.close();
  }
  assert.deepEqual(got, ['start', 'tag']);
  const all = events.history(before);
  assert.equal(all.length, 3);
  assert.equal(all[0]?.from, 'busybox');
  assert.equal(all[0]?.Actor.Attributes['image'], 'busybox');
  assert.equal(events.history(undefined, before).length, 0);
});
