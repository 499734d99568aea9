import { describe, expect, it } from 'vitest';
import { loadConfigFromString } from '../../src/workflows/load.ts';
import { FILE, expectIssue, issuesOf, withBuiltinOAuth, withServer } from './helpers.ts';

describe('server.auth.oauth limits: the sign-in limit and the introspection cache', () => {
  it('reads sign_in_limit and introspection cache, 0s included', () => {
    const built = loadConfigFromString(
      withBuiltinOAuth(
        '        sign_in_limit: { attempts: 10, window: 1h }',
        '        users: [{ name: ana, password: "${env:ANA_PW}", scopes: [read] }]',
      ),
      FILE,
    );
    expect(built.server?.auth.oauth?.builtin?.signInLimit).toEqual({ attempts: 10, windowMs: 3_600_000 });
    const ext = loadConfigFromString(
      withServer(
        '  auth:',
        '    oauth:',
        '      issuer: https://login.example.com',
        '      introspection: { url: https://login.example.com/introspect, client_id: il, client_secret: "${env:S}", cache: 0s }',
      ),
      FILE,
    );
    expect(ext.server?.auth.oauth?.introspection).toEqual({
      url: 'https://login.example.com/introspect',
      clientId: 'il',
      clientSecretEnv: 'S',
      cacheMs: 0,
    });
  });

  it('names file, line and column for a bad limit or cache', () => {
    const issues = issuesOf(
      withBuiltinOAuth(
        '        sign_in_limit: { attempts: 0, window: never }',
        '        users: [{ name: ana, password: "${env:ANA_PW}", scopes: [read] }]',
      ),
    );
    expectIssue(issues, 17, 36, /sign_in_limit attempts must be a whole number of at least 1, not 0/);
    expectIssue(issues, 17, 47, /sign_in_limit window has a bad duration "never"/);
    const cache = issuesOf(
      withServer(
        '  auth:',
        '    oauth:',
        '      issuer: https://login.example.com',
        '      introspection: { url: https://login.example.com/i, client_id: il, client_secret: "${env:S}", cache: soon }',
      ),
    );
    expectIssue(cache, 16, 107, /introspection cache has a bad duration "soon"/);
  });
});
