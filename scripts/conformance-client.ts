/**
 * Interlock's connector client as the client under test of the MCP conformance suite's client
 * auth scenarios (`npm run test:conformance` launches it through the suite):
 *
 *   node scripts/conformance-client.ts <server-url>
 *
 * The suite sets MCP_CONFORMANCE_SCENARIO (and MCP_CONFORMANCE_CONTEXT with a pre-registered
 * client for some scenarios). This writes the connector as a user would in workflows.yaml
 * (`auth: {type: oauth, …}`), opens an App on REDIS_URL under a prefix of its own, and does what a
 * person and a run would: start the login (discovery from the 401, registration, PKCE), follow the
 * authorization URL the way a browser does (the suite's authorization server answers at once
 * with a redirect to Interlock's callback), hand the callback to the same code GET /oauth/callback
 * runs, then list and call the tools through the connector pool. A call refused for want of scope
 * (403 insufficient_scope) pauses as CONNECTOR_LOGIN_REQUIRED; the "person" logs in again, at most
 * twice, as step-up asks.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import { App } from '../src/app.ts';
import { isLoginRequired } from '../src/connectors/oauth/login-required.ts';
import { errorMessage } from '../src/errors.ts';
import { silentLogger } from '../src/logger.ts';
import { completeOAuthCallback } from '../src/server/routes/oauth.ts';
import { oauthCallbackOf } from '../src/server/compose.ts';
import { loadConfigFromString } from '../src/workflows/load.ts';

const ROOT = resolve(import.meta.dirname, '..');
/** The URL the suite's CIMD scenario expects as client_id (a document Interlock would host). */
const CLIENT_METADATA_URL = 'https://conformance-test.local/client-metadata.json';
const MAX_LOGINS = 3;

interface Context {
  client_id?: string;
  client_secret?: string;
}

function connectorYaml(url: string, scenario: string, ctx: Context): string {
  const cc = scenario.startsWith('auth/client-credentials');
  const preRegistered = ctx.client_id !== undefined;
  const auth = [
    'type: oauth',
    cc ? 'grant: client_credentials' : 'grant: authorization_code',
    ...(preRegistered ? [`client_id: "${ctx.client_id}"`] : []),
    ...(ctx.client_secret ? ['client_secret: "${env:CONFORMANCE_CLIENT_SECRET}"'] : []),
    ...(!cc && !preRegistered ? [`client_metadata_url: ${CLIENT_METADATA_URL}`] : []),
  ];
  return `
connectors:
  server:
    transport: streamable-http
    url: ${url}
    auth: { ${auth.join(', ')} }
workflows: {}
`;
}

/** What a browser does with the authorization URL when the authorization server needs no person: follow it to the callback. */
async function authorizeLikeABrowser(app: App, url: string): Promise<void> {
  const res = await fetch(url, { redirect: 'manual' });
  const location = res.headers.get('location');
  if (!location) throw new Error(`the authorization endpoint answered ${res.status} without a redirect`);
  const back = new URL(location, url);
  const out = await completeOAuthCallback(oauthCallbackOf(app), Object.fromEntries(back.searchParams));
  if (!out.ok) throw new Error(out.message);
}

async function logIn(app: App): Promise<void> {
  const oauth = app.oauth.for(app.config.connectors.server);
  if (!oauth) throw new Error('the connector does not use OAuth');
  const start = await oauth.beginLogin();
  if (start.kind === 'redirect') await authorizeLikeABrowser(app, start.url);
}

/** Lists the tools and calls each, logging in again when the connector asks for it. */
async function exercise(app: App): Promise<void> {
  for (let logins = 0; ; ) {
    try {
      const tools = await app.pool.listTools('server', { refresh: true });
      for (const t of tools) await app.pool.callTool('server', t.name, {});
      return;
    } catch (err) {
      if (!isLoginRequired(err) || logins >= MAX_LOGINS) throw err;
      logins++;
      await logIn(app);
    }
  }
}

async function main(argv: string[]): Promise<number> {
  const url = argv[argv.length - 1];
  const scenario = process.env.MCP_CONFORMANCE_SCENARIO ?? '';
  const ctx = JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT ?? '{}') as Context;
  if (!process.env.REDIS_URL) throw new Error('REDIS_URL is required (npm run test:conformance sets it)');
  process.env.INTERLOCK_SECRET_KEY = randomBytes(32).toString('base64');
  process.env.INTERLOCK_OAUTH_REDIRECT_URL = 'http://127.0.0.1:3000/oauth/callback';
  if (ctx.client_secret) process.env.CONFORMANCE_CLIENT_SECRET = ctx.client_secret;
  const app = await App.create({
    config: loadConfigFromString(connectorYaml(url, scenario, ctx), join(ROOT, 'scripts/conformance-client.yaml')),
    redisUrl: process.env.REDIS_URL,
    prefix: `cc${randomUUID().slice(0, 8)}`,
    logger: silentLogger(),
  });
  try {
    await exercise(app);
    process.stdout.write(`${scenario}: tools listed and called\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`${scenario}: ${errorMessage(err)}\n`);
    return 1;
  } finally {
    await app.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`conformance client failed: ${errorMessage(err)}\n`);
    process.exitCode = 1;
  },
);
