/**
 * A real authorization server (oidc-provider, a certified OpenID provider) and an MCP server built
 * with the SDK that accepts only its tokens, both on loopback, for the tests of Interlock as an
 * OAuth client of its connectors.
 *
 * The authorization server does dynamic client registration (RFC 7591), PKCE, resource indicators
 * (RFC 8707: JWT access tokens whose audience is the MCP server), refresh tokens, revocation and
 * client credentials, and signs people in through its own login and consent pages. It counts every
 * successful token-endpoint grant by grant type, so a test can say how often Interlock refreshed.
 *
 * The MCP server answers 401 with `WWW-Authenticate: Bearer resource_metadata=…, scope=…`, serves
 * its protected resource metadata (RFC 9728), checks each JWT with `jose` against the server's
 * JWKS (issuer, audience, expiry) and that its grant still exists (revoked grants are refused),
 * and lists two tools: `whoami` (a read) and `add_note` (a write).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server as McpServer } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import Provider from 'oidc-provider';

export interface OAuthServerOptions {
  /** the scope the MCP server asks for in its 401 and metadata */
  scope?: string;
  /** a pre-registered confidential client, for client_credentials and pre-registration tests */
  staticClient?: { clientId: string; clientSecret: string };
}

export interface TestOAuthServer {
  issuer: string;
  /** the MCP endpoint, `…/mcp` */
  mcpUrl: string;
  provider: Provider;
  /** successful token-endpoint grants so far, by grant_type */
  grants: Record<string, number>;
  /**
   * Every secret that crossed the token endpoint: codes, PKCE verifiers, client secrets sent in
   * the body, and the access, refresh and ID tokens issued; for tests that look for leaks.
   */
  seen: string[];
  /** access-token lifetime of the next tokens issued, in seconds */
  ttl: { access: number };
  /** every tools/call the MCP server ran: tool, and the subject of the token it came with */
  calls: Array<{ tool: string; sub: string | undefined; args: Record<string, unknown> }>;
  /** revokes a token at the revocation endpoint as the client that holds it; its grant goes with it */
  revoke(token: string, clientId: string): Promise<void>;
  close(): Promise<void>;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}

