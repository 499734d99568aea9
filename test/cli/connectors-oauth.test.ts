/**
 * The command line with an OAuth connector: `interlock doctor` names a run paused for a login and
 * the command that logs in (and repairs a run whose login happened without resuming it);
 * `interlock connectors list` shows the login (who, scopes, expiry) and `connectors tools` lists
 * the tools with the token stored in Redis. No command prints a token. Against oidc-provider
 * (client credentials) and an MCP server that wants the `tools` scope, which the first token lacks.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import type { App } from '../../src/app.ts';
import { ROOT, waitForStatus } from '../helpers/app.ts';
import { oauthServer, openApp, test, withEnv } from '../helpers/fixtures.ts';
import type { TestOAuthServer } from '../helpers/oauth-server.ts';
import { whoamiOAuthYaml } from '../helpers/workflows.ts';

const CLI = join(ROOT, 'src/cli.ts');
const SECRET = `m2m-cli-${randomBytes(12).toString('hex')}`;
const KEY = randomBytes(32).toString('base64');

const yaml = (mcpUrl: string) =>
  whoamiOAuthYaml(
    mcpUrl,
    `{ type: oauth, grant: client_credentials, client_id: interlock-cli-m2m, client_secret: "\${env:IL_CLI_M2M_SECRET}" }`,
  );

/** everything every command printed, for the token check */
const printed: string[] = [];

type Cli = (args: string[]) => Promise<{ status: number | null; stdout: string; stderr: string }>;

const it = test.extend<{ as: TestOAuthServer; app: App; cli: Cli }>({
  as: oauthServer({ staticClient: { clientId: 'interlock-cli-m2m', clientSecret: SECRET } }),
  app: [
    async ({ redis, as }, use) =>
      withEnv({ IL_CLI_M2M_SECRET: SECRET, INTERLOCK_SECRET_KEY: KEY }, () => openApp(redis, { yaml: yaml(as.mcpUrl) }, use)),
    { scope: 'file' },
  ],
  /** The CLI as a child process, without blocking this one (the authorization server lives here). */
  cli: async ({ app, redis }, use) =>
    use(
      (args) =>
        new Promise((resolve, reject) => {
          const child = spawn(process.execPath, [CLI, '--config', app.config.file, ...args], {
            env: {
              ...process.env,
              NO_COLOR: '1',
              REDIS_URL: redis.url,
              INTERLOCK_PREFIX: app.prefix,
              INTERLOCK_SECRET_KEY: KEY,
              IL_CLI_M2M_SECRET: SECRET,
              // the doctor's bound (reconcile interval + 1 s) is short, so a settled pause is seen soon
              INTERLOCK_RECONCILE_EVERY_MS: '200',
            },
          });
          let stdout = '';
          let stderr = '';
          child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
          child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
          const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
          child.once('error', reject);
          child.once('close', (status) => {
            clearTimeout(timer);
            printed.push(stdout, stderr);
            resolve({ status, stdout, stderr });
          });
        }),
    ),
});

describe('the command line with an OAuth connector', () => {
  let pausedId = '';

  it('doctor lists a run paused for a login, with the command that logs in', async ({ app, cli, as }) => {
    const { run } = await app.engine.trigger('who', {});
    const paused = await waitForStatus(app, run.id, ['needs_attention', 'failed', 'succeeded']);
    expect(paused.error?.code).toBe('CONNECTOR_LOGIN_REQUIRED');
    pausedId = run.id;

    const r = await cli(['doctor']);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(
      `${run.id} step me  connector_login_required: step me waits for connector "notes" to be logged in`,
    );
    expect(r.stdout).toContain('run `interlock connectors login notes`');
    expect(r.stdout).toContain('needs a person');
    const json = JSON.parse((await cli(['doctor', '--json'])).stdout) as { findings: Array<{ runId: string; kind: string }> };
    expect(json.findings).toContainEqual(expect.objectContaining({ runId: run.id, kind: 'connector_login_required' }));
  });

  it('connectors list shows that the connector needs a login and how to do it', async ({ cli }) => {
    const r = await cli(['connectors', 'list']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^notes {2}streamable-http {2}unreachable: .*needs a login/m);
    expect(r.stdout).toMatch(
      /^ {2}oauth \(client_credentials\): login required \(.*"tools".*\) — run: interlock connectors login notes$/m,
    );
  });

  it('doctor repairs a run whose connector was logged in without resuming it', async ({ app, cli, as }) => {
    // A login that lands without the resume (a process that died right after it).
    expect(await app.oauth.for(app.config.connectors.notes)?.beginLogin()).toEqual({ kind: 'connected' });
    let kinds: string[] = [];
    await expect
      .poll(
        async () => {
          const d = JSON.parse((await cli(['doctor', '--json'])).stdout) as { findings: Array<{ runId: string; kind: string }> };
          kinds = d.findings.filter((f) => f.runId === pausedId).map((f) => f.kind);
          return kinds;
        },
        { timeout: 60_000, interval: 500 },
      )
      .toEqual(['blocked_login_done']);
    const r = await cli(['doctor', '--repair']);
    expect(r.stdout).toContain(`${pausedId} step me  blocked_login_done`);
    expect(r.stdout).toMatch(/repaired: unblocked and enqueued /);
    const done = await waitForStatus(app, pausedId, ['succeeded', 'failed', 'needs_attention']);
    expect(done.status).toBe('succeeded');
    expect(done.steps.me.output).toEqual({ sub: 'interlock-cli-m2m' });
    expect((await cli(['doctor'])).stdout).toMatch(/nothing stuck/);
  });

  it('connectors list shows the login, and connectors tools uses the stored token', async ({ cli, as }) => {
    const list = await cli(['connectors', 'list']);
    expect(list.status).toBe(0);
    expect(list.stdout).toMatch(/^notes {2}streamable-http {2}2 tools \(1 writes\)$/m);
    expect(list.stdout).toMatch(/^ {2}oauth \(client_credentials\): connected — scopes: tools, token expires in \d+ min$/m);

    const grantsBefore = as.grants.client_credentials ?? 0;
    const tools = await cli(['connectors', 'tools', 'notes']);
    expect(tools.status).toBe(0);
    expect(tools.stdout).toMatch(/^read {3}notes\.whoami$/m);
    expect(tools.stdout).toMatch(/^write {2}notes\.add_note$/m);
    // The token in Redis did: no new one was asked for.
    expect(as.grants.client_credentials ?? 0).toBe(grantsBefore);
    expect(as.calls.length).toBeGreaterThan(0);
  });

  it('validate leaves an OAuth connector’s tools to the commands that have its login, and says so', async ({ cli }) => {
    const r = await cli(['validate']);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain(
      "warning: connector 'notes' uses OAuth, so its tools are not checked here; `interlock connectors tools notes` lists them with its login",
    );
    expect(r.stdout).toContain('1 workflow, 1 connectors — valid');
  });

  it('printed no token and no client secret', ({ as }) => {
    expect(as.seen.length).toBeGreaterThan(0);
    const all = printed.join('\n');
    expect(all.length).toBeGreaterThan(500);
    for (const secret of [...as.seen, SECRET]) expect(all).not.toContain(secret);
  });
});
