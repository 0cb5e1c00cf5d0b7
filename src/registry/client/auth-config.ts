import { InvalidArgumentError } from '../../errors/index.js';

/**
 * Credentials for one registry, in the shape of the docker CLI's `X-Registry-Auth` JSON and of
 * the entries of `config.json`'s `auths`.
 */
export interface AuthConfig {
  username?: string;
  password?: string;
  /** base64 of `username:password`, as config.json stores it. */
  auth?: string;
  serveraddress?: string;
  /** An OAuth refresh token given by the registry's token server at login. */
  identitytoken?: string;
  /** A bearer token to send as is. */
  registrytoken?: string;
  email?: string;
}

/**
 * Decodes an `X-Registry-Auth` header: base64 (URL-safe or standard, padded or not) of a JSON
 * AuthConfig. An absent or empty header means anonymous. A header that is not such JSON is an
 * InvalidArgumentError, as dockerd refuses it.
 */
export function decodeRegistryAuth(header: string | undefined): AuthConfig {
  if (header === undefined || header.trim() === '') return {};
  const text = Buffer.from(header.trim().replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString(
    'utf8',
  );
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause: unknown) {
    throw new InvalidArgumentError('invalid X-Registry-Auth header: not base64-encoded JSON', {
      cause,
    });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    // The docker CLI sends `{}` (or `null`) for anonymous pulls.
    if (parsed === null) return {};
    throw new InvalidArgumentError('invalid X-Registry-Auth header: not a JSON object');
  }
  return normalizeAuth(parsed as Record<string, unknown>);
}

/** Keeps the known string fields and splits `auth` into username and password. */
export function normalizeAuth(raw: Record<string, unknown>): AuthConfig {
  const out: AuthConfig = {};
  const str = (k: string): string | undefined => {
    const v = raw[k] ?? raw[k.charAt(0).toUpperCase() + k.slice(1)];
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  for (const k of [
    'username',
    'password',
    'auth',
    'serveraddress',
    'identitytoken',
    'registrytoken',
    'email',
  ] as const) {
    const v = str(k);
    if (v !== undefined) out[k] = v;
  }
  if (out.auth !== undefined && out.username === undefined) {
    const plain = Buffer.from(out.auth, 'base64').toString('utf8');
    const i = plain.indexOf(':');
    if (i > 0) {
      out.username = plain.slice(0, i);
      out.password = plain.slice(i + 1);
    }
  }
  return out;
}

/** Encodes credentials for the `X-Registry-Auth` header, as the docker CLI does (URL-safe). */
export function encodeRegistryAuth(auth: AuthConfig): string {
  return Buffer.from(JSON.stringify(auth)).toString('base64url');
}
