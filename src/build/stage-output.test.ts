import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newStageOutput } from './stage-output.js';

describe('stage output', () => {
  it('streams the head stage, holds later ones until those before them finish', () => {
    const got: string[] = [];
    const o = newStageOutput([0, 2, 3], (t) => got.push(t));
    o.write(3, 'c1');
    o.write(0, 'a1');
    o.write(2, 'b1');
    assert.deepEqual(got, ['a1']);
    o.write(3, 'c2');
    o.finish(3);
    o.finish(0);
    assert.deepEqual(got, ['a1', 'b1']);
    o.write(2, 'b2');
    o.finish(2);
    assert.deepEqual(got, ['a1', 'b1', 'b2', 'c1', 'c2']);
    o.write(3, 'late');
    assert.deepEqual(got.at(-1), 'late');
  });
  it('flush gives everything held, in stage order', () => {
    const got: string[] = [];
    const o = newStageOutput([0, 1, 2], (t) => got.push(t));
    o.write(2, 'c');
    o.write(1, 'b');
    o.write(0, 'a');
    o.flush();
    assert.deepEqual(got, ['a', 'b', 'c']);
  });
});
