import { createHash } from 'node:crypto';
import {
  type JWTPayload,
  type JWTVerifyGetKey,
  createLocalJWKSet,
  createRemoteJWKSet,
  errors as joseErrors,
  jwtVerify,
  type JSONWebKeySet,
} from 'jose';
import { errorMessage } from '../../errors.ts';
import type { Scope } from '../../workflows/types.ts';
import { SCOPES } from '../auth.ts';

/** Who an access token speaks for, in Interlock's words. */
export interface TokenPrincipal {
  /** the token's subject: recorded as a run's owner and a decision's author */
  name: string;
  scopes: Scope[];
}

export type Verdict = { ok: true; principal: TokenPrincipal } | { ok: false; reason: string };

export interface TokenVerifier {
  verify(token: string): Promise<Verdict>;
}

/** Interlock's scopes that a token's own scopes grant, through the configured map. */
export function mapScopes(tokenScopes: readonly string[], map: Record<Scope, string[]>): Scope[] {
  const have = new Set(tokenScopes);
  return SCOPES.filter((s) => map[s].some((t) => have.has(t)));
}

/** `scope` as RFC 9068 writes it (a space-separated string), or `scp` as Okta and Entra do (a list or a string). */
export function tokenScopes(claims: Record<string, unknown>): string[] {
  const raw = claims.scope ?? claims.scp;
  if (typeof raw === 'string') return raw.split(' ').filter(Boolean);
  if (Array.isArray(raw)) return raw.filter((s): s is string => typeof s === 'string');
  return [];
}

export interface JwtVerifierOptions {
  issuer: string;
  audience: string;
  scopeMap: Record<Scope, string[]>;
  /** a JWKS URL; unset: the one the issuer's metadata names */
  jwksUri?: string;
  /** the keys themselves (the built-in server verifies with its own public keys, no HTTP round trip) */
  jwks?: JSONWebKeySet;
  fetch?: typeof fetch;
}

/**
 * Access tokens as JWTs (RFC 9068) checked with `jose`: signature against the issuer's JWKS
 * (fetched once, refetched when an unknown `kid` shows up), `iss`, `aud` equal to Interlock's
 * resource URL, `exp`/`nbf`, and a subject. An asymmetric algorithm only: `none` and HMAC
 * tokens are refused, since an HMAC key would be the issuer's shared secret.
 */
export class JwtVerifier implements TokenVerifier {
  private keys: JWTVerifyGetKey | undefined;
  private loading: Promise<JWTVerifyGetKey> | undefined;
  private readonly opts: JwtVerifierOptions;

  constructor(opts: JwtVerifierOptions) {
    this.opts = opts;
    if (opts.jwks) this.keys = createLocalJWKSet(opts.jwks);
    else if (opts.jwksUri) this.keys = createRemoteJWKSet(new URL(opts.jwksUri));
  }

  async verify(token: string): Promise<Verdict> {
    let keys: JWTVerifyGetKey;
    try {
      keys = await this.keySet();
    } catch (err) {
      return { ok: false, reason: `the issuer's keys could not be loaded: ${errorMessage(err)}` };
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: this.opts.issuer,
        audience: this.opts.audience,
        algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'],
        clockTolerance: 5,
      }));
    } catch (err) {
      return { ok: false, reason: describeJoseError(err) };
    }
    if (typeof payload.sub !== 'string' || payload.sub === '') return { ok: false, reason: 'the token names no subject' };
    if (isBound(payload.cnf)) return { ok: false, reason: BOUND };
    return { ok: true, principal: { name: payload.sub, scopes: mapScopes(tokenScopes(payload), this.opts.scopeMap) } };
  }

  private keySet(): Promise<JWTVerifyGetKey> {
    if (this.keys) return Promise.resolve(this.keys);
    this.loading ??= discoverJwksUri(this.opts.issuer, this.opts.fetch ?? fetch)
      .then((uri) => {
        this.keys = createRemoteJWKSet(new URL(uri));
        return this.keys;
      })
      .finally(() => {
        this.loading = undefined;
      });
    return this.loading;
  }
}

function describeJoseError(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'the token has expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return 'the token was issued for another resource (aud)';
    if (err.claim === 'iss') return 'the token comes from another issuer (iss)';
    return `the token's ${err.claim} claim is not valid`;
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'the token signature does not verify';
  if (err instanceof joseErrors.JWKSNoMatchingKey) return "no key of the issuer's JWKS matches the token";
  if (err instanceof joseErrors.JOSEError) return 'the token is not a valid JWT';
  return 'the token could not be verified';
}

/**
 * The JWKS URL from the issuer's metadata: OpenID discovery first (Keycloak, Auth0, Okta, Entra
 * all serve it), then RFC 8414. The metadata must name the same issuer (mix-up defence).
 */
export async function discoverJwksUri(issuer: string, fetchFn: typeof fetch): Promise<string> {
  const u = new URL(issuer);
  const path = u.pathname.replace(/\/+$/, '');
  const candidates = [
    `${u.origin}${path}/.well-known/openid-configuration`,
    `${u.origin}/.well-known/oauth-authorization-server${path}`,
  ];
  for (const url of candidates) {
    const res = await fetchFn(url, { headers: { accept: 'application/json' } }).catch(() => undefined);
    if (!res?.ok) continue;
    const meta = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
    if (meta.issuer !== issuer) throw new Error(`${url} names issuer ${String(meta.issuer)}, not ${issuer}`);
    if (typeof meta.jwks_uri === 'string') return meta.jwks_uri;
  }
  throw new Error(`no authorization server metadata with a jwks_uri at ${candidates.join(' or ')}`);
}

