import { describe, expect } from 'vitest';
import type { App } from '../../src/app.ts';
import { TEST_SERVER, waitForStatus } from '../helpers/app.ts';
import { openApp, test } from '../helpers/fixtures.ts';
import { remoteConnectorYaml } from '../helpers/workflows.ts';

const yaml = (port: number) => `
connectors:${remoteConnectorYaml(port, '5s')}
  local:
    transport: stdio
    command: ${process.execPath}
    args: [${TEST_SERVER}, --stdio]
workflows:
  three:
    description: echo, a slow read, echo — all on the remote server
    inputs: { type: object, required: [once], properties: { once: { type: string } } }
    steps:
      - id: first
        call: remote.echo
        with: { text: one }
      - id: nap
        call: remote.slow
        retry: { attempts: 6, backoff: 200ms }
        with: { ms: 60000, once: "\${{ inputs.once }}" }
      - id: last
        call: remote.echo
        with: { text: "\${{ steps.first.output.text }} done" }
  ping:
    description: one read on the remote server
    inputs: { type: object }
    steps:
      - id: ping
        call: remote.echo
        retry: { attempts: 3, backoff: 100ms }
        with: { text: ping }
  localping:
    description: one read on the local server
    inputs: { type: object }
    steps:
      - id: ping
        call: local.echo
        with: { text: local }
`;

const it = test.extend<{ app: App }>({
  app: [async ({ redis, remote }, use) => openApp(redis, { yaml: yaml(remote.port) }, use), { scope: 'file' }],
});

describe('MCP sessions: a connector server that dies comes back, or fails its steps clearly', () => {
  it('reconnects to a server killed mid-run and restarted (its old session is gone), and the run finishes', async ({
    app,
    remote,
  }) => {
    const { run } = await app.engine.trigger('three', { once: 'restart' });
    while (!remote.server?.calls.some((c) => c.tool === 'slow')) await new Promise((r) => setTimeout(r, 20));
    const sessionsBefore = remote.server.sessionsCreated;
    // A new process on the same port: fresh state, no memory of the old MCP session.
    await remote.stop();
    const server = await remote.start();
    const done = await waitForStatus(app, run.id, ['succeeded', 'failed'], 60_000);
    expect(done.status).toBe('succeeded');
    expect(done.steps.last.output).toEqual({ text: 'one done' });
    expect(done.steps.nap.attempts).toBeGreaterThan(1);
    expect(server.sessionsCreated + sessionsBefore).toBeGreaterThan(sessionsBefore);
    expect(app.pool.status().find((s) => s.id === 'remote')?.connects).toBeGreaterThan(1);
  });

  it('fails a step on a server that stays down after its retries, with a message naming the connector, while other connectors keep working', async ({
    app,
    remote,
  }) => {
    await remote.stop();
    const { run: stuck } = await app.engine.trigger('ping', {});
    const { run: other } = await app.engine.trigger('localping', {});
    const ok = await waitForStatus(app, other.id, ['succeeded', 'failed'], 30_000);
    expect(ok.status).toBe('succeeded');
    const failed = await waitForStatus(app, stuck.id, ['succeeded', 'failed'], 60_000);
    expect(failed.status).toBe('failed');
    expect(failed.steps.ping.attempts).toBe(3);
    expect(failed.error?.code).toBe('CONNECTOR_UNAVAILABLE');
    expect(failed.error?.message).toMatch(/Connector "remote" is unavailable.*gave up after 3 attempts/);
    console.log(`a connector that stays down: ${failed.error?.code}: ${failed.error?.message}`);
    const events = await app.store.readEvents(stuck.id);
    expect(events.filter((e) => e.type === 'step.retrying')).toHaveLength(2);
  });
});
