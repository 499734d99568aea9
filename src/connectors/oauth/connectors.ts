import { InterlockError } from '../../errors.ts';
import type { ConnectorConfig } from '../config.ts';
import { ConnectorOAuth, type FetchLike, type LoginRecord } from './connector-auth.ts';
import type { AccountSummary } from './credentials.ts';
import { Sealer, secretKeyFrom } from './sealed.ts';
import type { CredentialVault } from './vault.ts';

export interface OAuthConnectorsOptions {
  vault: CredentialVault;
  /** Interlock's callback, registered with authorization servers: `${publicUrl}/oauth/callback` */
  redirectUrl: string;
  /** true when the redirect URL was configured; otherwise the server sets it once it knows its address */
  redirectUrlFixed?: boolean;
  env?: NodeJS.ProcessEnv;
  fetch?: FetchLike;
}

/** The path of Interlock's OAuth callback route. */
export const OAUTH_CALLBACK_PATH = '/oauth/callback';

/** Every OAuth connector of one process, by id; a changed config gets a new one on next use. */
export class OAuthConnectors {
  private readonly opts: OAuthConnectorsOptions;
  private readonly env: NodeJS.ProcessEnv;
  private readonly byId = new Map<string, { config: ConnectorConfig; oauth: ConnectorOAuth }>();
  private sealerCache: Sealer | undefined;
  private readonly loginListeners = new Set<(connector: string, account: AccountSummary | undefined) => void>();

  constructor(opts: OAuthConnectorsOptions) {
    this.opts = opts;
    this.env = opts.env ?? process.env;
    this.redirect = opts.redirectUrl;
  }

  private redirect: string;

  get redirectUrl(): string {
    return this.redirect;
  }

  /** The server's own callback once it listens, unless one was configured (INTERLOCK_OAUTH_REDIRECT_URL). */
  serverListening(publicUrl: string): void {
    if (!this.opts.redirectUrlFixed) this.redirect = `${publicUrl.replace(/\/$/, '')}${OAUTH_CALLBACK_PATH}`;
  }

  /** The key is read on first use, so a deployment without OAuth connectors never needs one. */
  private sealer = (): Sealer => {
    this.sealerCache ??= new Sealer(secretKeyFrom(this.env));
    return this.sealerCache;
  };

  /** The connector's OAuth client, or undefined when its auth is not oauth. */
  for(config: ConnectorConfig): ConnectorOAuth | undefined {
    if (config.auth.type !== 'oauth') return undefined;
    const known = this.byId.get(config.id);
    if (known && known.config === config) return known.oauth;
    const oauth = new ConnectorOAuth(config, config.auth, {
      vault: this.opts.vault,
      sealer: this.sealer,
      redirectUrl: () => this.redirect,
      env: this.env,
      ...(this.opts.fetch ? { fetch: this.opts.fetch } : {}),
    });
    this.byId.set(config.id, { config, oauth });
    return oauth;
  }

  /**
   * Takes the login that `state` names (once: a second callback with it finds nothing) and
   * exchanges the code. `connectors` is the current config, to find the connector it was for.
   */
  async completeLogin(
    connectors: Record<string, ConnectorConfig>,
    state: string,
    code: string,
  ): Promise<{ connector: string; account: AccountSummary | undefined }> {
    const sealed = await this.opts.vault.takeLogin(state);
    const record = sealed ? this.sealer().open<LoginRecord>(sealed, `login/${state}`) : undefined;
    if (!record) {
      throw new InterlockError('BAD_REQUEST', 'This login link is unknown, already used or expired; start the login again', {
        reason: 'state',
      });
    }
    const config = Object.hasOwn(connectors, record.connector) ? connectors[record.connector] : undefined;
    const oauth = config && this.for(config);
    if (!oauth)
      throw new InterlockError('CONNECTOR_NOT_FOUND', `Connector "${record.connector}" no longer uses OAuth`, {
        connector: record.connector,
      });
    const account = await oauth.completeLogin(record, code);
    for (const cb of this.loginListeners) cb(record.connector, account);
    return { connector: record.connector, account };
  }

  /** Called after every login this process completed (the callback), to resume waiting runs. */
  onLogin(cb: (connector: string, account: AccountSummary | undefined) => void): () => void {
    this.loginListeners.add(cb);
    return () => this.loginListeners.delete(cb);
  }
}

/**
 * Interlock's callback URL: INTERLOCK_OAUTH_REDIRECT_URL, else INTERLOCK_PUBLIC_URL's, else the
 * default address of `interlock serve`. Every process must agree on it: it is registered with the
 * authorization server and sent with every authorization request.
 */
export function redirectUrlFromEnv(env: NodeJS.ProcessEnv): { url: string; fixed: boolean } {
  if (env.INTERLOCK_OAUTH_REDIRECT_URL) return { url: env.INTERLOCK_OAUTH_REDIRECT_URL, fixed: true };
  const base =
    env.INTERLOCK_PUBLIC_URL || `http://${env.HOST && env.HOST !== '0.0.0.0' ? env.HOST : '127.0.0.1'}:${env.PORT || 3000}`;
  return { url: `${base.replace(/\/$/, '')}${OAUTH_CALLBACK_PATH}`, fixed: !!env.INTERLOCK_PUBLIC_URL };
}
