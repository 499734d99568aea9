import { describe, expect, it } from 'vitest';
import { loadConfigFromString } from '../../src/workflows/load.ts';
import { FILE, expectIssue, expectLoadError, issuesOf, yaml } from './helpers.ts';

// `auth: {type: oauth, …}` of a connector: every mistake names file, line and column, and a
// secret written into the file is refused without being repeated.

const connector = (...auth: string[]) =>
  yaml(
    'connectors:',
    '  remote:',
    '    transport: streamable-http',
    '    url: https://mcp.example.com/mcp',
    ...auth,
    'workflows: {}',
  );

describe('auth type oauth', () => {
  it('reads the settings, with authorization_code and no scopes by default', () => {
    const c = loadConfigFromString(connector('    auth: oauth'), FILE).connectors.remote;
    expect(c.auth).toEqual({ type: 'oauth', grant: 'authorization_code', scopes: [] });
    const full = loadConfigFromString(
      connector(
        '    auth:',
        '      type: oauth',
        '      client_id: "${env:REMOTE_CLIENT_ID}"',
        '      client_secret: "${env:REMOTE_CLIENT_SECRET}"',
        '      client_metadata_url: https://interlock.example.com/oauth/client.json',
        '      scopes: read write',
      ),
      FILE,
    ).connectors.remote;
    expect(full.auth).toEqual({
      type: 'oauth',
      grant: 'authorization_code',
      clientId: '${env:REMOTE_CLIENT_ID}',
      clientSecretEnv: 'REMOTE_CLIENT_SECRET',
      clientMetadataUrl: 'https://interlock.example.com/oauth/client.json',
      scopes: ['read', 'write'],
    });
  });

  it('refuses a client secret written into the file, without repeating it', () => {
    const issue = expectLoadError(
      connector('    auth: { type: oauth, client_id: abc, client_secret: hunter2-literal }'),
      '5:57',
      /client_secret must be "\$\{env:NAME\}"/,
    );
    expect(issue.message).not.toContain('hunter2');
  });

  it('needs a pre-registered client for client_credentials', () => {
    expectLoadError(
      connector('    auth: { type: oauth, grant: client_credentials }'),
      '5:26',
      /client_credentials grant needs a pre-registered client/,
    );
  });

  it('names an unknown grant, a bad metadata URL and a bad scope where they are', () => {
    const issues = issuesOf(
      connector(
        '    auth:',
        '      type: oauth',
        '      grant: implicit',
        '      client_metadata_url: http://insecure.example.com/client.json',
        '      scopes: [ok, "not ok"]',
      ),
    );
    expectIssue(issues, 7, 14, /unknown oauth grant "implicit"/);
    expectIssue(issues, 8, 28, /client_metadata_url must be an https URL/);
    expectIssue(issues, 9, 20, /"not ok" is not an OAuth scope/);
  });

  it('applies to HTTP transports only, and takes no token', () => {
    const issues = issuesOf(
      yaml(
        'connectors:',
        '  local:',
        '    command: some-server',
        '    auth: { type: oauth, token: "${env:X}" }',
        'workflows: {}',
      ),
    );
    expectIssue(issues, 4, 19, /oauth auth applies to streamable-http and sse connectors/);
    expectIssue(issues, 4, 26, /oauth auth takes no token/);
  });

  it('says which keys belong to oauth when another auth type has them', () => {
    expectLoadError(
      connector('    auth: { type: bearer, token: "${env:T}", scopes: [a] }'),
      '5:46',
      /"scopes" applies to auth type oauth only/,
    );
  });
});
