import { describe, expect, it } from 'vitest';
import { verifyPassword } from '../../src/server/oauth/builtin/users.ts';
import { hashPassword } from '../../src/server/oauth/builtin/users.ts';
import { loadConfigFromString } from '../../src/workflows/load.ts';
import { FILE, HEAD, expectIssue, issuesOf, withBuiltinOAuth, withServer, yaml } from './helpers.ts';

describe('server.auth.oauth in workflows.yaml', () => {
  it('reads an external issuer with its scope map, and a built-in server with its people', async () => {
    const ext = loadConfigFromString(
      withServer(
        '  auth:',
        '    oauth:',
        '      issuer: https://login.example.com/realms/ops/',
        '      scopes: { trigger: [mcp:run] }',
      ),
      FILE,
    );
    expect(ext.server?.auth.oauth).toMatchObject({
      issuer: 'https://login.example.com/realms/ops',
      scopeMap: { read: ['read', 'interlock:read'], trigger: ['mcp:run'] },
    });
    const hash = await hashPassword('a long enough password');
    const built = loadConfigFromString(
      withBuiltinOAuth(
        '        access_token_ttl: 10m',
        '        users:',
        '          - { name: ana, password: "${env:ANA_PW}", scopes: [read, trigger] }',
        `          - { name: ben, password_hash: "${hash}", scopes: [read, confirm] }`,
      ),
      FILE,
    );
    expect(built.server?.auth.oauth?.builtin).toEqual({
      secretEnv: 'AS_SECRET',
      accessTokenTtlS: 600,
      users: [
        { name: 'ana', passwordEnv: 'ANA_PW', scopes: ['read', 'trigger'] },
        { name: 'ben', passwordHash: hash, scopes: ['read', 'confirm'] },
      ],
    });
    expect(await verifyPassword('a long enough password', hash)).toBe(true);
    expect(await verifyPassword('another password', hash)).toBe(false);
  });

  it('names file, line and column for each mistake', () => {
    const issues = issuesOf(
      withServer(
        '  auth:',
        '    oauth:',
        '      issuer: not a url',
        '      builtin:',
        '        secret: plain-text-secret',
        '        users:',
        '          - { name: ana, scopes: [read, trigerr] }',
        '          - { name: bea, password: "${env:X}", password_hash: "scrypt$1", scopes: [read] }',
      ),
    );
    expectIssue(issues, 15, 15, /oauth issuer must be an http\(s\) URL/);
    expectIssue(issues, 16, 7, /takes "issuer" or "builtin", not both/);
    expectIssue(issues, 17, 17, /builtin secret must be "\$\{env:NAME\}"/);
    expectIssue(issues, 19, 41, /unknown scope "trigerr" \(did you mean "trigger"\?\)/);
    expectIssue(issues, 19, 13, /user "ana" needs exactly one of password/);
    expectIssue(issues, 20, 13, /user "bea" needs exactly one of password/);
    expect(JSON.stringify(issues)).not.toContain('plain-text-secret');
  });

  it('refuses a built-in user named like a static token: they would share runs and remembered approvals', () => {
    const issues = issuesOf(
      yaml(
        ...HEAD,
        '      - id: s',
        '        call: stripe.read',
        'tokens:',
        '  - { name: ops, token: "${env:OPS}", scopes: [read] }',
        'server:',
        '  auth:',
        '    oauth:',
        '      builtin:',
        '        secret: "${env:S}"',
        '        users: [{ name: ops, password: "${env:P}", scopes: [read] }]',
      ),
    );
    expectIssue(issues, 19, 25, /user "ops" has the name of a token/);
  });
});
