import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import Stripe from 'stripe';
import { describe, expect } from 'vitest';
import type { App } from '../../src/app.ts';
import { type StripeSandbox, startStripeSandbox } from '../../src/sandbox/stripe/index.ts';
import { type RunningServer, startServer } from '../../src/server/serve.ts';
import { callLogPath, testConnectorYaml } from '../helpers/app.ts';
import { appTest } from '../helpers/fixtures.ts';
import { launchChromium } from '../helpers/browser.ts';

// Webhooks end to end: the Stripe sandbox signs and sends its events to a real `interlock serve`
// listener, which verifies them with the stripe SDK before anything is parsed and starts one run per
// event id, however often the event arrives.

const STRIPE_SECRET = 'whsec_test_0123456789abcdef';
const HMAC_SECRET = 'hmac-test-secret-4711';
process.env.IL_TEST_WHSEC = STRIPE_SECRET;
process.env.IL_TEST_HMAC = HMAC_SECRET;

const yaml = `
connectors:${testConnectorYaml(callLogPath())}
workflows:
  dispute:
    description: a dispute was opened
    inputs: { type: object, required: [charge], properties: { charge: { type: string }, amount: { type: integer } } }
    triggers:
      - webhook: stripe
        hook: stripe
        secret: "\${env:IL_TEST_WHSEC}"
        events: [charge.dispute.created]
        inputs: { charge: "\${{ event.data.object.charge }}", amount: "\${{ event.data.object.amount }}" }
    steps:
      - { id: say, call: test.echo, with: { text: "\${{ inputs.charge }}" } }
  refunded:
    description: a charge was refunded
    inputs: { type: object, required: [charge], properties: { charge: { type: string } } }
    triggers:
      - webhook: stripe
        hook: stripe
        secret: "\${env:IL_TEST_WHSEC}"
        events: [charge.refunded]
        inputs: { charge: "\${{ event.data.object.id }}" }
    steps:
      - { id: say, call: test.echo, with: { text: "\${{ inputs.charge }}" } }
  deploy:
    description: a push from a generic sender
    inputs: { type: object, required: [ref], properties: { ref: { type: string } } }
    triggers:
      - webhook: hmac
        secret: "\${env:IL_TEST_HMAC}"
        header: X-Signature
        prefix: "sha256="
        timestamp_header: X-Timestamp
        id_header: X-Delivery
        inputs: { ref: "\${{ event.ref }}" }
    steps:
      - { id: say, call: test.echo, with: { text: "\${{ inputs.ref }}" } }
`;

interface Ctx {
  server: RunningServer;
  sandbox: StripeSandbox;
}

const test = appTest({ yaml, workers: false }).extend<{ ctx: Ctx }>({
  ctx: [
    async ({ app }, use) => {
      const server = await startServer(app, { port: 0, workers: false, onNotice: () => {} });
      const sandbox = await startStripeSandbox({
        port: 0,
        webhooks: { endpoints: [{ url: `${server.url}/hooks/stripe`, secret: STRIPE_SECRET }], retryDelaysMs: [300, 1000, 3000] },
      });
      await use({ server, sandbox });
      await sandbox.close();
      await server.close();
    },
    { scope: 'file' },
  ],
});

async function runsOf(app: App, workflow: string) {
  return (await app.store.listRuns({ limit: 100, workflow })).runs;
}

async function sandboxPost(sandbox: StripeSandbox, path: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${sandbox.url}${path}`, { method: 'POST', body: JSON.stringify(body) });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

function post(server: RunningServer, hook: string, body: string, headers: Record<string, string>): Promise<Response> {
  return fetch(`${server.url}/hooks/${hook}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
}

