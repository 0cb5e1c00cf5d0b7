import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ConflictError,
  InvalidArgumentError,
  NotFoundError,
  NotModifiedError,
  SystemError,
  toHttpStatus,
} from './index.js';

test('errors map to the statuses of moby', () => {
  assert.equal(toHttpStatus(new NotFoundError('x')), 404);
  assert.equal(toHttpStatus(new InvalidArgumentError('x')), 400);
  assert.equal(toHttpStatus(new ConflictError('x')), 409);
  assert.equal(toHttpStatus(new NotModifiedError('x')), 304);
  assert.equal(toHttpStatus(new SystemError('x')), 500);
  assert.equal(toHttpStatus(new Error('x')), 500);
  assert.equal(new NotFoundError('x').name, 'NotFoundError');
});
