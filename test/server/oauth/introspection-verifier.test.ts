/**
 * IntrospectionVerifier against a real introspection endpoint (oidc-provider): what it keeps,
 * what it never keeps, and tokens that are active to the issuer but must not call Interlock.
 */
import { describe, expect } from 'vitest';
import { test } from '../../helpers/fixtures.ts';
import { defaultScopeMap } from '../../../src/workflows/server-auth.ts';
import { IntrospectionVerifier, type IntrospectionOptions } from '../../../src/server/oauth/verifier.ts';
import { issuerFixture } from './helpers.ts';
import { INTERLOCK_RS, type IntrospectingIssuer, OPAQUE_ROBOT, startIntrospectingIssuer } from './introspection-issuer.ts';

const RESOURCE = 'https://interlock.example/mcp';
const it = test.extend<{ idp: IntrospectingIssuer }>({ idp: issuerFixture(startIntrospectingIssuer) });
/** introspection requests sent, by every verifier of this file */
let asked = 0;
const counting: typeof fetch = (input, init) => {
  asked++;
  return fetch(input, init);
};

const verifier = (idp: IntrospectingIssuer, more: Partial<IntrospectionOptions> = {}) =>
  new IntrospectionVerifier({
    url: idp.introspectionUrl,
    clientId: INTERLOCK_RS.id,
    clientSecret: INTERLOCK_RS.secret,
    audience: RESOURCE,
    issuer: idp.issuer,
    scopeMap: { ...defaultScopeMap(), read: ['mcp:read'], trigger: ['mcp:run'] },
    fetch: counting,
    ...more,
  });

describe('token introspection (RFC 7662)', () => {
  it('keeps an active answer (by default), so a second request does not ask again', async ({ idp }) => {
    const v = verifier(idp);
    const token = await idp.token(OPAQUE_ROBOT, RESOURCE, 'mcp:read mcp:run');
    const before = asked;
    const first = await v.verify(token);
    expect(first).toEqual({ ok: true, principal: { name: OPAQUE_ROBOT.id, scopes: ['read', 'trigger'] } });
    expect(await v.verify(token)).toEqual(first);
    expect(asked - before).toBe(1);
  });

  it('with cache 0, asks on every request, so a revocation counts at once', async ({ idp }) => {
    const v = verifier(idp, { cacheMs: 0 });
    const token = await idp.token(OPAQUE_ROBOT, RESOURCE, 'mcp:read');
    const before = asked;
    expect((await v.verify(token)).ok).toBe(true);
    await idp.revoke(OPAQUE_ROBOT, token);
    expect(await v.verify(token)).toEqual({ ok: false, reason: 'the token is not active' });
    expect(asked - before).toBe(2);
  });

  it('never keeps a refusal', async ({ idp }) => {
    const v = verifier(idp);
    const before = asked;
    for (let i = 0; i < 2; i++) expect(await v.verify('no-such-token-abcdefghijklmnopqrstuvwxyz')).toMatchObject({ ok: false });
    expect(asked - before).toBe(2);
  });

  it('refuses a refresh token: it is active to its issuer, but it is not an access token', async ({ idp }) => {
    const { provider } = idp;
    const grant = new provider.Grant({ accountId: 'alice', clientId: OPAQUE_ROBOT.id });
    grant.addResourceScope(RESOURCE, 'mcp:read mcp:run');
    const grantId = await grant.save();
    const client = await provider.Client.find(OPAQUE_ROBOT.id);
    const common = { accountId: 'alice', client, grantId, scope: 'mcp:read mcp:run' };
    const refresh = await new provider.RefreshToken({ ...common, resource: RESOURCE } as never).save();
    const access = new provider.AccessToken(common as never);
    access.resourceServer = { audience: RESOURCE, scope: 'mcp:read mcp:run', accessTokenFormat: 'opaque' } as never;
    const accessToken = await access.save();
    const v = verifier(idp);
    // The same grant's access token is accepted, with the person (not the client) as the subject.
    expect(await v.verify(accessToken)).toEqual({ ok: true, principal: { name: 'alice', scopes: ['read', 'trigger'] } });
    // oidc-provider's answer for it is active, names no audience and no token_type; servers that
    // give it an audience say what it is (Keycloak: typ Refresh), which is refused too.
    expect(await v.verify(refresh)).toEqual({ ok: false, reason: 'the token was issued for another resource (aud)' });
  });

  it('refuses a token bound to a DPoP key: Interlock checks no proof, so a copied one must not work as a bearer', async ({
    idp,
  }) => {
    const bound = await idp.dpopToken(OPAQUE_ROBOT, RESOURCE, 'mcp:read mcp:run');
    expect(await verifier(idp).verify(bound)).toEqual({
      ok: false,
      reason: 'the token is bound to a key or certificate (cnf) that Interlock cannot check; use a bearer token',
    });
  });

  it('says why when Interlock’s own credentials are refused, and never with the secret', async ({ idp }) => {
    const v = verifier(idp, { clientSecret: 'not-the-secret' });
    const token = await idp.token(OPAQUE_ROBOT, RESOURCE, 'mcp:read');
    const verdict = await v.verify(token);
    expect(verdict).toEqual({ ok: false, reason: 'the introspection endpoint answered 401' });
    expect(JSON.stringify(verdict)).not.toContain(token);
  });
});
