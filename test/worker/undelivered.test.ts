import { describe, expect } from 'vitest';
import type { App } from '../../src/app.ts';
import { waitForStatus } from '../helpers/app.ts';
import { openApp, test } from '../helpers/fixtures.ts';
import { remoteConnectorYaml } from '../helpers/workflows.ts';

// `send` is a plain write (not idempotent). With its server down, the request cannot reach it: the
// connection is refused before anything is sent, so the step is retried rather than left in doubt.
const sendWorkflow = (name: string, attempts: number, backoff: string) => `
  ${name}:
    description: send one message, tried up to ${attempts} times
    inputs: { type: object, required: [to], properties: { to: { type: string } } }
    steps:
      - id: send
        call: remote.send
        confirm: never
        retry: { attempts: ${attempts}, backoff: ${backoff} }
        with: { to: "\${{ inputs.to }}", text: hello }`;
const yaml = (port: number) => `
connectors:${remoteConnectorYaml(port, '5s')}
policy:
  allow_unconfirmed: [remote.send]
workflows:${sendWorkflow('notify', 8, '300ms')}${sendWorkflow('notify_once', 2, '100ms')}
`;

const it = test.extend<{ app: App }>({
  app: [
    async ({ redis, remote }, use) =>
      openApp(redis, { yaml: yaml(remote.port) }, async (app) => {
        // The catalog is loaded while the server is up, so the step gets as far as sending.
        await app.pool.listTools('remote');
        await use(app);
      }),
    { scope: 'file' },
  ],
});

describe('a write whose request never reached the server', () => {
  async function retried(app: App, runId: string): Promise<void> {
    for (;;) {
      const events = await app.store.readEvents(runId);
      if (events.some((e) => e.type === 'step.retrying' && e.stepId === 'send')) return;
      // Put in doubt instead: stop waiting, the assertion below says so.
      if ((await app.store.getRun(runId))?.status === 'needs_attention') return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('is retried with the same idempotency key when the server comes back, and sent once', async ({ app, remote }) => {
    await remote.stop();
    const { run } = await app.engine.trigger('notify', { to: 'back@example.com' });
    await retried(app, run.id);
    const mid = await app.store.getRun(run.id);
    expect(mid?.steps.send.status).not.toBe('in_doubt');
    const server = await remote.start();
    const done = await waitForStatus(app, run.id, ['succeeded', 'failed', 'needs_attention'], 60_000);
    expect(done.status).toBe('succeeded');
    expect(done.steps.send.status).toBe('succeeded');
    expect(done.steps.send.attempts).toBeGreaterThan(1);
    const sends = server.calls.filter((c) => c.tool === 'send');
    expect(sends).toHaveLength(1);
  }, 90_000);

  it('fails cleanly, not in doubt, when the server stays down through every attempt', async ({ app, remote }) => {
    await app.pool.listTools('remote');
    await remote.stop();
    const { run } = await app.engine.trigger('notify_once', { to: 'gone@example.com' });
    const done = await waitForStatus(app, run.id, ['succeeded', 'failed', 'needs_attention'], 60_000);
    expect(done.status).toBe('failed');
    expect(done.steps.send.status).toBe('failed');
    expect(done.steps.send.error?.code).toBe('CONNECTOR_UNAVAILABLE');
    expect(done.steps.send.error?.message).toContain('gave up after 2 attempts');
  }, 90_000);
});
