import { compare } from 'bcryptjs';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { DistributionError } from './errors.js';

/**
 * Authentication and authorisation: htpasswd (bcrypt) basic auth, and bearer tokens this
 * registry issues at its own /token endpoint, scoped as `repository:<name>:<actions>`.
 * Parsing, signing and checking are pure; reading the files is the caller's.
 */

/** One `type:name:actions` access entry, as in a token's `access` claim. */
export interface Access {
  type: string;
  name: string;
  actions: string[];
}

/** Parses htpasswd content: `user:$2y$...` lines; other hash kinds are refused, as distribution does. */
export function parseHtpasswd(text: string): Map<string, string> {
  const users = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    if (i <= 0) throw new Error(`htpasswd: malformed line ${JSON.stringify(line)}`);
    const user = line.slice(0, i);
    const hash = line.slice(i + 1);
    if (!/^\$2[abxy]\$\d\d\$/.test(hash)) {
      throw new Error(`htpasswd: user ${user} has a hash that is not bcrypt (use htpasswd -B)`);
    }
    users.set(user, hash);
  }
  return users;
}

/** Decodes `Authorization: Basic ...`; undefined when absent or malformed. */
export function parseBasic(
  header: string | undefined,
): { user: string; password: string } | undefined {
  if (!header) return undefined;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1] as string, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) return undefined;
  return { user: decoded.slice(0, i), password: decoded.slice(i + 1) };
}

/** Checks credentials against htpasswd users; verified pairs are remembered (bcrypt is slow by design). */
export class HtpasswdVerifier {
  readonly #ok = new Set<string>();
  constructor(readonly users: Map<string, string>) {}

  async verify(user: string, password: string): Promise<boolean> {
    const hash = this.users.get(user);
    if (hash === undefined) return false;
    const key = createHash('sha256').update(`${user}\0${password}\0${hash}`).digest('hex');
    if (this.#ok.has(key)) return true;
    // bcryptjs reads $2a$/$2b$; htpasswd writes $2y$, the same algorithm under another name.
    const ok = await compare(password, hash.replace(/^\$2[xy]\$/, '$2b$'));
    if (ok) this.#ok.add(key);
    return ok;
  }
}

/** Parses `scope` parameters (`repository:foo/bar:pull,push`, several per parameter by space). */
export function parseScopes(scopes: string[]): Access[] {
  const out: Access[] = [];
  for (const s of scopes.flatMap((x) => x.split(' ')).filter((x) => x !== '')) {
    const first = s.indexOf(':');
    const last = s.lastIndexOf(':');
    if (first < 0 || last === first) continue;
    out.push({
      type: s.slice(0, first),
      name: s.slice(first + 1, last),
      actions: s
        .slice(last + 1)
        .split(',')
        .filter((a) => a !== ''),
    });
  }
  return out;
}

/** What an authenticated user may be granted: every repository action and the catalog. */
export function grant(requested: Access[]): Access[] {
  const allowed: Record<string, string[]> = {
    repository: ['pull', 'push', 'delete', '*'],
    registry: ['*'],
  };
  return requested
    .map((a) => ({ ...a, actions: a.actions.filter((x) => allowed[a.type]?.includes(x)) }))
    .filter((a) => a.actions.length > 0);
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

export interface TokenClaims {
  iss: string;
  sub: string;
  aud: string;
  iat: number;
  nbf: number;
  exp: number;
  access: Access[];
}

/** Signs claims as a JWT (HS256 with the registry's own key: it is both issuer and audience). */
export function signToken(claims: TokenClaims, key: Buffer): string {
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify(claims));
  const sig = createHmac('sha256', key).update(`${head}.${body}`).digest();
  return `${head}.${body}.${b64url(sig)}`;
}

/** Verifies a token's signature, audience and lifetime; undefined when it is not valid. */
export function verifyToken(
  token: string,
  key: Buffer,
  options: { service: string; now: number },
): TokenClaims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [head, body, sig] = parts as [string, string, string];
  // Compared as text, not decoded: base64url's last character has bits that decoding drops,
  // so several spellings decode to the same bytes; only the one this registry wrote is valid.
  const want = Buffer.from(b64url(createHmac('sha256', key).update(`${head}.${body}`).digest()));
  const got = Buffer.from(sig);
  if (got.length !== want.length || !timingSafeEqual(got, want)) return undefined;
  let claims: TokenClaims;
  try {
    claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as TokenClaims;
  } catch {
    return undefined;
  }
  const nowS = Math.floor(options.now / 1000);
  if (claims.aud !== options.service || claims.exp < nowS || claims.nbf > nowS + 60) {
    return undefined;
  }
  if (!Array.isArray(claims.access)) return undefined;
  return claims;
}

/** True when `claims` grant `action` on `type:name` (`*` grants every action). */
export function allows(access: Access[], type: string, name: string, action: string): boolean {
  return access.some(
    (a) =>
      a.type === type && a.name === name && (a.actions.includes(action) || a.actions.includes('*')),
  );
}

/** The 401 a request without (sufficient) credentials gets, with its challenge. */
export function challenge(
  scheme:
    | { kind: 'basic'; realm: string }
    | { kind: 'bearer'; realm: string; service: string; scope: string | undefined; error?: string },
  detail?: unknown,
): DistributionError {
  let value: string;
  if (scheme.kind === 'basic') value = `Basic realm=${JSON.stringify(scheme.realm)}`;
  else {
    value = `Bearer realm=${JSON.stringify(scheme.realm)},service=${JSON.stringify(scheme.service)}`;
    if (scheme.scope !== undefined) value += `,scope=${JSON.stringify(scheme.scope)}`;
    if (scheme.error !== undefined) value += `,error=${JSON.stringify(scheme.error)}`;
  }
  return new DistributionError('UNAUTHORIZED', detail, { headers: { 'WWW-Authenticate': value } });
}