describe('Stripe webhooks', () => {
  test('an event delivered three times (sent, resent, replayed by hand) makes one run', async ({ app, ctx }) => {
    const { sandbox, server } = ctx;
    const dispute = await sandboxPost(sandbox, '/_sandbox/disputes', { charge: 'ch_seed_1' });
    await sandbox.webhooks.idle();
    const event = sandbox.webhooks.events.find((e) => e.type === 'charge.dispute.created');
    expect(event).toBeDefined();
    const id = event?.id ?? '';
    // The dashboard's "resend": the same event, a fresh signature.
    const resent = (await sandboxPost(sandbox, `/_sandbox/events/${id}/resend`, {})) as { deliveries: Array<{ status: number }> };
    expect(resent.deliveries.map((d) => d.status)).toEqual([202]);
    // And someone replaying the captured request by hand, signed again.
    const payload = JSON.stringify(event);
    const replay = await post(server, 'stripe', payload, {
      'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: STRIPE_SECRET }),
    });
    expect(replay.status).toBe(202);
    const answer = (await replay.json()) as { event: { id: string }; runs: Array<{ runId: string; created: boolean }> };
    expect(answer.event.id).toBe(id);
    expect(answer.runs.map((r) => r.created)).toEqual([false]);

    const runs = await runsOf(app, 'dispute');
    expect(runs).toHaveLength(1);
    expect(runs[0].id).toBe(answer.runs[0].runId);
    expect(runs[0].inputs).toEqual({ charge: 'ch_seed_1', amount: dispute.amount });
    // Started by the trigger, never by a person: nobody can approve as it.
    expect(runs[0].owner).toBe('webhook:dispute.1');
    const first = sandbox.webhooks.deliveries.filter((d) => d.event === id);
    expect(first.map((d) => d.status)).toEqual([202, 202]);
    // The event type the other workflow listens for started nothing there.
    expect(await runsOf(app, 'refunded')).toHaveLength(0);
  });

  test('a refund in the sandbox reaches the workflow listening for charge.refunded', async ({ app, ctx }) => {
    const { sandbox } = ctx;
    const res = await fetch(`${sandbox.url}/v1/refunds`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk_test_interlock', 'content-type': 'application/x-www-form-urlencoded' },
      body: 'charge=ch_seed_2',
    });
    expect(res.status).toBe(200);
    await sandbox.webhooks.idle();
    const runs = await runsOf(app, 'refunded');
    expect(runs.map((r) => r.inputs.charge)).toEqual(['ch_seed_2']);
  });

  test('a bad signature is 400 and starts nothing', async ({ app, ctx }) => {
    const { server } = ctx;
    const before = (await app.store.listRuns({ limit: 1000 })).runs.length;
    const payload = JSON.stringify({
      id: 'evt_forged',
      object: 'event',
      type: 'charge.dispute.created',
      data: { object: { charge: 'ch_x' } },
    });
    const attempts: Array<Record<string, string>> = [
      {},
      { 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: 'whsec_someone_else' }) },
      { 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload: `${payload} `, secret: STRIPE_SECRET }) },
      // Signed with the right secret, but long ago: outside the tolerance window.
      {
        'stripe-signature': Stripe.webhooks.generateTestHeaderString({
          payload,
          secret: STRIPE_SECRET,
          timestamp: Math.floor(Date.now() / 1000) - 3600,
        }),
      },
    ];
    for (const headers of attempts) {
      const res = await post(server, 'stripe', payload, headers);
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('SIGNATURE_INVALID');
      expect(body.error.message).not.toContain(STRIPE_SECRET);
    }
    expect((await app.store.listRuns({ limit: 1000 })).runs.length).toBe(before);
  });

  test('a paused trigger answers 503 and the sender’s retry after a resume starts the run', async ({ app, ctx }) => {
    const { sandbox, server } = ctx;
    const admin = (path: string) => fetch(`${server.url}/api/v1/triggers/${path}`, { method: 'POST' });
    expect((await admin('dispute.1/pause')).status).toBe(200);
    const listed = (await (await fetch(`${server.url}/api/v1/triggers`)).json()) as {
      triggers: Array<{ id: string; paused: boolean }>;
    };
    expect(listed.triggers.find((t) => t.id === 'dispute.1')?.paused).toBe(true);

    await sandboxPost(sandbox, '/_sandbox/disputes', { charge: 'ch_seed_3' });
    const event = sandbox.webhooks.events.at(-1);
    for (let i = 0; i < 100 && !sandbox.webhooks.deliveries.some((d) => d.event === event?.id); i++) await sleep(20);
    expect(sandbox.webhooks.deliveries.filter((d) => d.event === event?.id).map((d) => d.status)).toEqual([503]);
    expect((await runsOf(app, 'dispute')).some((r) => r.inputs.charge === 'ch_seed_3')).toBe(false);

    expect((await admin('dispute.1/resume')).status).toBe(200);
    await sandbox.webhooks.idle();
    const statuses = sandbox.webhooks.deliveries.filter((d) => d.event === event?.id).map((d) => d.status);
    expect(statuses.at(-1)).toBe(202);
    expect((await runsOf(app, 'dispute')).filter((r) => r.inputs.charge === 'ch_seed_3')).toHaveLength(1);
  });
});

