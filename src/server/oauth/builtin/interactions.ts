import { createHmac, timingSafeEqual } from 'node:crypto';
import type { HttpBindings } from '@hono/node-server';
import { type Context, Hono } from 'hono';
import type Provider from 'oidc-provider';
import type { Scope } from '../../../workflows/types.ts';
import { SCOPES } from '../../auth.ts';
import { consentPage, errorPage, loginPage } from './pages.ts';
import { type SignInThrottle, clientAddress } from './throttle.ts';
import type { Users } from './users.ts';

type Ctx = Context<{ Bindings: HttpBindings }>;
type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

export interface InteractionDeps {
  provider: Provider;
  users: Users;
  secret: string;
  tokenScope: (s: Scope) => string;
  mountPath: string;
  /** the origin people reach Interlock at (behind a proxy, not the request's own) */
  publicOrigin: string;
  /** failed sign-ins per user name and address */
  throttle: SignInThrottle;
  /** whether X-Forwarded-For comes from Interlock's own proxy (an https public URL) */
  behindProxy: boolean;
}

/**
 * No script at all, and no framing (clickjacking a consent button). No `form-action`: browsers
 * apply it to the redirect that follows the post, which goes back to the client's own site.
 */
const NO_STORE = {
  'cache-control': 'no-store',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
};

/**
 * The sign-in and consent steps oidc-provider hands over (`interactions.url`). The provider binds
 * each step to the browser with a cookie of its own; on top, every form carries a CSRF value
 * derived from the interaction id and the server secret, and a POST from another site is refused.
 */
export function interactionRoutes(d: InteractionDeps): Hono<{ Bindings: HttpBindings }> {
  const r = new Hono<{ Bindings: HttpBindings }>();
  const csrfFor = (uid: string) => createHmac('sha256', d.secret).update(`interlock-oauth-csrf:${uid}`).digest('base64url');

  const load = async (c: Ctx): Promise<Interaction | Response> => {
    try {
      const details = await d.provider.interactionDetails(c.env.incoming, c.env.outgoing);
      if (details.uid !== c.req.param('uid'))
        return page(c, 400, errorPage('Sign-in expired', 'This sign-in page is not the current one. Start again from your app.'));
      return details;
    } catch {
      return page(
        c,
        400,
        errorPage('Sign-in expired', 'This sign-in took too long or was already finished. Start again from your app.'),
      );
    }
  };

  r.get('/interaction/:uid', async (c) => {
    const details = await load(c);
    if (details instanceof Response) return details;
    return page(c, 200, await render(d, details, csrfFor(details.uid)));
  });

  r.post('/interaction/:uid', async (c) => {
    const details = await load(c);
    if (details instanceof Response) return details;
    const form = await c.req.parseBody();
    const csrf = typeof form.csrf === 'string' ? form.csrf : '';
    if (!sameSite(c, d.publicOrigin) || !equal(csrf, csrfFor(details.uid)))
      return page(c, 403, errorPage('Not allowed', 'This form was not sent from the sign-in page. Start again from your app.'));
    const action = form.action;
    if (action === 'cancel' || action === 'deny') {
      const to = await d.provider.interactionResult(c.env.incoming, c.env.outgoing, {
        error: 'access_denied',
        error_description: action === 'cancel' ? 'The person cancelled the sign-in' : 'The person denied access',
      });
      return c.redirect(to, 303);
    }
    if (details.prompt.name === 'login') return login(c, d, details, form, csrfFor(details.uid));
    if (details.prompt.name === 'consent' && action === 'allow') return consent(c, d, details);
    return page(c, 400, errorPage('Sign-in failed', 'That step is not expected here. Start again from your app.'));
  });
  return r;
}

async function login(
  c: Ctx,
  d: InteractionDeps,
  details: Interaction,
  form: Record<string, unknown>,
  csrf: string,
): Promise<Response> {
  const username = typeof form.username === 'string' ? form.username.trim() : '';
  const password = typeof form.password === 'string' ? form.password : '';
  const address = clientAddress(c.env.incoming, d.behindProxy);
  const again = (error: string) =>
    clientLabel(d, details).then((clientName) => loginPage({ action: c.req.path, csrf, clientName, error, username }));
  // Locked: not even checked, whatever the password, and the same answer for a name that is nobody's.
  const { lockedMs } = await d.throttle.begin(username, address);
  if (lockedMs !== undefined) {
    const minutes = Math.max(1, Math.ceil(lockedMs / 60_000));
    const body = await again(
      `Too many failed sign-ins for this user name from your address. Wait ${minutes} minute${minutes === 1 ? '' : 's'}, then try again.`,
    );
    return page(c, 429, body, { 'retry-after': String(Math.ceil(lockedMs / 1000)) });
  }
  const person = username && password ? await d.users.check(username, password) : undefined;
  if (!person) {
    await d.throttle.failed(username, address);
    return page(c, 401, await again('That user name and password do not match.'));
  }
  await d.throttle.succeeded(username, address);
  const to = await d.provider.interactionResult(c.env.incoming, c.env.outgoing, { login: { accountId: person.name } });
  return c.redirect(to, 303);
}

