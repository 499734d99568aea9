/**
 * `server:` in workflows.yaml: how `interlock serve` authenticates callers besides static tokens.
 *
 * ```yaml
 * server:
 *   auth:
 *     oauth:
 *       issuer: https://login.example.com/realms/ops     # an existing authorization server, or
 *       builtin: { secret: "${env:…}", users: [...] }    # Interlock's own
 * ```
 */
import { SCOPES, readScopes, readSecretRef } from './schema.ts';
import { type Field, type Source, readDuration, readInt, readList, readMap, readString, readStringList } from './source.ts';
import type { BuiltinAuthServerConfig, OAuthUserConfig, Scope, ServerConfig, ServerOAuthConfig } from './types.ts';

export const DEFAULT_ACCESS_TOKEN_TTL_S = 3600;

/** Each Interlock scope is granted by a token scope of the same name or `interlock:<name>`. */
export function defaultScopeMap(): Record<Scope, string[]> {
  return Object.fromEntries(SCOPES.map((s) => [s, [s, `interlock:${s}`]])) as Record<Scope, string[]>;
}

/** `tokenNames`: a built-in user may not share a token's name (see readUser). */
export function readServer(src: Source, f: Field, tokenNames: ReadonlySet<string> = new Set()): ServerConfig | undefined {
  const m = readMap(src, f, 'server', { optional: ['auth'] });
  if (!m) return undefined;
  if (!m.auth) return { auth: {} };
  const a = readMap(src, m.auth, 'server auth', { optional: ['oauth'] });
  if (!a) return undefined;
  if (!a.oauth) return { auth: {} };
  const oauth = readOAuth(src, a.oauth, tokenNames);
  return oauth ? { auth: { oauth } } : undefined;
}

function readOAuth(src: Source, f: Field, tokenNames: ReadonlySet<string>): ServerOAuthConfig | undefined {
  const m = readMap(src, f, 'server auth oauth', {
    optional: ['issuer', 'jwks_uri', 'introspection', 'audience', 'scopes', 'builtin'],
  });
  if (!m) return undefined;
  const before = src.issues.length;
  if (!m.issuer && !m.builtin)
    src.add(f.keyPos, f.path, 'server auth oauth needs either "issuer" (an existing authorization server) or "builtin"');
  if (m.issuer && m.builtin)
    src.add(
      m.builtin.keyPos,
      m.builtin.path,
      'server auth oauth takes "issuer" or "builtin", not both: the built-in server is its own issuer',
    );
  const out: ServerOAuthConfig = { scopeMap: m.scopes ? readScopeMap(src, m.scopes) : defaultScopeMap() };
  if (m.issuer) out.issuer = readUrl(src, m.issuer, 'oauth issuer');
  if (m.jwks_uri) out.jwksUri = readUrl(src, m.jwks_uri, 'oauth jwks_uri');
  if (m.audience) out.audience = readString(src, m.audience, 'oauth audience');
  if (m.introspection) {
    const intro = readIntrospection(src, m.introspection);
    if (intro) out.introspection = intro;
  }
  if (m.builtin) {
    if (m.jwks_uri || m.introspection)
      src.add(
        m.builtin.keyPos,
        m.builtin.path,
        'the built-in authorization server verifies its own tokens: drop jwks_uri and introspection',
      );
    const b = readBuiltin(src, m.builtin, tokenNames);
    if (b) out.builtin = b;
  }
  return src.issues.length === before ? out : undefined;
}

function readUrl(src: Source, f: Field, what: string): string | undefined {
  const v = readString(src, f, what);
  if (v === undefined) return undefined;
  try {
    const u = new URL(v);
    if (u.protocol === 'https:' || u.protocol === 'http:') return v.replace(/\/+$/, '');
  } catch {
    // reported below
  }
  src.add(f.pos, f.path, `${what} must be an http(s) URL, not "${v}"`);
  return undefined;
}

function readIntrospection(src: Source, f: Field): ServerOAuthConfig['introspection'] {
  const m = readMap(src, f, 'oauth introspection', { required: ['url', 'client_id', 'client_secret'], optional: ['cache'] });
  if (!m?.url || !m.client_id || !m.client_secret) return undefined;
  const url = readUrl(src, m.url, 'introspection url');
  const clientId = readString(src, m.client_id, 'introspection client_id');
  const clientSecretEnv = readSecretRef(src, m.client_secret, 'introspection client_secret');
  // 0s: ask the issuer on every request, so a revoked token stops at once.
  const cacheMs = m.cache ? readDuration(src, m.cache, 'introspection cache', { positive: false }) : undefined;
  if (!url || !clientId || !clientSecretEnv) return undefined;
  return { url, clientId, clientSecretEnv, ...(cacheMs !== undefined ? { cacheMs } : {}) };
}

