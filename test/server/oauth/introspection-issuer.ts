import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import Provider from 'oidc-provider';
import { listenLoopback, machineClients, perResourceTokens } from './issuer.ts';

/** Interlock's own credentials at the issuer: the resource server asking about tokens. */
export const INTERLOCK_RS = { id: 'interlock-rs', secret: 'rs-secret-41c7-introspection-do-not-leak' };
export const OPAQUE_ROBOT = { id: 'opaque-robot', secret: 'opaque-robot-secret-7f3e-do-not-leak' };
export const OPAQUE_READER = { id: 'opaque-reader', secret: 'opaque-reader-secret-2d8a-do-not-leak' };

export interface IntrospectingIssuer {
  issuer: string;
  introspectionUrl: string;
  /** the provider itself, for a test that mints a token no grant type of this issuer hands out */
  provider: Provider;
  /** an opaque access token by client credentials for `resource`, with `scope` */
  token(client: { id: string; secret: string }, resource: string, scope: string): Promise<string>;
  /** the same, bound to a fresh DPoP key (RFC 9449): usable only with a proof of that key */
  dpopToken(client: { id: string; secret: string }, resource: string, scope: string): Promise<string>;
  /** revokes a token as the client that holds it */
  revoke(client: { id: string; secret: string }, token: string): Promise<void>;
  /** every token the issuer handed out, for leak checks */
  issued: string[];
  close(): Promise<void>;
}

const basic = (c: { id: string; secret: string }) => `Basic ${Buffer.from(`${c.id}:${c.secret}`).toString('base64')}`;

/**
 * An oidc-provider standing in for an authorization server whose access tokens are opaque
 * (random strings, not JWTs): a resource server can only learn what one means by asking the
 * RFC 7662 introspection endpoint, as Interlock does with `introspection:` configured. Scopes use
 * the issuer's own names (`mcp:read`, `mcp:run`); the audience is whatever resource the client names.
 */
export async function startIntrospectingIssuer(): Promise<IntrospectingIssuer> {
  const { issuer, serve, close } = await listenLoopback();
  const provider = new Provider(issuer, {
    clients: machineClients([INTERLOCK_RS, OPAQUE_ROBOT, OPAQUE_READER]),
    // offline_access turns the refresh_token grant on: a test asks about a refresh token.
    scopes: ['offline_access', 'mcp:read', 'mcp:run'],
    ttl: { ClientCredentials: 600 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: perResourceTokens({ accessTokenFormat: 'opaque' }),
    },
  });
  serve(provider.callback());
  const issued: string[] = [];
  return {
    issuer,
    introspectionUrl: `${issuer}/token/introspection`,
    provider,
    issued,
    token: (client, resource, scope) => tokenRequest(issuer, client, resource, scope, issued),
    async dpopToken(client, resource, scope) {
      const { privateKey, publicKey } = await generateKeyPair('ES256');
      const proof = await new SignJWT({ htm: 'POST', htu: `${issuer}/token`, jti: crypto.randomUUID() })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(publicKey) })
        .setIssuedAt()
        .sign(privateKey);
      return tokenRequest(issuer, client, resource, scope, issued, { dpop: proof });
    },
    async revoke(client, token) {
      const res = await fetch(`${issuer}/token/revocation`, {
        method: 'POST',
        headers: { authorization: basic(client), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
      });
      if (!res.ok) throw new Error(`revocation failed: ${res.status} ${await res.text()}`);
    },
    close,
  };
}

async function tokenRequest(
  issuer: string,
  client: { id: string; secret: string },
  resource: string,
  scope: string,
  issued: string[],
  headers: Record<string, string> = {},
): Promise<string> {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { authorization: basic(client), 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource, scope }),
  });
  const body = (await res.json()) as { access_token?: string; token_type?: string; error?: string; error_description?: string };
  if (!body.access_token) throw new Error(`token request failed: ${body.error}: ${body.error_description}`);
  if (headers.dpop && body.token_type !== 'DPoP') throw new Error(`expected a DPoP-bound token, got ${body.token_type}`);
  issued.push(body.access_token);
  return body.access_token;
}