/**
 * Grants what the client asked for and the person holds: a scope the person lacks is left out of
 * the grant, so the token never carries it, whatever the client requested.
 */
async function consent(c: Ctx, d: InteractionDeps, details: Interaction): Promise<Response> {
  const accountId = details.session?.accountId;
  const person = accountId ? d.users.get(accountId) : undefined;
  if (!accountId || !person) return page(c, 400, errorPage('Sign-in failed', 'Sign in first.'));
  const clientId = String(details.params.client_id);
  const grant = details.grantId
    ? ((await d.provider.Grant.find(details.grantId)) ?? new d.provider.Grant({ accountId, clientId }))
    : new d.provider.Grant({ accountId, clientId });
  const pd = details.prompt.details as {
    missingOIDCScope?: string[];
    missingOIDCClaims?: string[];
    missingResourceScopes?: Record<string, string[]>;
  };
  const allowed = new Set(person.scopes.map((s) => d.tokenScope(s)));
  const RESOURCE_SCOPES = new Set(SCOPES.map((s) => d.tokenScope(s)));
  // Interlock's scopes are also OpenID scopes to oidc-provider; a refused one is rejected on both
  // sides, so the provider neither issues it nor asks for it again.
  const split = (scopes: string[] | undefined) => ({
    granted: (scopes ?? []).filter((s) => allowed.has(s) || !RESOURCE_SCOPES.has(s)),
    refused: (scopes ?? []).filter((s) => RESOURCE_SCOPES.has(s) && !allowed.has(s)),
  });
  const oidc = split(pd.missingOIDCScope);
  if (oidc.granted.length > 0) grant.addOIDCScope(oidc.granted.join(' '));
  if (oidc.refused.length > 0) grant.rejectOIDCScope(oidc.refused.join(' '));
  if (pd.missingOIDCClaims) grant.addOIDCClaims(pd.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(pd.missingResourceScopes ?? {})) {
    const rs = split(scopes);
    if (rs.granted.length > 0) grant.addResourceScope(indicator, rs.granted.join(' '));
    if (rs.refused.length > 0) grant.rejectResourceScope(indicator, rs.refused.join(' '));
  }
  const grantId = await grant.save();
  const to = await d.provider.interactionResult(c.env.incoming, c.env.outgoing, { consent: { grantId } });
  return c.redirect(to, 303);
}

async function render(d: InteractionDeps, details: Interaction, csrf: string): Promise<string> {
  const action = `${d.mountPath}/interaction/${details.uid}`;
  const clientName = await clientLabel(d, details);
  if (details.prompt.name === 'login') return loginPage({ action, csrf, clientName });
  const person = details.session?.accountId ? d.users.get(details.session.accountId) : undefined;
  const pd = details.prompt.details as { missingResourceScopes?: Record<string, string[]> };
  const asked = new Set(Object.values(pd.missingResourceScopes ?? {}).flat());
  const scopes = SCOPES.filter((s) => asked.has(d.tokenScope(s)) && person?.scopes.includes(s)).map((s) => ({
    scope: s,
    tokenScope: d.tokenScope(s),
  }));
  const refused = SCOPES.filter((s) => asked.has(d.tokenScope(s)) && !person?.scopes.includes(s));
  let redirectHost = '';
  try {
    redirectHost = new URL(String(details.params.redirect_uri)).host;
  } catch {
    redirectHost = String(details.params.redirect_uri);
  }
  return consentPage({ action, csrf, clientName, redirectHost, user: person?.name ?? '?', scopes, refused });
}

async function clientLabel(d: InteractionDeps, details: Interaction): Promise<string> {
  const client = await d.provider.Client.find(String(details.params.client_id));
  return client?.clientName ? `${client.clientName}` : 'An application';
}

function page(c: Ctx, status: 200 | 400 | 401 | 403 | 429, body: string, headers: Record<string, string> = {}): Response {
  return c.html(body, status, { ...NO_STORE, ...headers });
}

/** A form post from this origin: browsers send Origin on POST, and Sec-Fetch-Site where they can. */
function sameSite(c: Ctx, publicOrigin: string): boolean {
  const site = c.req.header('sec-fetch-site');
  if (site !== undefined && site !== 'same-origin') return false;
  const origin = c.req.header('origin');
  return origin === undefined || origin === new URL(c.req.url).origin || origin === publicOrigin;
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
