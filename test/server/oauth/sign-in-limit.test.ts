/**
 * Failed sign-ins at the built-in authorization server are limited per user name and address:
 * after `attempts` failures even the right password is refused (429, a page that says why) until
 * the window passes, and a name that is nobody's is treated exactly the same. The sign-in form is
 * driven over plain HTTP, as a script guessing passwords would: authorize, the login page, posts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect } from 'vitest';
import { BUILTIN_ENV, type OAuthHarness, PASSWORDS, REDIRECT_URL, builtinYaml, oauthTest } from './helpers.ts';

const WINDOW_MS = 5000;

/** A client registered at the built-in server, as a password-guessing script would register one. */
async function registerGuesser(h: OAuthHarness): Promise<string> {
  const reg = await fetch(`${h.url}/oauth/reg`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'Password Guesser',
      redirect_uris: [REDIRECT_URL],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    }),
  });
  expect(reg.status).toBe(201);
  return ((await reg.json()) as { client_id: string }).client_id;
}

/**
 * `h` with a sign-in limit of three failures per window, and `startSignIn`, which opens the
 * sign-in form for the registered guesser.
 */
const it = oauthTest({
  yaml: (log) => builtinYaml(log, `\n        sign_in_limit: { attempts: 3, window: ${WINDOW_MS}ms }`),
  env: BUILTIN_ENV,
}).extend<{ startSignIn: () => Promise<SignIn> }>({
  startSignIn: [
    async ({ h }, use) => {
      const clientId = await registerGuesser(h);
      await use(() => startSignIn(h, clientId));
    },
    { scope: 'file' },
  ],
});

/** One sign-in under way: its cookies, the form's URL and its CSRF field. */
interface SignIn {
  /** the server's origin, sent with the form as a browser sends it */
  origin: string;
  cookies: Map<string, string>;
  action: string;
  csrf: string;
}

function keepCookies(res: Response, jar: Map<string, string>): void {
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(';');
    const i = pair.indexOf('=');
    jar.set(pair.slice(0, i), pair.slice(i + 1));
  }
}
const cookieHeader = (jar: Map<string, string>) => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');

async function startSignIn(h: OAuthHarness, clientId: string): Promise<SignIn> {
  const verifier = randomBytes(32).toString('base64url');
  const auth = new URL(`${h.url}/oauth/auth`);
  for (const [k, v] of Object.entries({
    client_id: clientId,
    response_type: 'code',
    redirect_uri: REDIRECT_URL,
    scope: 'read trigger',
    resource: `${h.url}/mcp`,
    state: randomBytes(8).toString('hex'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }))
    auth.searchParams.set(k, v);
  const cookies = new Map<string, string>();
  const first = await fetch(auth, { redirect: 'manual' });
  expect(first.status).toBe(303);
  keepCookies(first, cookies);
  const pageUrl = new URL(first.headers.get('location') as string, h.url);
  const page = await fetch(pageUrl, { headers: { cookie: cookieHeader(cookies) } });
  const html = await page.text();
  expect(html).toContain('Sign in to Interlock');
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  expect(csrf).toBeTruthy();
  return { origin: h.url, cookies, action: pageUrl.href, csrf: csrf as string };
}

async function signIn(s: SignIn, username: string, password: string): Promise<{ status: number; alert?: string; res: Response }> {
  const res = await fetch(s.action, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: cookieHeader(s.cookies), 'content-type': 'application/x-www-form-urlencoded', origin: s.origin },
    body: new URLSearchParams({ csrf: s.csrf, username, password, action: 'login' }),
  });
  keepCookies(res, s.cookies);
  const html = await res.text();
  const alert = /<p class="error" role="alert">([^<]*)<\/p>/.exec(html)?.[1];
  return { status: res.status, res, ...(alert ? { alert } : {}) };
}

describe('the built-in sign-in page limits failed sign-ins per user name and address', () => {
  it('refuses the right password after three wrong ones, says why, and lets it in once the window has passed', async ({
    startSignIn,
  }) => {
    const s = await startSignIn();
    for (let i = 0; i < 3; i++) {
      const r = await signIn(s, 'alice', `wrong-${i}`);
      expect(r.status).toBe(401);
      expect(r.alert).toBe('That user name and password do not match.');
    }
    const locked = await signIn(s, 'alice', PASSWORDS.alice);
    expect(locked.status).toBe(429);
    expect(locked.alert).toMatch(
      /^Too many failed sign-ins for this user name from your address\. Wait \d+ minutes?, then try again\.$/,
    );
    const retryAfter = Number(locked.res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(WINDOW_MS / 1000);
    expect(locked.res.headers.get('cache-control')).toBe('no-store');

    // Another person at the same address is not locked out by alice's failures.
    const bob = await signIn(await startSignIn(), 'bob', PASSWORDS.bob);
    expect(bob.status).toBe(303);

    // A locked attempt is not counted, so waiting out the window is enough.
    await expect
      .poll(async () => (await signIn(s, 'alice', PASSWORDS.alice)).status, { timeout: WINDOW_MS * 4, interval: 500 })
      .toBe(303);
    // The sign-in that worked forgot the failures: one wrong password is only a wrong password again.
    const after = await signIn(await startSignIn(), 'alice', 'wrong-again');
    expect(after.status).toBe(401);
  });

  it('treats a name that is nobody’s exactly like a real one, so the limit tells nobody who exists', async ({ startSignIn }) => {
    const s = await startSignIn();
    const answers: Array<{ who: string; status: number; alert?: string }> = [];
    for (const who of ['carol', 'nobody-by-this-name']) {
      for (let i = 0; i < 3; i++) {
        const r = await signIn(s, who, `guess-${i}`);
        answers.push({ who, status: r.status, ...(r.alert ? { alert: r.alert } : {}) });
      }
      const r = await signIn(s, who, who === 'carol' ? PASSWORDS.carol : 'anything');
      answers.push({ who, status: r.status, ...(r.alert ? { alert: r.alert } : {}) });
    }
    const strip = (a: (typeof answers)[number]) => ({ status: a.status, alert: a.alert });
    expect(answers.filter((a) => a.who === 'carol').map(strip)).toEqual(answers.filter((a) => a.who !== 'carol').map(strip));
    expect(answers.map((a) => a.status)).toEqual([401, 401, 401, 429, 401, 401, 401, 429]);
  });

  it('checks at most the allowed number of guesses sent all at once', async ({ startSignIn }) => {
    const s = await startSignIn();
    const statuses = (await Promise.all(Array.from({ length: 8 }, (_, i) => signIn(s, 'dave-in-parallel', `p-${i}`)))).map(
      (r) => r.status,
    );
    expect(statuses.filter((x) => x === 401)).toHaveLength(3);
    expect(statuses.filter((x) => x === 429)).toHaveLength(5);
  });

  it('keeps no user name or address in Redis, only a keyed hash of the pair', async ({ h }) => {
    const keys = await h.app.redis.client.keys(`${h.app.prefix}:as:*sign-in-failures*`);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.join(' ')).not.toMatch(/carol|nobody|alice|dave|127\.0\.0\.1/);
  });
});
