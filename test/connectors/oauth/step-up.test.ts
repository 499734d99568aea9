/**
 * A server that wants more scope than the token carries (403 insufficient_scope, step-up) pauses
 * the run as CONNECTOR_LOGIN_REQUIRED, like a missing login, and the next login asks for the scope
 * the server named; the run continues then. Against oidc-provider (client credentials) and an MCP
 * server that checks the scope of each JWT.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect } from 'vitest';
import type { App } from '../../../src/app.ts';
import { waitForStatus } from '../../helpers/app.ts';
import { oauthServer, openApp, test, withEnv } from '../../helpers/fixtures.ts';
import type { TestOAuthServer } from '../../helpers/oauth-server.ts';
import { whoamiOAuthYaml } from '../../helpers/workflows.ts';

const SECRET = `m2m-${randomBytes(12).toString('hex')}`;

const yaml = (mcpUrl: string) =>
  whoamiOAuthYaml(
    mcpUrl,
    `{ type: oauth, grant: client_credentials, client_id: interlock-m2m, client_secret: "\${env:IL_STEPUP_SECRET}" }`,
  );

const it = test.extend<{ as: TestOAuthServer; app: App }>({
  as: oauthServer({ staticClient: { clientId: 'interlock-m2m', clientSecret: SECRET } }),
  app: [
    async ({ redis, as }, use) =>
      withEnv({ IL_STEPUP_SECRET: SECRET, INTERLOCK_SECRET_KEY: randomBytes(32).toString('base64') }, () =>
        openApp(redis, { yaml: yaml(as.mcpUrl) }, use),
      ),
    { scope: 'file' },
  ],
});

describe('a server asking for more scope', () => {
  it('pauses the run with CONNECTOR_LOGIN_REQUIRED, and the next login gets the scope and resumes it', async ({ app }) => {
    // No scopes configured: the first token carries none, and the server answers 403 insufficient_scope.
    const { run } = await app.engine.trigger('who', {});
    const paused = await waitForStatus(app, run.id, ['needs_attention', 'failed', 'succeeded']);
    expect(paused.status).toBe('needs_attention');
    expect(paused.error?.code).toBe('CONNECTOR_LOGIN_REQUIRED');
    expect(paused.error?.message).toMatch(/asks for scope "tools"/);
    const notes = app.config.connectors.notes;
    expect(await app.oauth.for(notes)?.store.account()).toMatchObject({ status: 'login_required', wantedScopes: ['tools'] });

    const start = await app.oauth.for(notes)?.beginLogin();
    expect(start).toEqual({ kind: 'connected' });
    expect(await app.engine.resumeAfterLogin('notes', 'test')).toEqual([run.id]);
    const done = await waitForStatus(app, run.id, ['succeeded', 'failed', 'needs_attention']);
    expect(done.status).toBe('succeeded');
    expect(done.steps.me.output).toEqual({ sub: 'interlock-m2m' });
    expect(await app.oauth.for(notes)?.store.account()).toMatchObject({ status: 'connected', scopes: ['tools'] });
  });
});
