import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect } from 'vitest';
import type { App } from '../../../src/app.ts';
import type { RunningServer } from '../../../src/server/serve.ts';
import { callLogPath, startStack, testConnectorYaml } from '../../helpers/app.ts';
import type { TestRedis } from '../../helpers/redis.ts';
import { payWorkflow } from '../../helpers/workflows.ts';

export const PASSWORDS = { alice: 'alice-pw-7Hq2-long', bob: 'bob-pw-3Kd9-long', carol: 'carol-pw-5Zx1-long' } as const;
export const AS_SECRET = 'il-test-oauth-server-secret-0123456789abcdef';
export const STATIC_TOKEN = 'tok-oauth-static-ops-77aa';

/**
 * alice may run workflows, bob may only read, carol is an approver. A static token sits beside
 * OAuth: both must work.
 */
export function builtinYaml(log: string, extraBuiltin = ''): string {
  return `
connectors:${testConnectorYaml(log)}
policy:
  confirmation_ttl: 1h
workflows:
  greet:
    description: one read
    expose: true
    inputs: { type: object, required: [text], properties: { text: { type: string } }, additionalProperties: false }
    steps:
      - id: say
        call: test.echo
        with: { text: "\${{ inputs.text }}" }${payWorkflow({ amount: {} })}
tokens:
  - { name: ops, token: "\${env:IL_OAUTH_STATIC}", scopes: [read, trigger, confirm] }
server:
  auth:
    oauth:
      builtin:
        secret: "\${env:IL_OAUTH_SECRET}"${extraBuiltin}
        users:
          - { name: alice, password: "\${env:IL_ALICE_PW}", scopes: [read, trigger] }
          - { name: bob, password: "\${env:IL_BOB_PW}", scopes: [read] }
          - { name: carol, password: "\${env:IL_CAROL_PW}", scopes: [read, confirm] }
`;
}

export const BUILTIN_ENV = {
  IL_OAUTH_SECRET: AS_SECRET,
  IL_OAUTH_STATIC: STATIC_TOKEN,
  IL_ALICE_PW: PASSWORDS.alice,
  IL_BOB_PW: PASSWORDS.bob,
  IL_CAROL_PW: PASSWORDS.carol,
};

export interface OAuthHarness {
  redis: TestRedis;
  app: App;
  server: RunningServer;
  url: string;
  log: string;
  /** every line the server logged, to search for secrets */
  logs: string[];
  close(): Promise<void>;
}

export async function startOAuthHarness(opts: {
  yaml: (log: string) => string;
  env: Record<string, string>;
}): Promise<OAuthHarness> {
  const log = callLogPath();
  const logs: string[] = [];
  const stack = await startStack(opts.yaml(log), { env: opts.env, onNotice: (m) => logs.push(m) });
  return { ...stack, url: stack.server.url, log, logs };
}

/**
 * The config of the suites whose `/mcp` trusts an external issuer: greet (one read) and pay (a
 * write), the issuer's scopes `mcp:read` and `mcp:run` mapped to read and trigger. `oauth` is more
 * of `server.auth.oauth` (an `introspection:` block), indented under it.
 */
export function issuerYaml(issuer: string, log: string, oauth = ''): string {
  return `
connectors:${testConnectorYaml(log)}
policy:
  confirmation_ttl: 1h
workflows:
  greet:
    description: one read
    expose: true
    inputs: { type: object, required: [text], properties: { text: { type: string } } }
    steps:
      - id: say
        call: test.echo
        with: { text: "\${{ inputs.text }}" }${payWorkflow({ amount: {} })}
server:
  auth:
    oauth:
      issuer: ${issuer}${oauth}
      scopes:
        read: [mcp:read]
        trigger: [mcp:run]
`;
}

/**
 * issuerYaml's `oauth` for a issuer of opaque tokens: Interlock asks its RFC 7662 endpoint, as
 * `clientId` with the secret in `${env:secretVar}`. `cache: 0s`: every request asks the issuer, so a
 * revocation counts at once (the cache has its own test).
 */
export const introspectionOAuth = (issuer: string, clientId: string, secretVar: string): string => `
      introspection:
        url: ${issuer}/token/introspection
        client_id: ${clientId}
        client_secret: "\${env:${secretVar}}"
        cache: 0s`;

/** An external issuer and an Interlock harness that trusts it, for the file (see useIssuerHarness). */
export interface IssuerRig<I> {
  idp: I;
  h: OAuthHarness;
  /** Interlock's `/mcp`, the resource its tokens are for */
  resource: string;
  /** a raw MCP initialize POST to `/mcp` (2025-06-18), with `token` as the bearer when given */
  initialize(token?: string): Promise<Response>;
  /** an MCP client named `name`, connected to `/mcp` with `token` as the bearer */
  connect(token: string, name: string): Promise<Client>;
}

