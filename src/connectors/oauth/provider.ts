import type { OAuthClientProvider, OAuthDiscoveryState } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import type { OAuthConnectorAuth } from '../config.ts';
import type { CredentialStore } from './credentials.ts';

/**
 * What one run of the SDK's `auth()` is for:
 *  - `background`: a worker refreshing (or fetching client-credentials tokens); an authorization
 *    it cannot do without a person only marks the connector as needing a login;
 *  - `begin`: a person starts a login; the authorization URL and PKCE verifier are captured;
 *  - `callback`: the authorization server sent the person back with a code for that verifier.
 */
export type ProviderMode =
  | { kind: 'background'; needsLogin?: boolean }
  | { kind: 'begin'; state: string; url?: URL; verifier?: string }
  | { kind: 'callback'; verifier: string };

/**
 * Interlock's OAuthClientProvider for one connector: client registrations, tokens and discovery
 * results go to the credential store (sealed in Redis), so every worker process shares them. The SDK's
 * `auth()` drives the protocol (discovery, registration, PKCE, token requests); this only keeps state.
 */
export class InterlockOAuthProvider implements OAuthClientProvider {
  private readonly auth: OAuthConnectorAuth;
  private readonly store: CredentialStore;
  private readonly redirect: string;
  readonly mode: ProviderMode;
  /** the scope this flow asks for, recorded with the tokens it gets */
  scopeAsked: string | undefined;

  /** the config's scopes plus any a server asked for later (insufficient_scope) */
  private readonly scopes: string[];

  constructor(auth: OAuthConnectorAuth, store: CredentialStore, redirectUrl: string, mode: ProviderMode, wanted: string[] = []) {
    this.auth = auth;
    this.scopes = [...new Set([...auth.scopes, ...wanted])];
    this.store = store;
    this.redirect = redirectUrl;
    this.mode = mode;
  }

  get redirectUrl(): string | undefined {
    // No redirect URL makes `auth()` take the non-interactive path (prepareTokenRequest).
    return this.auth.grant === 'client_credentials' ? undefined : this.redirect;
  }

  get clientMetadataUrl(): string | undefined {
    return this.auth.clientMetadataUrl;
  }

  get clientMetadata(): OAuthClientMetadata {
    const cc = this.auth.grant === 'client_credentials';
    return {
      client_name: 'Interlock',
      redirect_uris: cc ? [] : [this.redirect],
      grant_types: cc ? ['client_credentials'] : ['authorization_code', 'refresh_token'],
      response_types: cc ? [] : ['code'],
      token_endpoint_auth_method: cc ? 'client_secret_basic' : 'none',
      ...(this.scopes.length ? { scope: this.scopes.join(' ') } : {}),
    };
  }

  state(): string {
    return this.mode.kind === 'begin' ? this.mode.state : '';
  }

  clientInformation(): Promise<OAuthClientInformationMixed | undefined> {
    return this.store.clientInformation();
  }

  async saveClientInformation(info: OAuthClientInformationMixed): Promise<void> {
    await this.store.saveClientInformation(info);
  }

  async tokens(): Promise<OAuthTokens | undefined> {
    // A person logging in wants a new authorization, not a refresh of what is stored.
    if (this.mode.kind !== 'background') return undefined;
    return this.store.tokens();
  }

  async saveTokens(tokens: OAuthTokens): Promise<void> {
    await this.store.saveTokens(tokens, this.scopeAsked);
  }

  redirectToAuthorization(url: URL): void {
    if (this.mode.kind === 'begin') this.mode.url = url;
    else if (this.mode.kind === 'background') this.mode.needsLogin = true;
    this.scopeAsked = url.searchParams.get('scope') ?? undefined;
  }

  saveCodeVerifier(verifier: string): void {
    if (this.mode.kind === 'begin') this.mode.verifier = verifier;
  }

  codeVerifier(): string {
    if (this.mode.kind !== 'callback') throw new Error('no login is being completed');
    return this.mode.verifier;
  }

  async invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery'): Promise<void> {
    await this.store.invalidate(scope);
  }

  discoveryState(): Promise<OAuthDiscoveryState | undefined> {
    return this.store.discovery();
  }

  async saveDiscoveryState(state: OAuthDiscoveryState): Promise<void> {
    await this.store.saveDiscovery(state);
  }

  prepareTokenRequest(scope?: string): URLSearchParams | undefined {
    if (this.auth.grant !== 'client_credentials') return undefined;
    const params = new URLSearchParams({ grant_type: 'client_credentials' });
    const wanted = scope ?? (this.scopes.length ? this.scopes.join(' ') : undefined);
    if (wanted) params.set('scope', wanted);
    this.scopeAsked = wanted;
    return params;
  }
}
