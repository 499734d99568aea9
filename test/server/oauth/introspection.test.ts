/**
 * `/mcp` with tokens checked by RFC 7662 introspection: an oidc-provider issues opaque access
 * tokens (no JWT to verify locally), and Interlock asks its introspection endpoint what each one
 * means, authenticated as its own client.
 */
import { describe, expect } from 'vitest';
import { expectReadsButCannotRun, expectRunsAs, introspectionOAuth, issuerTest, issuerYaml } from './helpers.ts';
import { INTERLOCK_RS, OPAQUE_READER, OPAQUE_ROBOT, startIntrospectingIssuer } from './introspection-issuer.ts';

const it = issuerTest(
  startIntrospectingIssuer,
  (issuer, log) => issuerYaml(issuer, log, introspectionOAuth(issuer, INTERLOCK_RS.id, 'IL_INTROSPECTION_SECRET')),
  { IL_INTROSPECTION_SECRET: INTERLOCK_RS.secret },
);

const expectInvalidToken = (res: Response) => {
  expect(res.status).toBe(401);
  expect(res.headers.get('www-authenticate')).toMatch(/^Bearer resource_metadata="[^"]+", error="invalid_token"/);
};

describe('an authorization server with opaque tokens, checked by introspection (RFC 7662)', () => {
  it('hands out tokens that are not JWTs, so only the introspection endpoint can say what they mean', async ({ rig }) => {
    const token = await rig.idp.token(OPAQUE_ROBOT, rig.resource, 'mcp:read mcp:run');
    expect(token.split('.')).toHaveLength(1);
    const meta = await (await fetch(`${rig.h.url}/.well-known/oauth-protected-resource/mcp`)).json();
    expect(meta).toMatchObject({ resource: rig.resource, authorization_servers: [rig.idp.issuer] });
  });

  it('runs a workflow for an active token with the right audience and scopes; the client is the run owner', async ({ rig }) => {
    const token = await rig.idp.token(OPAQUE_ROBOT, rig.resource, 'mcp:read mcp:run');
    // A client-credentials token has no resource owner: its subject is the client (RFC 9068 §2.2).
    await expectRunsAs(rig, token, 'opaque', OPAQUE_ROBOT.id, 'introspection');
  });

  it('refuses a token once it is revoked, though it was accepted a moment before', async ({ rig }) => {
    const token = await rig.idp.token(OPAQUE_ROBOT, rig.resource, 'mcp:read mcp:run');
    expect((await rig.initialize(token)).status).toBe(200);
    await rig.idp.revoke(OPAQUE_ROBOT, token);
    expectInvalidToken(await rig.initialize(token));
    const api = await fetch(`${rig.h.url}/api/v1/runs`, { headers: { authorization: `Bearer ${token}` } });
    expectInvalidToken(api);
  });

  it('refuses a token the issuer never issued', async ({ rig }) => {
    expectInvalidToken(await rig.initialize('made-up-opaque-token-0123456789abcdefghijklmnop'));
  });

  it('refuses a token issued for another resource (wrong audience)', async ({ rig }) => {
    const token = await rig.idp.token(OPAQUE_ROBOT, 'https://other.example/mcp', 'mcp:read mcp:run');
    expectInvalidToken(await rig.initialize(token));
    const api = await fetch(`${rig.h.url}/api/v1/runs`, { headers: { authorization: `Bearer ${token}` } });
    expectInvalidToken(api);
  });

  it('lets a token without the mapped trigger scope list and read, but not run; the API answers 403', async ({ rig }) => {
    await expectReadsButCannotRun(rig, await rig.idp.token(OPAQUE_READER, rig.resource, 'mcp:read'), 'introspection');
  });
});