/**
 * Starts the issuer, then a harness on `yaml(issuer, log)` with `env`, before the file's tests and
 * closes both after them; the rig is filled in when they start. For the suites whose module-level
 * helpers close over the harness (like startOAuthHarness); a new suite names fixtures instead.
 */
export function useIssuerHarness<I extends { issuer: string; close(): Promise<void> }>(
  start: () => Promise<I>,
  yaml: (issuer: string, log: string) => string,
  env: Record<string, string> = {},
): IssuerRig<I> {
  const rig = {
    initialize: (token?: string) =>
      fetch(`${rig.h.url}/mcp`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
        }),
      }),
    async connect(token: string, name: string) {
      const client = new Client({ name, version: '1.0.0' });
      const headers = { authorization: `Bearer ${token}` };
      await client.connect(new StreamableHTTPClientTransport(new URL(rig.resource), { requestInit: { headers } }));
      return client;
    },
  } as IssuerRig<I>;
  beforeAll(async () => {
    rig.idp = await start();
    rig.h = await startOAuthHarness({ yaml: (log) => yaml(rig.idp.issuer, log), env });
    rig.resource = `${rig.h.url}/mcp`;
  });
  afterAll(async () => {
    await rig.h?.close();
    await rig.idp?.close();
  });
  return rig;
}

/** Where the authorization server sends the browser back; nothing listens, the page intercepts it. */
export const REDIRECT_URL = 'http://127.0.0.1:9/oauth/callback';

/**
 * The MCP SDK's OAuthClientProvider as a desktop client implements it, kept in memory: the SDK
 * does discovery, registration, PKCE and the token exchange; this only stores and hands over.
 */
export class MemoryOAuthClient implements OAuthClientProvider {
  info: OAuthClientInformationMixed | undefined;
  saved: OAuthTokens | undefined;
  verifier: string | undefined;
  /** the authorization URL the SDK asked the person to open */
  authorizationUrl: URL | undefined;
  readonly scope: string | undefined;

  constructor(scope?: string) {
    this.scope = scope;
  }

  get redirectUrl(): string {
    return REDIRECT_URL;
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'Test Desktop Client',
      redirect_uris: [REDIRECT_URL],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      ...(this.scope ? { scope: this.scope } : {}),
    };
  }

  clientInformation() {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(v: string) {
    this.verifier = v;
  }
  codeVerifier() {
    if (!this.verifier) throw new Error('no code verifier saved');
    return this.verifier;
  }
}

/**
 * What a person does in the browser the client opened: sign in, look at the consent page, allow.
 * Returns the authorization code the browser was sent back with (caught before it leaves).
 */
export async function signInAndAllow(
  browser: Browser,
  authorizationUrl: URL,
  who: { user: string; password: string },
  /** every HTML page the browser was served, for secret checks */
  onHtml?: (url: string, html: string) => void,
): Promise<string> {
  const context = await browser.newContext();
  const page = await context.newPage();
  if (onHtml)
    page.on('response', async (r) => {
      if ((r.headers()['content-type'] ?? '').includes('html')) onHtml(r.url(), await r.text().catch(() => ''));
    });
  try {
    let code: string | undefined;
    await page.route(`${REDIRECT_URL}**`, async (route) => {
      code = new URL(route.request().url()).searchParams.get('code') ?? undefined;
      await route.fulfill({ status: 200, contentType: 'text/plain', body: 'You can close this window.' });
    });
    await page.goto(authorizationUrl.href);
    await page.getByRole('heading', { name: 'Sign in to Interlock' }).waitFor();
    await page.getByLabel('User name').fill(who.user);
    await page.getByLabel('Password').fill(who.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: /Allow .* to use Interlock\?/ }).waitFor();
    await page.getByRole('button', { name: 'Allow' }).click();
    await expect.poll(() => code, { timeout: 15_000 }).toBeTruthy();
    return code as string;
  } finally {
    await context.close();
  }
}

/** The SDK's own flow end to end: a 401, discovery, registration, the browser, the token, a connected client. */
export async function connectWithOAuth(
  mcpUrl: string,
  browser: Browser,
  who: { user: string; password: string },
  provider = new MemoryOAuthClient(),
): Promise<{ client: Client; provider: MemoryOAuthClient; close(): Promise<void> }> {
  const first = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
  const probe = new Client({ name: 'oauth-test', version: '1.0.0' });
  await expect(probe.connect(first)).rejects.toBeInstanceOf(UnauthorizedError);
  expect(provider.authorizationUrl).toBeDefined();
  const code = await signInAndAllow(browser, provider.authorizationUrl as URL, who);
  await first.finishAuth(code);
  await first.close();
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
  const client = new Client({ name: 'oauth-test', version: '1.0.0' });
  await client.connect(transport);
  return { client, provider, close: () => client.close() };
}
