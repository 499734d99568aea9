import { SignJWT, decodeJwt, importJWK } from 'jose';
import { describe, expect } from 'vitest';
import { expectReadsButCannotRun, expectRunsAs, issuerTest, issuerYaml } from './helpers.ts';
import { READER, ROBOT, startExternalIssuer } from './issuer.ts';

const it = issuerTest(startExternalIssuer, issuerYaml);

describe('an external authorization server (an oidc-provider standing in for Keycloak), tokens checked by JWKS', () => {
  it('names that issuer in the protected resource metadata', async ({ rig }) => {
    const meta = await (await fetch(`${rig.h.url}/.well-known/oauth-protected-resource`)).json();
    expect(meta).toMatchObject({
      resource: rig.resource,
      authorization_servers: [rig.idp.issuer],
      scopes_supported: ['mcp:read', 'mcp:run', 'confirm', 'admin', 'audit'],
    });
    const challenge = (await rig.initialize()).headers.get('www-authenticate');
    expect(challenge).toContain('scope="mcp:read mcp:run"');
  });

  it('runs a workflow for a token of that issuer, with the subject as the run owner', async ({ rig }) => {
    const token = await rig.idp.token(ROBOT, rig.resource, 'mcp:read mcp:run');
    expect(decodeJwt(token)).toMatchObject({ iss: rig.idp.issuer, aud: rig.resource, sub: ROBOT.id });
    await expectRunsAs(rig, token, 'from a machine client', ROBOT.id, 'external-oauth');
  });

  it('refuses a token issued for another resource (wrong audience) with 401 invalid_token', async ({ rig }) => {
    const token = await rig.idp.token(ROBOT, 'https://other.example/mcp', 'mcp:read mcp:run');
    expect(decodeJwt(token).aud).toBe('https://other.example/mcp');
    const res = await rig.initialize(token);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer resource_metadata="[^"]+", error="invalid_token"/);
    const api = await fetch(`${rig.h.url}/api/v1/runs`, { headers: { authorization: `Bearer ${token}` } });
    expect(api.status).toBe(401);
    expect(api.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('refuses an expired token signed with the issuer key, with 401 and WWW-Authenticate', async ({ rig }) => {
    const key = await importJWK(rig.idp.privateJwk, 'RS256');
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ scope: 'mcp:read mcp:run', client_id: ROBOT.id })
      .setProtectedHeader({ alg: 'RS256', kid: 'external-1', typ: 'at+jwt' })
      .setIssuer(rig.idp.issuer)
      .setAudience(rig.resource)
      .setSubject(ROBOT.id)
      .setIssuedAt(now - 7200)
      .setExpirationTime(now - 3600)
      .sign(key);
    const res = await rig.initialize(expired);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain(
      `resource_metadata="${rig.h.url}/.well-known/oauth-protected-resource/mcp"`,
    );
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    // The same claims, unexpired, are accepted: what failed was the expiry alone.
    const fresh = await new SignJWT({ scope: 'mcp:read' })
      .setProtectedHeader({ alg: 'RS256', kid: 'external-1' })
      .setIssuer(rig.idp.issuer)
      .setAudience(rig.resource)
      .setSubject(ROBOT.id)
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(key);
    expect((await rig.initialize(fresh)).status).toBe(200);
  });

  it('lets a token without the mapped trigger scope list and read, but not run; the API answers 403', async ({ rig }) => {
    await expectReadsButCannotRun(rig, await rig.idp.token(READER, rig.resource, 'mcp:read'), 'external-oauth');
  });

  it('refuses a token signed by a key that is not the issuer’s', async ({ rig }) => {
    const { generateKeyPair } = await import('jose');
    const { privateKey } = await generateKeyPair('RS256');
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ scope: 'mcp:read mcp:run' })
      .setProtectedHeader({ alg: 'RS256', kid: 'external-1' })
      .setIssuer(rig.idp.issuer)
      .setAudience(rig.resource)
      .setSubject('mallory')
      .setExpirationTime(now + 300)
      .sign(privateKey);
    expect((await rig.initialize(forged)).status).toBe(401);
  });
});
