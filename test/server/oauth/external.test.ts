import { SignJWT, decodeJwt, importJWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { waitForStatus } from '../../helpers/app.ts';
import { issuerYaml, useIssuerHarness } from './helpers.ts';
import { READER, ROBOT, startExternalIssuer } from './issuer.ts';

const rig = useIssuerHarness(startExternalIssuer, issuerYaml);

const { initialize } = rig;
const connect = (token: string) => rig.connect(token, 'external-oauth');

describe('an external authorization server (an oidc-provider standing in for Keycloak), tokens checked by JWKS', () => {
  it('names that issuer in the protected resource metadata', async () => {
    const meta = await (await fetch(`${rig.h.url}/.well-known/oauth-protected-resource`)).json();
    expect(meta).toMatchObject({
      resource: rig.resource,
      authorization_servers: [rig.idp.issuer],
      scopes_supported: ['mcp:read', 'mcp:run', 'confirm', 'admin', 'audit'],
    });
    const challenge = (await initialize()).headers.get('www-authenticate');
    expect(challenge).toContain('scope="mcp:read mcp:run"');
  });

  it('runs a workflow for a token of that issuer, with the subject as the run owner', async () => {
    const token = await rig.idp.token(ROBOT, rig.resource, 'mcp:read mcp:run');
    expect(decodeJwt(token)).toMatchObject({ iss: rig.idp.issuer, aud: rig.resource, sub: ROBOT.id });
    const client = await connect(token);
    try {
      const result = await client.callTool({ name: 'greet', arguments: { text: 'from a machine client' } });
      expect(result.isError).toBeFalsy();
      const run = await waitForStatus(rig.h.app, (result.structuredContent as { runId: string }).runId, ['succeeded']);
      expect(run.owner).toBe(ROBOT.id);
    } finally {
      await client.close();
    }
    const api = await fetch(`${rig.h.url}/api/v1/runs`, { headers: { authorization: `Bearer ${token}` } });
    expect(api.status).toBe(200);
  });

  it('refuses a token issued for another resource (wrong audience) with 401 invalid_token', async () => {
    const token = await rig.idp.token(ROBOT, 'https://other.example/mcp', 'mcp:read mcp:run');
    expect(decodeJwt(token).aud).toBe('https://other.example/mcp');
    const res = await initialize(token);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer resource_metadata="[^"]+", error="invalid_token"/);
    const api = await fetch(`${rig.h.url}/api/v1/runs`, { headers: { authorization: `Bearer ${token}` } });
    expect(api.status).toBe(401);
    expect(api.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('refuses an expired token signed with the issuer key, with 401 and WWW-Authenticate', async () => {
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
    const res = await initialize(expired);
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
    expect((await initialize(fresh)).status).toBe(200);
  });

  it('lets a token without the mapped trigger scope list and read, but not run; the API answers 403', async () => {
    const before = (await rig.h.app.store.listRuns({ limit: 500 })).runs.length;
    const token = await rig.idp.token(READER, rig.resource, 'mcp:read');
    const client = await connect(token);
    try {
      const names = (await client.listTools()).tools.map((t) => t.name).sort();
      expect(names).toEqual(['get_run', 'list_workflows']);
      const result = await client.callTool({ name: 'run_workflow', arguments: { workflow: 'greet', inputs: { text: 'x' } } });
      expect(result.isError).toBe(true);
    } finally {
      await client.close();
    }
    const api = await fetch(`${rig.h.url}/api/v1/workflows/greet/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: { text: 'x' } }),
    });
    expect(api.status).toBe(403);
    expect((await rig.h.app.store.listRuns({ limit: 500 })).runs.length).toBe(before);
  });

  it('refuses a token signed by a key that is not the issuer’s', async () => {
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
    expect((await initialize(forged)).status).toBe(401);
  });
});
