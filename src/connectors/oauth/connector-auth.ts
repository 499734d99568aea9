import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { auth, extractWWWAuthenticateParams } from '@modelcontextprotocol/sdk/client/auth.js';
import { OAuthError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { InterlockError, errorMessage } from '../../errors.ts';
import { registerSecret } from '../../secrets.ts';
import type { ConnectorConfig, OAuthConnectorAuth } from '../config.ts';
import { resolveEnvRefs } from '../env-refs.ts';
import { type AccountSummary, CredentialStore, type StoredTokens } from './credentials.ts';
import { loginRequired } from './login-required.ts';
import { InterlockOAuthProvider, type ProviderMode } from './provider.ts';
import type { Sealer } from './sealed.ts';
import type { CredentialVault } from './vault.ts';

export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

export interface OAuthDeps {
  vault: CredentialVault;
  /** the sealer over INTERLOCK_SECRET_KEY; throws the clear error when the key is missing */
  sealer: () => Sealer;
  /** where the authorization server sends the person back: Interlock's GET /oauth/callback */
  redirectUrl: () => string;
  env: NodeJS.ProcessEnv;
  fetch?: FetchLike;
}

/** A login under way, sealed in Redis under its `state` until the callback takes it. */
export interface LoginRecord {
  connector: string;
  verifier: string;
  resourceMetadataUrl?: string;
  scope?: string;
  createdAt: number;
}

export type LoginStart = { kind: 'redirect'; url: string; state: string; expiresAt: number } | { kind: 'connected' };

/** How long a started login waits for its callback. */
export const LOGIN_TTL_MS = 10 * 60_000;
/** A refresh holds the lock at most this long (a token endpoint slower than this is down). */
const LOCK_TTL_MS = 30_000;
const LOCK_POLL_MS = 50;

/**
 * One OAuth connector as a client of its server: the access token on every request, a refresh
 * before expiry or after a 401 that happens once across every Interlock process (a lock in Redis;
 * the others wait and read what it saved), and the start and end of a person's login. The protocol
 * itself is the MCP SDK's `auth()`; the state it keeps is InterlockOAuthProvider's.
 */
export class ConnectorOAuth {
  readonly id: string;
  readonly store: CredentialStore;
  private readonly auth: OAuthConnectorAuth;
  private readonly config: ConnectorConfig;
  private readonly deps: OAuthDeps;
  private readonly baseFetch: FetchLike;

  constructor(config: ConnectorConfig, auth: OAuthConnectorAuth, deps: OAuthDeps) {
    this.id = config.id;
    this.config = config;
    this.auth = auth;
    this.deps = deps;
    this.baseFetch = deps.fetch ?? ((input, init) => fetch(input, init));
    this.store = new CredentialStore(config.id, auth, deps.vault, deps.sealer, deps.env);
  }

  serverUrl(): URL {
    const t = this.config.transport;
    if (t.type === 'stdio') throw new InterlockError('CONFIG_INVALID', `Connector "${this.id}": oauth needs an HTTP transport`);
    return new URL(resolveEnvRefs(t.url, this.deps.env));
  }

  /** The fetch a transport sends with: the bearer token on, a 401 answered by a refresh and one retry. */
  readonly fetch: FetchLike = async (input, init) => {
    const token = await this.accessToken();
    const res = await this.send(input, init, token);
    if (res.status === 403 || res.status === 401) {
      const www = extractWWWAuthenticateParams(res);
      // Step-up: a refresh keeps the scopes the login granted, so only a new login can add one.
      if (www.error === 'insufficient_scope') {
        const wanted = www.scope?.split(' ').filter(Boolean) ?? [];
        const reason = `the server asks for scope "${www.scope ?? '(unnamed)'}", which the login did not grant`;
        await this.store.markLoginRequired(reason, wanted);
        throw loginRequired(this.id, reason, { scope: www.scope, error: 'insufficient_scope' });
      }
    }
    if (res.status !== 401) return res;
    const www = extractWWWAuthenticateParams(res);
    const next = await this.refreshOnce(token, {
      ...(www.resourceMetadataUrl ? { resourceMetadataUrl: www.resourceMetadataUrl } : {}),
      ...(www.scope ? { scope: www.scope } : {}),
    });
    const again = await this.send(input, init, next);
    if (again.status === 401) {
      const reason = 'the server refuses the token the authorization server just issued';
      await this.store.markLoginRequired(reason);
      throw loginRequired(this.id, reason);
    }
    return again;
  };

  private send(input: string | URL, init: RequestInit | undefined, token: string): Promise<Response> {
    const headers = new Headers(init?.headers);
    headers.set('Authorization', `Bearer ${token}`);
    return this.baseFetch(input, { ...init, headers });
  }

  /** A usable access token: the stored one, refreshed first when it is about to expire. */
  async accessToken(): Promise<string> {
    const t = await this.store.tokens();
    if (!t) {
      if (this.auth.grant === 'client_credentials') return this.refreshOnce(undefined);
      throw await this.needsLogin('nobody has logged in yet');
    }
    if (expiring(t)) {
      if (t.refresh_token || this.auth.grant === 'client_credentials') return this.refreshOnce(t.access_token);
      throw await this.needsLogin('the login expired and the authorization server gave no refresh token');
    }
    return t.access_token;
  }

  private async needsLogin(reason: string): Promise<InterlockError> {
    if ((await this.store.account())?.status !== 'login_required') await this.store.markLoginRequired(reason);
    return loginRequired(this.id, reason);
  }

  /**
   * Replaces the token `seen` (undefined: there is none) once across every process. Whoever takes
   * the lock re-reads first: a token other than `seen` that is not expiring means another process
   * refreshed meanwhile, and that one is used. The rest poll until the holder is done.
   */
  private async refreshOnce(seen: string | undefined, hint: { resourceMetadataUrl?: URL; scope?: string } = {}): Promise<string> {
    const owner = randomUUID();
    const deadline = Date.now() + 2 * LOCK_TTL_MS;
    for (;;) {
      if (await this.deps.vault.lock(this.id, owner, LOCK_TTL_MS)) {
        try {
          const now = await this.store.tokens();
          if (now && now.access_token !== seen && !expiring(now)) return now.access_token;
          return await this.obtain(now, hint);
        } finally {
          await this.deps.vault.unlock(this.id, owner);
        }
      }
      await sleep(LOCK_POLL_MS);
      const now = await this.store.tokens();
      if (now && now.access_token !== seen && !expiring(now)) return now.access_token;
      if (Date.now() > deadline)
        throw new InterlockError(
          'CONNECTOR_UNAVAILABLE',
          `Connector "${this.id}": another process holds the token refresh too long`,
          {
            connector: this.id,
            maybeDelivered: false,
          },
        );
    }
  }

  /** Under the lock: a refresh (or a client-credentials token) through the SDK's auth(). */
  private async obtain(current: StoredTokens | undefined, hint: { resourceMetadataUrl?: URL; scope?: string }): Promise<string> {
    if (this.auth.grant === 'authorization_code' && !current?.refresh_token)
      throw await this.needsLogin(current ? 'the login expired and there is no refresh token' : 'nobody has logged in yet');
    const mode: ProviderMode = { kind: 'background' };
    const wanted = (await this.store.account())?.wantedScopes ?? [];
    const provider = new InterlockOAuthProvider(this.auth, this.store, this.deps.redirectUrl(), mode, wanted);
    let result: string;
    try {
      result = await auth(provider, {
        serverUrl: this.serverUrl(),
        ...(hint.resourceMetadataUrl ? { resourceMetadataUrl: hint.resourceMetadataUrl } : {}),
        ...(hint.scope ? { scope: hint.scope } : {}),
        fetchFn: this.baseFetch,
      });
    } catch (err) {
      if (err instanceof InterlockError) throw err;
      // The authorization server refused (an OAuthError) or could not be reached: either way no
      // token, and the message says which; nothing in it is a secret (scrubbed regardless).
      const message = errorMessage(err);
      if (err instanceof OAuthError) throw await this.needsLogin(`the authorization server refused: ${message}`);
      throw new InterlockError('CONNECTOR_UNAVAILABLE', `Connector "${this.id}": could not obtain a token: ${message}`, {
        connector: this.id,
        maybeDelivered: false,
      });
    }
    if (result !== 'AUTHORIZED' || mode.needsLogin)
      throw await this.needsLogin('the refresh token was refused (revoked or expired)');
    const fresh = await this.store.tokens();
    if (!fresh) throw await this.needsLogin('the authorization server answered without a token');
    return fresh.access_token;
  }

  /**
   * Starts a person's login: asks the server for its 401 (the metadata URL and scope in
   * WWW-Authenticate), registers a client if there is none, and returns the authorization URL
   * (PKCE S256, `resource`, `state`). The verifier waits, sealed, for the callback with that state.
   * A client-credentials connector has no person to ask: it fetches a token now.
   */
  async beginLogin(): Promise<LoginStart> {
    if (this.auth.grant === 'client_credentials') {
      await this.refreshOnce((await this.store.tokens())?.access_token);
      return { kind: 'connected' };
    }
    const www = await this.probe();
    const account = await this.store.account();
    const scopes = new Set(
      [...(www.scope?.split(' ') ?? []), ...(account?.wantedScopes ?? []), ...this.auth.scopes].filter(Boolean),
    );
    const state = randomBytes(24).toString('base64url');
    const mode: ProviderMode = { kind: 'begin', state };
    const provider = new InterlockOAuthProvider(this.auth, this.store, this.deps.redirectUrl(), mode);
    await auth(provider, {
      serverUrl: this.serverUrl(),
      ...(www.resourceMetadataUrl ? { resourceMetadataUrl: www.resourceMetadataUrl } : {}),
      ...(scopes.size ? { scope: [...scopes].join(' ') } : {}),
      fetchFn: this.baseFetch,
    });
    if (!mode.url || !mode.verifier)
      throw new InterlockError('INTERNAL', `Connector "${this.id}": the login did not produce an authorization URL`);
    const record: LoginRecord = {
      connector: this.id,
      verifier: mode.verifier,
      ...(www.resourceMetadataUrl ? { resourceMetadataUrl: www.resourceMetadataUrl.href } : {}),
      ...(provider.scopeAsked ? { scope: provider.scopeAsked } : {}),
      createdAt: Date.now(),
    };
    await this.deps.vault.putLogin(state, this.deps.sealer().seal(record, `login/${state}`), LOGIN_TTL_MS);
    return { kind: 'redirect', url: mode.url.href, state, expiresAt: record.createdAt + LOGIN_TTL_MS };
  }

  /** Ends a login the callback brought back: the code and the sealed verifier go to the token endpoint. */
  async completeLogin(record: LoginRecord, code: string): Promise<AccountSummary | undefined> {
    registerSecret(code);
    const provider = new InterlockOAuthProvider(this.auth, this.store, this.deps.redirectUrl(), {
      kind: 'callback',
      verifier: record.verifier,
    });
    provider.scopeAsked = record.scope;
    await auth(provider, {
      serverUrl: this.serverUrl(),
      authorizationCode: code,
      ...(record.resourceMetadataUrl ? { resourceMetadataUrl: new URL(record.resourceMetadataUrl) } : {}),
      fetchFn: this.baseFetch,
    });
    return this.store.account();
  }

  /** The server's answer to a request without a token: what its WWW-Authenticate names. */
  private async probe(): Promise<{ resourceMetadataUrl?: URL; scope?: string }> {
    const sse = this.config.transport.type === 'sse';
    const res = await this.baseFetch(this.serverUrl(), {
      method: sse ? 'GET' : 'POST',
      headers: { accept: sse ? 'text/event-stream' : 'application/json, text/event-stream', 'content-type': 'application/json' },
      ...(sse
        ? {}
        : {
            body: JSON.stringify({
              jsonrpc: '2.0',
              id: 0,
              method: 'initialize',
              params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'interlock', version: '0.1.0' } },
            }),
          }),
    }).catch((err: unknown) => {
      throw new InterlockError('CONNECTOR_UNAVAILABLE', `Connector "${this.id}" is unreachable: ${errorMessage(err)}`, {
        connector: this.id,
      });
    });
    await res.body?.cancel().catch(() => {});
    if (res.status !== 401 && res.status !== 403) return {};
    const www = extractWWWAuthenticateParams(res);
    return {
      ...(www.resourceMetadataUrl ? { resourceMetadataUrl: www.resourceMetadataUrl } : {}),
      ...(www.scope ? { scope: www.scope } : {}),
    };
  }
}

/** Due for a refresh: within a tenth of its lifetime (at most a minute) of expiring. */
function expiring(t: StoredTokens): boolean {
  if (t.expires_at === undefined) return false;
  const margin = Math.min(60_000, (t.expires_at - t.obtained_at) / 10);
  return Date.now() >= t.expires_at - margin;
}
