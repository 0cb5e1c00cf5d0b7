import { getSystemErrorMap } from 'node:util';

/**
 * The closed set of errors berth raises on purpose. Every layer throws these (with context and
 * a cause); the API converts them to HTTP statuses in one place with {@link toHttpStatus}.
 * Nothing decides by matching an error's message text.
 */

export interface ErrorOptions {
  cause?: unknown;
}

export class BerthError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The thing named does not exist (404). */
export class NotFoundError extends BerthError {}
/** The request is malformed or names an impossible value (400). */
export class InvalidArgumentError extends BerthError {}
/** The request conflicts with the current state: name in use, container running (409). */
export class ConflictError extends BerthError {}
/** The request asks for the state the thing is already in (304). */
export class NotModifiedError extends BerthError {}
/** Credentials are missing or wrong (401). */
export class UnauthorizedError extends BerthError {}
/** The operation is not allowed for this caller or object (403). */
export class ForbiddenError extends BerthError {}
/** berth does not do this (yet) (501). */
export class NotImplementedError extends BerthError {}
/** A dependency is not reachable right now (503). */
export class UnavailableError extends BerthError {}
/** The system failed underneath a valid request (500). */
export class SystemError extends BerthError {}

export function toHttpStatus(err: unknown): number {
  if (err instanceof NotFoundError) return 404;
  if (err instanceof InvalidArgumentError) return 400;
  if (err instanceof ConflictError) return 409;
  if (err instanceof NotModifiedError) return 304;
  if (err instanceof UnauthorizedError) return 401;
  if (err instanceof ForbiddenError) return 403;
  if (err instanceof NotImplementedError) return 501;
  if (err instanceof UnavailableError) return 503;
  return 500;
}

/** The errno code of a Node.js system error, if it is one. */
export function errnoCode(err: unknown): string | undefined {
  if (err instanceof Error && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

/**
 * The C library's words for a system error's errno (`no such device`), as Go's syscall.Errno
 * prints them in dockerd's messages; undefined when it is not a system error.
 */
export function systemErrorText(err: unknown): string | undefined {
  const errno = err instanceof Error && 'errno' in err ? err.errno : undefined;
  if (typeof errno !== 'number') return undefined;
  return getSystemErrorMap().get(errno)?.[1];
}

export function isNotFound(err: unknown): boolean {
  return errnoCode(err) === 'ENOENT';
}
