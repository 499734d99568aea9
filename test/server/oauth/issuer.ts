import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type JWK, exportJWK, generateKeyPair } from 'jose';
import Provider, { type ResourceServer } from 'oidc-provider';

export const ROBOT = { id: 'robot', secret: 'robot-secret-5a1c-do-not-leak' };
export const READER = { id: 'reader-bot', secret: 'reader-secret-9e2b-do-not-leak' };

export interface ExternalIssuer {
  issuer: string;
  /** the private signing key, so a test can mint a token the issuer would have (an expired one) */
  privateJwk: JWK;
  /** an access token by client credentials for `resource`, with `scope` */
  token(client: { id: string; secret: string }, resource: string, scope: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * An HTTP server on a free loopback port that answers 503 until `serve` hands it a handler: an
 * oidc-provider needs its issuer URL, port included, before it exists. `close` drops open connections.
 */
export async function listenLoopback(): Promise<{
  issuer: string;
  serve(handler: (req: IncomingMessage, res: ServerResponse) => void): void;
  close(): Promise<void>;
}> {
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_q, s) => {
    s.statusCode = 503;
    s.end();
  };
  const server: Server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    issuer: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    serve: (h) => {
      handler = h;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Pre-registered machine clients (client credentials only), as oidc-provider takes them. */
export const machineClients = (clients: Array<{ id: string; secret: string }>) =>
  clients.map((c) => ({
    client_id: c.id,
    client_secret: c.secret,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
  }));

/**
 * Resource indicators (RFC 8707) as both test issuers turn them on: a token is for whatever
 * resource the client names, with both mapped scopes, for ten minutes, in `format`.
 */
export const perResourceTokens = (format: Pick<ResourceServer, 'accessTokenFormat' | 'jwt'>) => ({
  enabled: true,
  defaultResource: () => undefined as unknown as string,
  getResourceServerInfo: (_ctx: unknown, indicator: string): ResourceServer => ({
    scope: 'mcp:read mcp:run',
    audience: indicator,
    accessTokenTTL: 600,
    ...format,
  }),
});

/**
 * A second oidc-provider on loopback standing in for Keycloak, Auth0 or Okta: its own issuer,
 * its own keys, two pre-registered machine clients, and resource indicators so its access tokens
 * are JWTs for whatever resource the client names (Interlock's /mcp, or another one). Scopes
 * use its own names (`mcp:read`, `mcp:run`), which Interlock's config maps.
 */
export async function startExternalIssuer(): Promise<ExternalIssuer> {
  const { issuer, serve, close } = await listenLoopback();
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const privateJwk = { ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: 'external-1' };
  const provider = new Provider(issuer, {
    clients: machineClients([ROBOT, READER]),
    jwks: { keys: [privateJwk as never] },
    scopes: ['mcp:read', 'mcp:run'],
    ttl: { ClientCredentials: 600 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: perResourceTokens({ accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }),
    },
  });
  serve(provider.callback());
  return {
    issuer,
    privateJwk,
    async token(client, resource, scope) {
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', resource, scope }),
      });
      const body = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
      if (!body.access_token) throw new Error(`token request failed: ${body.error}: ${body.error_description}`);
      return body.access_token;
    },
    close,
  };
}
