import { type JWK, SignJWT, exportJWK, generateKeyPair, importJWK } from 'jose';
import { describe, expect } from 'vitest';
import { waitForStatus } from '../../helpers/app.ts';
import { BUILTIN_ENV, type OAuthHarness, builtinYaml, STATIC_TOKEN, oauthTest } from './helpers.ts';

/**
 * The built-in server with its signing key from the environment: the test holds the key, so it
 * can sign tokens exactly as the server does, and change one claim at a time (audience, expiry).
 */
const { privateKey } = await generateKeyPair('ES256', { extractable: true });
const jwk: JWK = { ...(await exportJWK(privateKey)), alg: 'ES256', use: 'sig', kid: 'env-key-1' };
const key = await importJWK(jwk, 'ES256');

const it = oauthTest({
  yaml: (log) => builtinYaml(log, '\n        signing_key: "${env:IL_OAUTH_SIGNING_KEY}"'),
  env: { ...BUILTIN_ENV, IL_OAUTH_SIGNING_KEY: JSON.stringify(jwk) },
});

function token(h: OAuthHarness, claims: { sub: string; scope: string; aud?: string; exp?: number }): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ scope: claims.scope })
    .setProtectedHeader({ alg: 'ES256', kid: 'env-key-1', typ: 'at+jwt' })
    .setIssuer(`${h.url}/oauth`)
    .setAudience(claims.aud ?? `${h.url}/mcp`)
    .setSubject(claims.sub)
    .setIssuedAt(now)
    .setExpirationTime(claims.exp ?? now + 300)
    .sign(key);
}

const api = (h: OAuthHarness, path: string, bearer: string, body?: unknown) =>
  fetch(`${h.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

describe('tokens of the built-in server, checked at /mcp and the API', () => {
  it('publishes the environment key as its JWKS', async ({ h }) => {
    const keys = (await (await fetch(`${h.url}/oauth/jwks`)).json()) as { keys: JWK[] };
    expect(keys.keys.map((k) => k.kid)).toEqual(['env-key-1']);
    expect(JSON.stringify(keys)).not.toContain(String(jwk.d));
  });

  it('refuses a token for another audience and an expired one with 401 and a challenge', async ({ h }) => {
    const wrongAud = await token(h, { sub: 'alice', scope: 'read trigger', aud: 'https://elsewhere.example/mcp' });
    const expired = await token(h, { sub: 'alice', scope: 'read trigger', exp: Math.floor(Date.now() / 1000) - 600 });
    for (const t of [wrongAud, expired]) {
      const res = await api(h, '/api/v1/runs', t);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe(
        `Bearer resource_metadata="${h.url}/.well-known/oauth-protected-resource/mcp", error="invalid_token"`,
      );
      expect(await res.text()).not.toContain(t);
    }
    expect((await api(h, '/api/v1/runs', await token(h, { sub: 'alice', scope: 'read' }))).status).toBe(200);
  });

  it('records the subject as who triggered and who approved; static tokens keep working beside OAuth', async ({ h }) => {
    const alice = await token(h, { sub: 'alice', scope: 'read trigger' });
    const carol = await token(h, { sub: 'carol', scope: 'read confirm' });
    const started = await api(h, '/api/v1/workflows/pay/runs', alice, { inputs: { name: 'dora', amount: 3 } });
    expect(started.status).toBe(202);
    const runId = ((await started.json()) as { id: string }).id;
    const waiting = await waitForStatus(h.app, runId, ['awaiting_confirmation']);
    expect(waiting.owner).toBe('alice');
    const conf = await h.app.store.requireConfirmation(waiting.steps.write.confirmationId as string);
    // alice may trigger but not approve her own write.
    expect((await api(h, `/api/v1/confirmations/${conf.id}/approve`, alice, { argumentsHash: conf.argumentsHash })).status).toBe(
      403,
    );
    const approved = await api(h, `/api/v1/confirmations/${conf.id}/approve`, carol, { argumentsHash: conf.argumentsHash });
    expect(approved.status).toBe(200);
    expect(await approved.json()).toMatchObject({ status: 'approved', decidedBy: 'carol', channel: 'api' });
    expect((await waitForStatus(h.app, runId, ['succeeded'])).owner).toBe('alice');

    const viaStatic = await api(h, '/api/v1/workflows/greet/runs', STATIC_TOKEN, { inputs: { text: 'static' } });
    expect(viaStatic.status).toBe(202);
    expect(((await viaStatic.json()) as { owner: string }).owner).toBe('ops');
  });

  it('answers a token with neither read nor trigger with 403 insufficient_scope at /mcp', async ({ h }) => {
    const none = await token(h, { sub: 'carol', scope: 'confirm' });
    const res = await fetch(`${h.url}/mcp`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${none}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} }),
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    expect(res.headers.get('www-authenticate')).toContain('scope="read trigger"');
  });
});
