import { Hono } from 'hono';
import { OAUTH_CALLBACK_PATH } from '../../connectors/oauth/connectors.ts';
import { InterlockError, errorMessage } from '../../errors.ts';
import type { ServerEnv } from '../request.ts';
import type { ServerServices } from '../services.ts';
import { messagePage } from '../ui/layout.ts';

export interface CallbackOutcome {
  ok: boolean;
  connector?: string;
  message: string;
}

/**
 * What the authorization server's redirect brings back: `state` names a login this Interlock
 * started (taken once: a replayed or forged one finds nothing), `code` completes it. The page says
 * what happened in words; the code, like every token, is never shown or logged.
 */
/** What completing a login needs: spend a login's state, and trade a code for tokens. */
export interface CallbackDeps {
  takeLogin(state: string): Promise<unknown>;
  completeLogin(state: string, code: string): Promise<{ connector: string; account?: { subject?: string } }>;
}

export async function completeOAuthCallback(
  d: CallbackDeps,
  query: Record<string, string | undefined>,
): Promise<CallbackOutcome> {
  const { state, code, error } = query;
  if (!state)
    return { ok: false, message: 'The authorization server sent no state: this is not the answer to a login Interlock started.' };
  if (error || !code) {
    // Spend the state so the same login cannot be completed later with another code.
    await d.takeLogin(state);
    const why = error ? `${error}${query.error_description ? `: ${query.error_description}` : ''}` : 'no authorization code';
    return { ok: false, message: `The authorization server did not grant access (${why}). Start the login again.` };
  }
  try {
    const { connector, account } = await d.completeLogin(state, code);
    const who = account?.subject ? ` as ${account.subject}` : '';
    return { ok: true, connector, message: `Interlock is logged in to ${connector}${who}. Runs waiting for it continue now.` };
  } catch (err) {
    const message = err instanceof InterlockError ? err.message : `the token request failed: ${errorMessage(err)}`;
    return { ok: false, message };
  }
}

/** GET /oauth/callback: public, since the browser arrives from the authorization server; `state` is the credential. */
export function oauthRoutes(svc: Pick<ServerServices, 'oauth'>): Hono<ServerEnv> {
  const r = new Hono<ServerEnv>();
  r.get(OAUTH_CALLBACK_PATH, async (c) => {
    const out = await completeOAuthCallback(svc.oauth.callback, c.req.query());
    c.header('Cache-Control', 'no-store');
    c.header('Referrer-Policy', 'no-referrer');
    const title = out.ok ? `Connector ${out.connector} is connected` : 'The login did not complete';
    return c.html(messagePage(title, out.message).value, out.ok ? 200 : 400);
  });
  return r;
}
