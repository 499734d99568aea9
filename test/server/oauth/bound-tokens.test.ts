/**
 * Sender-constrained tokens (RFC 7800 `cnf`: a DPoP key or a client certificate) are refused at
 * /mcp: Interlock takes bearer tokens and checks no proof, so accepting a bound token as a bearer
 * would let anyone who copied it use it. The built-in server therefore issues none.
 */
import { SignJWT, importJWK } from 'jose';
import { describe, expect } from 'vitest';
import { JwtVerifier } from '../../../src/server/oauth/verifier.ts';
import { defaultScopeMap } from '../../../src/workflows/server-auth.ts';
import { BUILTIN_ENV, builtinYaml, issuerFixture, oauthTest } from './helpers.ts';
import { type ExternalIssuer, ROBOT, startExternalIssuer } from './issuer.ts';

const RESOURCE = 'https://interlock.example/mcp';
const it = oauthTest({ yaml: (log) => builtinYaml(log), env: BUILTIN_ENV }).extend<{ idp: ExternalIssuer }>({
  idp: issuerFixture(startExternalIssuer),
});

describe('key-bound access tokens', () => {
  it('refuses a JWT with a cnf claim, though the same token without it is accepted', async ({ idp }) => {
    const verifier = new JwtVerifier({ issuer: idp.issuer, audience: RESOURCE, scopeMap: defaultScopeMap() });
    const key = await importJWK(idp.privateJwk, 'RS256');
    const mint = (extra: Record<string, unknown>) =>
      new SignJWT({ scope: 'read trigger', ...extra })
        .setProtectedHeader({ alg: 'RS256', kid: 'external-1', typ: 'at+jwt' })
        .setIssuer(idp.issuer)
        .setAudience(RESOURCE)
        .setSubject(ROBOT.id)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(key);
    expect(await verifier.verify(await mint({}))).toEqual({
      ok: true,
      principal: { name: ROBOT.id, scopes: ['read', 'trigger'] },
    });
    for (const cnf of [
      { jkt: 'hBbWm1VH8NS5fuC1yrYdwu4VzWwC1Pmj6F7QHo2fGbw' },
      { 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' },
    ])
      expect(await verifier.verify(await mint({ cnf }))).toEqual({
        ok: false,
        reason: 'the token is bound to a key or certificate (cnf) that Interlock cannot check; use a bearer token',
      });
  });

  it('the built-in server offers no DPoP, so no client gets a token /mcp would refuse', async ({ h }) => {
    const meta = (await (await fetch(`${h.url}/oauth/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(meta.issuer).toBe(`${h.url}/oauth`);
    expect(meta).not.toHaveProperty('dpop_signing_alg_values_supported');
  });
});
