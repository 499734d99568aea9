import type { OAuthDiscoveryState } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { InterlockError } from '../../errors.ts';
import { registerSecret } from '../../secrets.ts';
import type { OAuthConnectorAuth } from '../config.ts';
import { resolveEnvRefs } from '../env-refs.ts';
import type { Sealer } from './sealed.ts';
import { FIELD, type CredentialVault } from './vault.ts';

/** What pages and the API may show about a connector's login: never a token. */
export interface AccountSummary {
  status: 'connected' | 'login_required';
  /** who the login is for, as the authorization server's ID token names them, when it sent one */
  subject?: string;
  scopes?: string[];
  /** when the access token expires (ms since epoch) */
  expiresAt?: number;
  connectedAt?: number;
  refreshedAt?: number;
  /** why a login is needed, in words */
  reason?: string;
  /** scopes a server asked for after the login (insufficient_scope); the next login asks for them */
  wantedScopes?: string[];
}

/** Tokens as kept: what the token endpoint answered, plus when, so expiry is known without asking. */
export interface StoredTokens extends OAuthTokens {
  obtained_at: number;
  expires_at?: number;
}

/**
 * One connector's credentials, typed, over the vault. Every token and client secret is sealed
 * with the connector and field as additional data and registered as a secret in this process
 * when read, so a log line or error that somehow holds it is scrubbed.
 */
export class CredentialStore {
  readonly connector: string;
  private readonly auth: OAuthConnectorAuth;
  private readonly vault: CredentialVault;
  private readonly sealer: () => Sealer;
  private readonly env: NodeJS.ProcessEnv;

  constructor(connector: string, auth: OAuthConnectorAuth, vault: CredentialVault, sealer: () => Sealer, env: NodeJS.ProcessEnv) {
    this.connector = connector;
    this.auth = auth;
    this.vault = vault;
    this.sealer = sealer;
    this.env = env;
  }

  private place(field: string): string {
    return `${this.connector}/${field}`;
  }

  private async readSealed<T>(field: string): Promise<T | undefined> {
    const raw = (await this.vault.read(this.connector))[field];
    return raw ? this.sealer().open<T>(raw, this.place(field)) : undefined;
  }

  private async writeSealed(field: string, value: unknown): Promise<void> {
    await this.vault.write(this.connector, { [field]: this.sealer().seal(value, this.place(field)) });
  }

  /** A pre-registered client from the config; otherwise what registration (dynamic or metadata document) stored. */
  async clientInformation(): Promise<OAuthClientInformationMixed | undefined> {
    if (this.auth.clientId !== undefined) {
      const secret = this.auth.clientSecretEnv ? this.env[this.auth.clientSecretEnv] : undefined;
      if (this.auth.clientSecretEnv && !secret) {
        throw new InterlockError(
          'CONNECTOR_UNAVAILABLE',
          `Connector "${this.connector}": auth.client_secret refers to ${this.auth.clientSecretEnv}, which is not set`,
          { connector: this.connector, reason: 'config', variable: this.auth.clientSecretEnv },
        );
      }
      registerSecret(secret);
      return { client_id: resolveEnvRefs(this.auth.clientId, this.env), ...(secret ? { client_secret: secret } : {}) };
    }
    const info = await this.readSealed<OAuthClientInformationMixed>(FIELD.client);
    registerSecret(info?.client_secret);
    return info;
  }

  async saveClientInformation(info: OAuthClientInformationMixed): Promise<void> {
    // A pre-registered client lives in the config; the SDK only stamps it with its issuer.
    if (this.auth.clientId !== undefined) return;
    registerSecret(info.client_secret);
    await this.writeSealed(FIELD.client, info);
  }

  async tokens(): Promise<StoredTokens | undefined> {
    const t = await this.readSealed<StoredTokens>(FIELD.tokens);
    registerSecret(t?.access_token);
    registerSecret(t?.refresh_token);
    return t;
  }

  async saveTokens(tokens: OAuthTokens, scopeAsked: string | undefined): Promise<void> {
    registerSecret(tokens.access_token);
    registerSecret(tokens.refresh_token);
    registerSecret(tokens.id_token);
    const before = await this.account();
    const now = Date.now();
    const previous = await this.tokens();
    // A refresh answer may leave out the refresh token (it was not rotated): keep the one we have.
    const kept: StoredTokens = {
      ...tokens,
      ...(tokens.refresh_token === undefined && previous?.refresh_token ? { refresh_token: previous.refresh_token } : {}),
      obtained_at: now,
      ...(tokens.expires_in !== undefined ? { expires_at: now + tokens.expires_in * 1000 } : {}),
    };
    await this.writeSealed(FIELD.tokens, kept);
    const refreshed = previous !== undefined && before?.status === 'connected';
    const scope = tokens.scope ?? scopeAsked ?? before?.scopes?.join(' ');
    const subject = subjectOf(tokens.id_token) ?? (refreshed ? before?.subject : undefined);
    const summary: AccountSummary = {
      status: 'connected',
      ...(subject ? { subject } : {}),
      ...(scope ? { scopes: scope.split(' ').filter(Boolean) } : {}),
      ...(kept.expires_at ? { expiresAt: kept.expires_at } : {}),
      connectedAt: refreshed && before?.connectedAt ? before.connectedAt : now,
      ...(refreshed ? { refreshedAt: now } : {}),
    };
    await this.vault.write(this.connector, { [FIELD.account]: JSON.stringify(summary) });
  }

  async account(): Promise<AccountSummary | undefined> {
    const raw = (await this.vault.read(this.connector))[FIELD.account];
    if (!raw) return undefined;
    try {
      return JSON.parse(raw) as AccountSummary;
    } catch {
      return undefined;
    }
  }

  async markLoginRequired(reason: string, wantedScopes?: string[]): Promise<void> {
    const before = await this.account();
    const summary: AccountSummary = {
      status: 'login_required',
      reason,
      ...(before?.subject ? { subject: before.subject } : {}),
      ...(before?.scopes ? { scopes: before.scopes } : {}),
      ...(wantedScopes?.length ? { wantedScopes } : before?.wantedScopes ? { wantedScopes: before.wantedScopes } : {}),
    };
    await this.vault.write(this.connector, { [FIELD.account]: JSON.stringify(summary) });
  }

  async invalidate(scope: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery'): Promise<void> {
    const fields: string[] = [];
    if (scope === 'all' || scope === 'tokens') fields.push(FIELD.tokens);
    if (scope === 'all' || scope === 'client') fields.push(FIELD.client);
    if (scope === 'all' || scope === 'discovery') fields.push(FIELD.discovery);
    await this.vault.remove(this.connector, fields);
  }

  discovery(): Promise<OAuthDiscoveryState | undefined> {
    return this.readSealed<OAuthDiscoveryState>(FIELD.discovery);
  }

  async saveDiscovery(state: OAuthDiscoveryState): Promise<void> {
    await this.writeSealed(FIELD.discovery, state);
  }
}

/**
 * Who an ID token names, for display only (it is not verified here and grants nothing):
 * email, then preferred_username, then name, then sub.
 */
function subjectOf(idToken: string | undefined): string | undefined {
  const payload = idToken?.split('.')[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    for (const k of ['email', 'preferred_username', 'name', 'sub']) if (typeof claims[k] === 'string') return claims[k];
  } catch {
    // not a JWT: nobody named
  }
  return undefined;
}