function readScopeMap(src: Source, f: Field): Record<Scope, string[]> {
  const m = readMap(src, f, 'oauth scopes', { optional: SCOPES });
  const out = defaultScopeMap();
  for (const s of SCOPES) {
    const field = m?.[s];
    if (!field) continue;
    const list = readStringList(src, field, `the token scopes that grant "${s}"`);
    if (list) out[s] = list;
  }
  return out;
}

function readBuiltin(src: Source, f: Field, tokenNames: ReadonlySet<string>): BuiltinAuthServerConfig | undefined {
  const m = readMap(src, f, 'oauth builtin', {
    required: ['secret', 'users'],
    optional: ['signing_key', 'access_token_ttl', 'sign_in_limit'],
  });
  if (!m?.secret || !m.users) return undefined;
  const secretEnv = readSecretRef(src, m.secret, 'builtin secret');
  const signingKeyEnv = m.signing_key ? readSecretRef(src, m.signing_key, 'builtin signing_key') : undefined;
  const ttlMs = m.access_token_ttl
    ? readDuration(src, m.access_token_ttl, 'builtin access_token_ttl', { positive: true })
    : DEFAULT_ACCESS_TOKEN_TTL_S * 1000;
  const users: OAuthUserConfig[] = [];
  const names = new Set<string>();
  const items = readList(src, m.users, 'builtin users') ?? [];
  if (items.length === 0) src.add(m.users.pos, m.users.path, 'builtin users must list at least one person who may sign in');
  for (const item of items) {
    const u = readUser(src, item, tokenNames);
    if (!u) continue;
    if (names.has(u.name)) src.add(item.pos, item.path, `duplicate user name "${u.name}"`);
    names.add(u.name);
    users.push(u);
  }
  const signInLimit = m.sign_in_limit ? readSignInLimit(src, m.sign_in_limit) : undefined;
  if (!secretEnv || ttlMs === undefined) return undefined;
  return {
    secretEnv,
    ...(signingKeyEnv ? { signingKeyEnv } : {}),
    users,
    accessTokenTtlS: Math.max(1, Math.round(ttlMs / 1000)),
    ...(signInLimit ? { signInLimit } : {}),
  };
}

/** `sign_in_limit: { attempts: 5, window: 15m }`: failed sign-ins per user name and address. */
function readSignInLimit(src: Source, f: Field): BuiltinAuthServerConfig['signInLimit'] {
  const m = readMap(src, f, 'builtin sign_in_limit', { required: ['attempts', 'window'] });
  if (!m?.attempts || !m.window) return undefined;
  const attempts = readInt(src, m.attempts, 'sign_in_limit attempts', 1);
  const windowMs = readDuration(src, m.window, 'sign_in_limit window', { positive: true });
  return attempts !== undefined && windowMs !== undefined ? { attempts, windowMs } : undefined;
}

const HASH_RE = /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/;

/**
 * A run's owner and a decision's author are a token name or an OAuth subject; a user named like a
 * token would share that token's runs and remembered approvals.
 */
function readUser(src: Source, f: Field, tokenNames: ReadonlySet<string>): OAuthUserConfig | undefined {
  const m = readMap(src, f, 'builtin user', { required: ['name', 'scopes'], optional: ['password', 'password_hash'] });
  if (!m?.name || !m.scopes) return undefined;
  const name = readString(src, m.name, 'user name');
  if (name !== undefined && !/^[A-Za-z0-9_.@-]{1,64}$/.test(name))
    src.add(m.name.pos, m.name.path, 'a user name may hold only letters, digits, _ . @ and -, at most 64 of them');
  if (name !== undefined && tokenNames.has(name))
    src.add(m.name.pos, m.name.path, `user "${name}" has the name of a token; give one of them another name`);
  const scopes = readScopes(src, m.scopes, `user "${name ?? '?'}" scopes`);
  if (!m.password === !m.password_hash) {
    src.add(f.pos, f.path, `user "${name ?? '?'}" needs exactly one of password: "\${env:NAME}" or password_hash: "scrypt$…"`);
    return undefined;
  }
  const passwordEnv = m.password ? readSecretRef(src, m.password, `user "${name ?? '?'}" password`) : undefined;
  let passwordHash: string | undefined;
  if (m.password_hash) {
    passwordHash = readString(src, m.password_hash, 'password_hash');
    if (passwordHash !== undefined && !HASH_RE.test(passwordHash)) {
      src.add(
        m.password_hash.pos,
        m.password_hash.path,
        'password_hash must be "scrypt$N$r$p$salt$hash" as `interlock hash-password` prints it',
      );
      passwordHash = undefined;
    }
  }
  if (name === undefined || !scopes || (!passwordEnv && !passwordHash)) return undefined;
  return { name, scopes, ...(passwordEnv ? { passwordEnv } : {}), ...(passwordHash ? { passwordHash } : {}) };
}