export interface IntrospectionOptions {
  url: string;
  clientId: string;
  clientSecret: string;
  audience: string;
  issuer?: string;
  scopeMap: Record<Scope, string[]>;
  /** how long an active answer is kept (default 30 s; 0: ask on every request) */
  cacheMs?: number;
  fetch?: typeof fetch;
}

export const INTROSPECTION_CACHE_MS = 30_000;
const INTROSPECTION_CACHE_MAX = 1000;

/**
 * RFC 7662 introspection, for opaque tokens or a server that prefers it. An active answer is kept
 * for 30 s (`cache`; never past the token's exp), keyed by the token's SHA-256, so a chatty client
 * does not cost one round trip per request; a revoked token then works for those seconds. A
 * refusal is never kept: a token the issuer just issued may be asked about again at once.
 */
export class IntrospectionVerifier implements TokenVerifier {
  private readonly cache = new Map<string, { until: number; verdict: Verdict }>();
  private readonly opts: IntrospectionOptions;

  constructor(opts: IntrospectionOptions) {
    this.opts = opts;
  }

  async verify(token: string): Promise<Verdict> {
    const key = createHash('sha256').update(token).digest('base64url');
    const hit = this.cache.get(key);
    if (hit && hit.until > Date.now()) return hit.verdict;
    if (hit) this.cache.delete(key);
    const { verdict, exp } = await this.ask(token);
    const keepMs = this.opts.cacheMs ?? INTROSPECTION_CACHE_MS;
    if (!verdict.ok || keepMs <= 0) return verdict;
    if (this.cache.size >= INTROSPECTION_CACHE_MAX) this.cache.clear();
    const until = Math.min(Date.now() + keepMs, exp ? exp * 1000 : Number.POSITIVE_INFINITY);
    this.cache.set(key, { until, verdict });
    return verdict;
  }

  private async ask(token: string): Promise<{ verdict: Verdict; exp?: number }> {
    const basic = Buffer.from(`${encodeURIComponent(this.opts.clientId)}:${encodeURIComponent(this.opts.clientSecret)}`).toString(
      'base64',
    );
    let body: Record<string, unknown>;
    try {
      const res = await (this.opts.fetch ?? fetch)(this.opts.url, {
        method: 'POST',
        headers: {
          authorization: `Basic ${basic}`,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
      });
      if (!res.ok) return { verdict: { ok: false, reason: `the introspection endpoint answered ${res.status}` } };
      body = (await res.json()) as Record<string, unknown>;
    } catch (err) {
      return { verdict: { ok: false, reason: `the introspection endpoint could not be reached: ${errorMessage(err)}` } };
    }
    if (body.active !== true) return { verdict: { ok: false, reason: 'the token is not active' } };
    if (isBound(body.cnf)) return { verdict: { ok: false, reason: BOUND } };
    // A refresh token is active too, to its issuer: only a bearer access token may call (Keycloak says `typ`).
    const type = body.token_type ?? body.typ;
    if (type !== undefined && String(type).toLowerCase() !== 'bearer')
      return { verdict: { ok: false, reason: 'the token is not a bearer access token' } };
    const exp = typeof body.exp === 'number' ? body.exp : undefined;
    if (exp !== undefined && exp * 1000 <= Date.now()) return { verdict: { ok: false, reason: 'the token has expired' } };
    const aud = Array.isArray(body.aud) ? body.aud : [body.aud];
    if (!aud.includes(this.opts.audience))
      return { verdict: { ok: false, reason: 'the token was issued for another resource (aud)' } };
    if (this.opts.issuer && body.iss !== undefined && body.iss !== this.opts.issuer)
      return { verdict: { ok: false, reason: 'the token comes from another issuer (iss)' } };
    // No resource owner (client credentials): the client is the subject, as RFC 9068 §2.2 has a
    // JWT say, and as a JWT issuer would put it in `sub`.
    const subject = nonEmpty(body.sub) ?? nonEmpty(body.client_id);
    if (!subject) return { verdict: { ok: false, reason: 'the token names no subject' } };
    const principal = { name: subject, scopes: mapScopes(tokenScopes(body), this.opts.scopeMap) };
    return { verdict: { ok: true, principal }, ...(exp !== undefined ? { exp } : {}) };
  }
}

const BOUND = 'the token is bound to a key or certificate (cnf) that Interlock cannot check; use a bearer token';

/**
 * A sender-constrained token (DPoP `jkt`, mTLS `x5t#S256`: RFC 7800's `cnf`) is only as good as
 * the proof that comes with it. Interlock checks no proof, so taking one as a bearer token would
 * let whoever copied it use it.
 */
function isBound(cnf: unknown): boolean {
  return typeof cnf === 'object' && cnf !== null && Object.keys(cnf).length > 0;
}

function nonEmpty(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}
