import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { InterlockError } from '../errors.ts';
import { registerSecret } from '../secrets.ts';
import type { TokenConfig } from '../workflows/types.ts';

export type Scope = TokenConfig['scopes'][number];
export const SCOPES: readonly Scope[] = ['read', 'trigger', 'confirm', 'admin', 'audit'];

/** Who made a request. `name` is the token's name from the config, never its value. */
export interface Principal {
  name: string;
  scopes: Scope[];
}

/** The cookie that carries a browser's login after `?token=` was exchanged once. */
export const SESSION_COOKIE = 'interlock_session';
const SESSION_TTL_MS = 12 * 3_600_000;

interface Known {
  name: string;
  scopes: Scope[];
  digest: Buffer;
  value: string;
}

/**
 * Bearer tokens from the config, their values read from the environment. A reloaded config's
 * tokens replace them (`update`): a token added is let in and a token removed is shut out at the
 * next request, its browser sessions with it.
 *
 * Tokens are compared as SHA-256 digests with timingSafeEqual, over every configured token
 * without stopping at the first match, so neither the length nor the position of a token leaks
 * through timing. With no tokens configured the authenticator is `open`: every request is the
 * local operator with all scopes, which the server only allows on a loopback address.
 */
export class Authenticator {
  private state: TokenState;
  private readonly env: NodeJS.ProcessEnv;
  private readonly oauth: boolean;

  private constructor(state: TokenState, env: NodeJS.ProcessEnv, oauth: boolean) {
    this.state = state;
    this.env = env;
    this.oauth = oauth;
  }

  /** `oauth`: OAuth is configured, so the server is never open even without static tokens. */
  static fromConfig(tokens: TokenConfig[], env: NodeJS.ProcessEnv = process.env, opts: { oauth?: boolean } = {}): Authenticator {
    return new Authenticator(readTokens(tokens, env, !!opts.oauth), env, !!opts.oauth);
  }

  /** No tokens are configured: every caller is the local operator (loopback only). */
  get open(): boolean {
    return this.state.open;
  }

  /** names of configured tokens whose environment variable is unset; those tokens admit nobody */
  get missing(): string[] {
    return this.state.missing;
  }

  /**
   * Takes a reloaded config's tokens, their values read from the same environment as at start.
   * `mayOpen` false (a server bound beyond loopback) keeps a config without tokens closed: it
   * admits nobody rather than everybody, and `update` answers why.
   */
  update(tokens: TokenConfig[], opts: { mayOpen: boolean }): { closedInsteadOfOpen: boolean } {
    const next = readTokens(tokens, this.env, this.oauth);
    const closedInsteadOfOpen = next.open && !opts.mayOpen;
    this.state = closedInsteadOfOpen ? { ...next, open: false } : next;
    return { closedInsteadOfOpen };
  }

  /** The principal for an `Authorization: Bearer …` header, or undefined. */
  authenticate(authorization: string | undefined): Principal | undefined {
    if (this.open) return { name: 'local', scopes: [...SCOPES] };
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? '');
    return m ? this.byToken(m[1]) : undefined;
  }

  /** The principal for a raw token value (the `?token=` exchange), or undefined. */
  byToken(token: string): Principal | undefined {
    const d = digest(token);
    let found: Known | undefined;
    for (const k of this.state.known) {
      if (timingSafeEqual(d, k.digest) && !found) found = k;
    }
    return found ? { name: found.name, scopes: [...found.scopes] } : undefined;
  }

  /**
   * A cookie value naming the token and an expiry, signed with the token's own value: the raw
   * token never sits in the browser, restarts keep sessions, and rotating a token ends its sessions.
   */
  sessionCookie(principal: Principal, now = Date.now()): string {
    const k = this.state.known.find((x) => x.name === principal.name);
    if (!k) throw new InterlockError('UNAUTHORIZED', 'Only a configured token can open a browser session');
    const body = `${b64(k.name)}.${now + SESSION_TTL_MS}`;
    return `${body}.${sign(k.value, body)}`;
  }

  fromSessionCookie(cookie: string | undefined, now = Date.now()): Principal | undefined {
    if (this.open) return { name: 'local', scopes: [...SCOPES] };
    const parts = (cookie ?? '').split('.');
    if (parts.length !== 3) return undefined;
    const [nameB64, exp, mac] = parts;
    const name = Buffer.from(nameB64, 'base64url').toString('utf8');
    const k = this.state.known.find((x) => x.name === name);
    if (!k || !(Number(exp) > now)) return undefined;
    const want = Buffer.from(sign(k.value, `${nameB64}.${exp}`));
    const got = Buffer.from(mac);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return undefined;
    return { name: k.name, scopes: [...k.scopes] };
  }

  static sessionMaxAgeSeconds(): number {
    return SESSION_TTL_MS / 1000;
  }
}

/** 401 without a principal, 403 without the scope; the message names the scope, never a token. */
export function requireScope(p: Principal | undefined, scope: Scope): Principal {
  if (!p) throw new InterlockError('UNAUTHORIZED', 'Authentication required: send Authorization: Bearer <token>');
  if (!p.scopes.includes(scope)) {
    throw new InterlockError('FORBIDDEN', `Token '${p.name}' lacks the '${scope}' scope`, { required: scope, scopes: p.scopes });
  }
  return p;
}

export function hasScope(p: Principal | undefined, scope: Scope): boolean {
  return !!p && p.scopes.includes(scope);
}

interface TokenState {
  open: boolean;
  known: Known[];
  missing: string[];
}

function readTokens(tokens: TokenConfig[], env: NodeJS.ProcessEnv, oauth: boolean): TokenState {
  const known: Known[] = [];
  const missing: string[] = [];
  for (const t of tokens) {
    const value = env[t.env];
    if (!value) missing.push(t.name);
    else {
      known.push({ name: t.name, scopes: [...t.scopes], digest: digest(value), value });
      registerSecret(value);
    }
  }
  // A config that lists tokens is never open, even when every variable is missing: failing
  // closed beats serving everything because an env file was not loaded. Nor is one with OAuth.
  return { open: tokens.length === 0 && !oauth, known, missing };
}

function digest(v: string): Buffer {
  return createHash('sha256').update(v).digest();
}

function sign(key: string, body: string): string {
  return createHmac('sha256', key).update(`interlock-session:${body}`).digest('base64url');
}

function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64url');
}