export async function startOAuthServer(opts: OAuthServerOptions = {}): Promise<TestOAuthServer> {
  const scope = opts.scope ?? 'tools';
  const asServer = createServer();
  const asPort = await listen(asServer);
  const issuer = `http://127.0.0.1:${asPort}`;
  const mcpServer = createServer();
  const mcpPort = await listen(mcpServer);
  const mcpUrl = `http://127.0.0.1:${mcpPort}/mcp`;
  const ttl = { access: 3600 };
  const grants: Record<string, number> = {};
  const calls: TestOAuthServer['calls'] = [];

  const provider = new Provider(issuer, {
    clients: opts.staticClient
      ? [
          {
            client_id: opts.staticClient.clientId,
            client_secret: opts.staticClient.clientSecret,
            grant_types: ['client_credentials'],
            redirect_uris: [],
            response_types: [],
          },
        ]
      : [],
    findAccount: (_ctx, id) => ({
      accountId: id,
      claims: () => ({ sub: id, email: `${id}@example.test` }),
    }),
    claims: { openid: ['sub'], email: ['email'] },
    scopes: ['openid', 'offline_access', 'email', scope],
    features: {
      devInteractions: { enabled: true },
      registration: { enabled: true },
      revocation: { enabled: true, allowedPolicy: () => true },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => mcpUrl,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          if (resource !== mcpUrl) throw new Error(`unknown resource ${resource}`);
          return {
            scope,
            audience: mcpUrl,
            accessTokenTTL: ttl.access,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    // Every client allowed to refresh gets a refresh token (not only with offline_access and prompt=consent).
    issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    extraTokenClaims: (_ctx, token) => ('grantId' in token && token.grantId ? { gid: token.grantId } : undefined),
    pkce: { required: () => true },
    ttl: {
      IdToken: 3600,
      RefreshToken: 86_400,
      Grant: 86_400,
      Session: 86_400,
      Interaction: 3600,
      AuthorizationCode: 600,
    },
  });
  const seen: string[] = [];
  provider.on('grant.success', (ctx) => {
    const params = (ctx.oidc.params ?? {}) as Record<string, unknown>;
    const gt = String(params.grant_type ?? 'unknown');
    grants[gt] = (grants[gt] ?? 0) + 1;
    const body = (ctx.body ?? {}) as Record<string, unknown>;
    for (const v of [
      params.code,
      params.code_verifier,
      params.refresh_token,
      params.client_secret,
      body.access_token,
      body.refresh_token,
      body.id_token,
    ])
      if (typeof v === 'string' && v) seen.push(v);
  });
  asServer.on('request', provider.callback());

  const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
  const metadataUrl = `http://127.0.0.1:${mcpPort}/.well-known/oauth-protected-resource/mcp`;
  const challenge = (res: ServerResponse, error?: string) => {
    res.writeHead(error === 'insufficient_scope' ? 403 : 401, {
      'content-type': 'application/json',
      'www-authenticate': `Bearer resource_metadata="${metadataUrl}", scope="${scope}"${error ? `, error="${error}"` : ''}`,
    });
    res.end(JSON.stringify({ error: error ?? 'unauthorized' }));
  };

  const verify = async (req: IncomingMessage): Promise<{ sub: string | undefined } | { error: string } | undefined> => {
    const header = req.headers.authorization;
    if (!header?.startsWith('Bearer ')) return undefined;
    try {
      const { payload } = await jwtVerify(header.slice(7), jwks, { issuer, audience: mcpUrl });
      const gid = typeof payload.gid === 'string' ? payload.gid : undefined;
      if (gid && !(await provider.Grant.find(gid))) return { error: 'invalid_token' };
      const scopes = String(payload.scope ?? '').split(' ');
      if (!scopes.includes(scope)) return { error: 'insufficient_scope' };
      return { sub: payload.sub };
    } catch {
      return { error: 'invalid_token' };
    }
  };

  mcpServer.on('request', (req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', mcpUrl);
      if (url.pathname === '/.well-known/oauth-protected-resource/mcp') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            resource: mcpUrl,
            authorization_servers: [issuer],
            scopes_supported: [scope],
            bearer_methods_supported: ['header'],
          }),
        );
        return;
      }
      if (url.pathname !== '/mcp') {
        res.writeHead(404).end();
        return;
      }
      const who = await verify(req);
      if (!who || 'error' in who) {
        await readBody(req).catch(() => undefined);
        challenge(res, who?.error);
        return;
      }
      const body = req.method === 'POST' ? await readBody(req) : undefined;
      // Stateless: a server and transport per request, as the SDK's stateless example does.
      const server = new McpServer({ name: 'oauth-notes', version: '1.0.0' }, { capabilities: { tools: {} } });
      server.setRequestHandler(ListToolsRequestSchema, () => ({
        tools: [
          {
            name: 'whoami',
            description: 'Says whose token the call came with.',
            inputSchema: { type: 'object', properties: {} },
            annotations: { readOnlyHint: true },
          },
          {
            name: 'add_note',
            description: 'Stores a note.',
            inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
            annotations: { readOnlyHint: false, idempotentHint: true },
          },
        ],
      }));
      server.setRequestHandler(CallToolRequestSchema, (request) => {
        const args = (request.params.arguments ?? {}) as Record<string, unknown>;
        calls.push({ tool: request.params.name, sub: who.sub, args });
        const out = request.params.name === 'whoami' ? { sub: who.sub } : { stored: args.text, by: who.sub };
        return { content: [{ type: 'text', text: JSON.stringify(out) }], structuredContent: out };
      });
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      res.on('close', () => {
        void transport.close();
        void server.close();
      });
      await server.connect(transport);
      await transport.handleRequest(req, res, body);
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(err));
    });
  });

  return {
    issuer,
    mcpUrl,
    provider,
    grants,
    seen,
    ttl,
    calls,
    async revoke(token, clientId) {
      const res = await fetch(`${issuer}/token/revocation`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, client_id: clientId }),
      });
      if (!res.ok) throw new Error(`revocation failed: ${res.status} ${await res.text()}`);
    },
    async close() {
      for (const s of [asServer, mcpServer]) {
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
    },
  };
}
