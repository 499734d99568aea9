import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { App } from '../app.ts';
import { LOGIN_TTL_MS } from '../connectors/oauth/connector-auth.ts';
import { OAUTH_CALLBACK_PATH } from '../connectors/oauth/connectors.ts';
import { InterlockError } from '../errors.ts';
import { own } from '../lookup.ts';
import { oauthCallbackOf } from '../server/compose.ts';
import { completeOAuthCallback } from '../server/routes/oauth.ts';
import { messagePage } from '../server/ui/layout.ts';
import { isLoopbackHost } from '../server/origin.ts';
import { bold, green } from './format.ts';

const POLL_MS = 250;

/**
 * `interlock connectors login <id>`: prints the authorization URL and waits until the login is
 * done. The callback is Interlock's own route: a running `interlock serve` at the redirect URL
 * takes it; when nothing listens there and it is a loopback address, this command listens on it
 * itself for as long as it waits. Either way the login lands in Redis for every process.
 */
export async function loginCommand(a: App, id: string, say: (line: string) => void = console.log): Promise<number> {
  const config = own(a.config.connectors, id);
  if (!config) throw new InterlockError('CONNECTOR_NOT_FOUND', `No connector named "${id}"`, { connector: id });
  const oauth = a.oauth.for(config);
  if (!oauth) throw new InterlockError('BAD_REQUEST', `Connector "${id}" does not use OAuth (auth: ${config.auth.type})`);
  const since = Date.now();
  const start = await oauth.beginLogin();
  if (start.kind === 'connected') {
    await a.engine.resumeAfterLogin(id, 'cli');
    say(green(`✓ ${id}: token obtained (client credentials)`));
    return 0;
  }
  const stop = await listenForCallback(a, a.oauth.redirectUrl);
  try {
    say(`Open this address in a browser and log in to ${bold(id)}:\n\n  ${start.url}\n`);
    say(`Waiting for the authorization server to send you back to ${a.oauth.redirectUrl} …`);
    const deadline = since + LOGIN_TTL_MS;
    while (Date.now() < deadline) {
      const account = await oauth.store.account();
      if (account?.status === 'connected' && (account.refreshedAt ?? account.connectedAt ?? 0) >= since) {
        await a.engine.resumeAfterLogin(id, 'cli');
        say(
          green(
            `✓ ${id} connected${account.subject ? ` as ${account.subject}` : ''}${account.scopes ? ` (scopes: ${account.scopes.join(' ')})` : ''}`,
          ),
        );
        return 0;
      }
      await sleep(POLL_MS);
    }
    say(`The login was not completed within ${LOGIN_TTL_MS / 60_000} minutes; run the command again.`);
    return 1;
  } finally {
    await stop();
  }
}

/** Serves the callback route on the redirect URL's loopback port when nobody else does; a no-op stop otherwise. */
async function listenForCallback(a: App, redirectUrl: string): Promise<() => Promise<void>> {
  const url = new URL(redirectUrl);
  if (url.protocol !== 'http:' || !isLoopbackHost(url.hostname) || url.pathname !== OAUTH_CALLBACK_PATH) return async () => {};
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', redirectUrl);
    if (req.method !== 'GET' || u.pathname !== OAUTH_CALLBACK_PATH) {
      res.writeHead(404).end();
      return;
    }
    void completeOAuthCallback(oauthCallbackOf(a), Object.fromEntries(u.searchParams)).then((out) => {
      const title = out.ok ? `Connector ${out.connector} is connected` : 'The login did not complete';
      res.writeHead(out.ok ? 200 : 400, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(messagePage(title, out.message).value);
    });
  });
  const listening = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(Number(url.port || 80), url.hostname.replace(/^\[|\]$/g, ''), () => resolve(true));
  });
  if (!listening) return async () => {};
  return () => new Promise<void>((resolve) => server.close(() => resolve()));
}
