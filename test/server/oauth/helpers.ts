import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import type { Browser } from 'playwright-core';
import { expect } from 'vitest';
import type { App } from '../../../src/app.ts';
import type { RunningServer } from '../../../src/server/serve.ts';
import { callLogPath, testConnectorYaml, waitForStatus } from '../../helpers/app.ts';
import { type FileFixture, openApp, openServer, test } from '../../helpers/fixtures.ts';
import type { TestRedis } from '../../helpers/redis.ts';
import { payWorkflow } from '../../helpers/workflows.ts';

export const PASSWORDS = { alice: 'alice-pw-7Hq2-long', bob: 'bob-pw-3Kd9-long', carol: 'carol-pw-5Zx1-long' } as const;
export const AS_SECRET = 'il-test-oauth-server-secret-0123456789abcdef';
export const STATIC_TOKEN = 'tok-oauth-static-ops-77aa';

/**
 * The workflows of the OAuth suites, on the test connector logging to `log`: greet (one read) and
 * pay (a write). `closedInputs` (`, additionalProperties: false`) closes greet's input schema, as
 * the built-in server's config has it.
 */
const greetAndPayYaml = (log: string, closedInputs = ''): string => `
connectors:${testConnectorYaml(log)}
policy:
  confirmation_ttl: 1h
workflows:
  greet:
    description: one read
    expose: true
    inputs: { type: object, required: [text], properties: { text: { type: string } }${closedInputs} }
    steps:
      - id: say
        call: test.echo
        with: { text: "\${{ inputs.text }}" }${payWorkflow({ amount: {} })}`;

/**
 * alice may run workflows, bob may only read, carol is an approver. A static token sits beside
 * OAuth: both must work.
 */
export function builtinYaml(log: string, extraBuiltin = ''): string {
  return `${greetAndPayYaml(log, ', additionalProperties: false')}
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
}

export interface OAuthHarnessOptions {
  /** the config, given where the test connector logs its calls */
  yaml: (log: string) => string;
  /** the server's environment, for the config's `${env:…}` references */
  env: Record<string, string>;
}

/**
 * An app on `redis` for `opts.yaml` and `interlock serve`'s HTTP server for it (which starts the
 * workers), its notices kept in `logs`; handed to `use` and closed after.
 */
export async function openOAuthHarness(
  redis: TestRedis,
  opts: OAuthHarnessOptions,
  use: (h: OAuthHarness) => Promise<void>,
): Promise<void> {
  const log = callLogPath();
  const logs: string[] = [];
  await openApp(redis, { yaml: opts.yaml(log), workers: false }, (app) =>
    openServer(app, { env: opts.env, onNotice: (m) => logs.push(m) }, (server) =>
      use({ redis, app, server, url: server.url, log, logs }),
    ),
  );
}

/** A `test` whose `h` is the OAuth harness for `opts`, for the file (started when a test names it). */
export function oauthTest(opts: OAuthHarnessOptions) {
  return test.extend<{ h: OAuthHarness }>({
    h: [async ({ redis }, use) => openOAuthHarness(redis, opts, use), { scope: 'file' }],
  });
}

/**
 * The config of the suites whose `/mcp` trusts an external issuer: greet (one read) and pay (a
 * write), the issuer's scopes `mcp:read` and `mcp:run` mapped to read and trigger. `oauth` is more
 * of `server.auth.oauth` (an `introspection:` block), indented under it.
 */
export function issuerYaml(issuer: string, log: string, oauth = ''): string {
  return `${greetAndPayYaml(log)}
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

/** An external issuer and an Interlock harness that trusts it, for the file (see issuerTest). */
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

function issuerRig<I>(idp: I, h: OAuthHarness): IssuerRig<I> {
  const resource = `${h.url}/mcp`;
  return {
    idp,
    h,
    resource,
    initialize: (token?: string) =>
      fetch(resource, {
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
      await client.connect(new StreamableHTTPClientTransport(new URL(resource), { requestInit: { headers } }));
      return client;
    },
  };
}

/** An issuer (`start`) as a file fixture: `idp: issuerFixture(startExternalIssuer)` in an extend. */
export function issuerFixture<I extends { close(): Promise<void> }>(start: () => Promise<I>): FileFixture<I, object> {
  return [
    // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from its first parameter's pattern
    async ({}, use) => {
      const idp = await start();
      try {
        await use(idp);
      } finally {
        await idp.close();
      }
    },
    { scope: 'file' },
  ];
}

/**
 * A `test` whose `rig` is an external issuer (`start`) and an Interlock harness on
 * `yaml(issuer, log)` with `env` that trusts it, for the file; the issuer alone is `idp`.
 */
export function issuerTest<I extends { issuer: string; close(): Promise<void> }>(
  start: () => Promise<I>,
  yaml: (issuer: string, log: string) => string,
  env: Record<string, string> = {},
) {
  return test.extend<{ idp: I; rig: IssuerRig<I> }>({
    idp: issuerFixture(start),
    rig: [
      async ({ redis, idp }, use) =>
        openOAuthHarness(redis, { yaml: (log) => yaml(idp.issuer, log), env }, (h) => use(issuerRig(idp, h))),
      { scope: 'file' },
    ],
  });
}

/**
 * What a token with the mapped read and trigger scopes may do: run greet (`text`) by MCP, recorded
 * with `owner` as the run's owner, and read the API.
 */
export async function expectRunsAs(
  rig: IssuerRig<unknown>,
  token: string,
  text: string,
  owner: string,
  clientName: string,
): Promise<void> {
  const client = await rig.connect(token, clientName);
  try {
    const result = await client.callTool({ name: 'greet', arguments: { text } });
    expect(result.isError).toBeFalsy();
    const run = await waitForStatus(rig.h.app, (result.structuredContent as { runId: string }).runId, ['succeeded']);
    expect(run.owner).toBe(owner);
  } finally {
    await client.close();
  }
  expect((await fetch(`${rig.h.url}/api/v1/runs`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
}

/**
 * What a token without the mapped trigger scope may do, by MCP and by the API: list and read, not
 * run (the API answers 403), and no run is recorded.
 */
export async function expectReadsButCannotRun(rig: IssuerRig<unknown>, token: string, clientName: string): Promise<void> {
  const before = (await rig.h.app.store.listRuns({ limit: 500 })).runs.length;
  const client = await rig.connect(token, clientName);
  try {
    expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(['get_run', 'list_workflows']);
    const result = await client.callTool({ name: 'run_workflow', arguments: { workflow: 'greet', inputs: { text: 'x' } } });
    expect(result.isError).toBe(true);
  } finally {
    await client.close();
  }
  const api = await fetch(`${rig.h.url}/api/v1/workflows/greet/runs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: { text: 'x' } }),
  });
  expect(api.status).toBe(403);
  expect((await rig.h.app.store.listRuns({ limit: 500 })).runs.length).toBe(before);
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