describe('generic HMAC webhooks', () => {
  const sign = (body: string, ts: number, secret = HMAC_SECRET) =>
    `sha256=${createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}`;

  test('a good signature starts a run once per delivery id; a bad one starts nothing', async ({ app, ctx }) => {
    const { server } = ctx;
    const body = JSON.stringify({ ref: 'refs/heads/main' });
    const ts = Math.floor(Date.now() / 1000);
    const good = { 'x-signature': sign(body, ts), 'x-timestamp': String(ts), 'x-delivery': 'd-1' };
    const first = await post(server, 'deploy', body, good);
    expect(first.status).toBe(202);
    const again = await post(server, 'deploy', body, good);
    expect(again.status).toBe(202);
    expect(((await again.json()) as { runs: Array<{ created: boolean }> }).runs[0].created).toBe(false);
    expect((await runsOf(app, 'deploy')).map((r) => [r.inputs.ref, r.owner])).toEqual([['refs/heads/main', 'webhook:deploy.1']]);

    const bad = [
      { ...good, 'x-delivery': 'd-2', 'x-signature': sign(body, ts, 'wrong') },
      { ...good, 'x-delivery': 'd-3', 'x-signature': sign(`${body} `, ts) },
      { ...good, 'x-delivery': 'd-4', 'x-timestamp': String(ts - 3600), 'x-signature': sign(body, ts - 3600) },
      { 'x-delivery': 'd-5', 'x-timestamp': String(ts) },
      { ...good, 'x-delivery': 'd-6', 'x-signature': 'sha256=00' },
    ];
    for (const headers of bad) {
      const res = await post(server, 'deploy', body, headers);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('SIGNATURE_INVALID');
    }
    expect(await runsOf(app, 'deploy')).toHaveLength(1);
  });

  test('a hook nobody configured is 404', async ({ ctx }) => {
    const res = await post(ctx.server, 'nope', '{}', {});
    expect(res.status).toBe(404);
  });
});

describe('the triggers page', () => {
  test('lists every trigger, and its buttons pause and resume in Chromium', async ({ ctx }) => {
    const { server } = ctx;
    const html = await (await fetch(`${server.url}/ui/triggers`)).text();
    for (const id of ['dispute.1', 'refunded.1', 'deploy.1']) expect(html).toContain(`data-trigger="${id}"`);
    expect(html).toContain('POST /hooks/stripe');
    expect(html).toContain('started by webhook:deploy.1');

    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${server.url}/ui/triggers`);
      const state = page.locator('[data-trigger-state="deploy.1"]');
      await expect.poll(() => state.textContent()).toMatch(/active/);
      await page.locator('tr[data-trigger="deploy.1"] button[data-trigger-action="pause"]').click();
      await expect.poll(() => state.textContent(), { timeout: 10_000 }).toMatch(/paused/);
      expect(await state.textContent()).toMatch(/by local/);
      await page.locator('tr[data-trigger="deploy.1"] button[data-trigger-action="resume"]').click();
      await expect.poll(() => state.textContent(), { timeout: 10_000 }).toMatch(/active/);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
