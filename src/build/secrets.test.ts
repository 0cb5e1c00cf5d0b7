import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError, NotFoundError, UnavailableError } from '../errors/index.js';
import { checkSecrets, maxSecretSize, newStagedSecrets } from './secrets.js';

describe('staged build secrets', () => {
  it('a handle is good once, and is no guessable text', () => {
    const store = newStagedSecrets();
    const data = Buffer.from('s3cr3t');
    const h = store.stage(new Map([['tok', data]]));
    assert.match(h, /^[0-9a-f]{64}$/);
    assert.equal(store.take(h).get('tok')?.toString(), 's3cr3t');
    assert.throws(() => store.take(h), NotFoundError);
    assert.throws(() => store.take('0'.repeat(64)), NotFoundError);
    store.close();
  });
  it('an unclaimed staging expires, its bytes wiped', async () => {
    const store = newStagedSecrets({ ttlMs: 10 });
    const data = Buffer.from('gone soon');
    const h = store.stage(new Map([['x', data]]));
    await new Promise((r) => setTimeout(r, 50));
    assert.throws(() => store.take(h), NotFoundError);
    assert.ok(
      data.every((b) => b === 0),
      'wiped',
    );
  });
  it('close wipes what waits; too many waiting is refused', () => {
    const store = newStagedSecrets({ max: 1 });
    const data = Buffer.from('abc');
    store.stage(new Map([['x', data]]));
    assert.throws(() => store.stage(new Map()), UnavailableError);
    store.close();
    assert.ok(data.every((b) => b === 0));
  });
  it('ids and sizes are checked', () => {
    assert.throws(() => checkSecrets(new Map([['', Buffer.from('x')]])), /secret missing ID/);
    assert.throws(
      () => checkSecrets(new Map([['big', Buffer.alloc(maxSecretSize + 1)]])),
      (err: unknown) =>
        err instanceof InvalidArgumentError && /secret big too big/.test(err.message),
    );
    checkSecrets(new Map([['ok', Buffer.alloc(maxSecretSize)]]));
  });
});
