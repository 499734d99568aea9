import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { App } from '../app.ts';
import { InterlockError, errorMessage } from '../errors.ts';
import { createLogger } from '../logger.ts';
import type { RunRecord } from '../runs/records.ts';
import { REDIS_HINT } from '../runs/redis.ts';
import { startSandboxes, type Sandboxes } from '../sandbox/index.ts';
import { observeCatalog } from '../engine/pins.ts';
import { bold, cyan, dim, formatConfirmation, formatEvent, green, red, yellow } from './format.ts';

interface DemoOptions {
  keepRunning: boolean;
  /**
   * the charge to refund; the Stripe sandbox seeds ch_seed_2 (Grace, $120.00). The default 75.00
   * USD is above what the shipped policy.rules approve by themselves, so the demo shows the gate.
   */
  charge?: string;
  amount?: number;
}

/**
 * Tool pins outlive a demo in `.interlock/`; when the built-in connectors' own code changed their
 * tool definitions since the last demo, the pins would (rightly) stop the run. The demo says so and
 * approves the new definitions of its built-in sandbox connectors, which a real deployment never
 * does by itself.
 */
async function acceptNewBuiltInDefinitions(app: App): Promise<void> {
  for (const id of ['stripe', 'slack']) {
    if (!app.config.connectors[id]) continue;
    await app.pool.listTools(id);
    await observeCatalog(app.pool, app.store.pins, id);
  }
  for (const review of await app.store.pins.changed()) {
    if (!['stripe', 'slack'].includes(review.connector) || !review.pending) continue;
    console.log(
      yellow(
        `   ${review.connector}.${review.tool} changed since the last demo (${review.changes.map((c) => c.field).join(', ')}); approving the new definition for the demo`,
      ),
    );
    await app.engine.approveTool(review.connector, review.tool, review.pending.hash, 'demo');
  }
}

const step = (n: number, text: string) => console.log(`\n${bold(`${n}.`)} ${bold(text)}`);

/**
 * The showcase: sandboxes, a private Redis, workers (and the HTTP server where it exists) in one
 * process tree; refund-and-notify triggered, each write shown as ChatGPT shows an expanded write,
 * approved as the operator, and the outcome read back from the sandboxes.
 */
export async function runDemo(o: DemoOptions): Promise<number> {
  const configFile = resolve(process.env.INTERLOCK_CONFIG ?? 'workflows.yaml');
  if (!existsSync(configFile)) {
    console.error(red(`No ${configFile}: run the demo from the Interlock checkout (npm run demo).`));
    return 1;
  }
  let sandboxes: Sandboxes | undefined;
  let app: App | undefined;
  let server: { url: string; close(): Promise<void> } | undefined;
  try {
    step(1, 'Starting the Stripe and Slack sandboxes (local emulators the official SDKs talk to)');
    // Free ports unless the fixed ones are asked for, so a running `interlock sandbox` does not clash.
    sandboxes = await startSandboxes({ stripePort: o.keepRunning ? 12111 : 0, slackPort: o.keepRunning ? 12112 : 0 });
    Object.assign(process.env, sandboxes.env);
    delete process.env.STRIPE_SECRET_KEY;
    delete process.env.SLACK_BOT_TOKEN;
    console.log(`   Stripe API ${sandboxes.stripe.url} · Slack API ${sandboxes.slack.url}`);

    step(2, 'Connecting to Redis and starting workers');
    try {
      app = await App.create({
        configFile,
        logger: createLogger({ level: process.env.LOG_LEVEL ?? 'warn' }),
        onNotice: (m) => console.log(`   ${m}`),
      });
    } catch (err) {
      if (err instanceof InterlockError && err.code === 'REDIS_UNAVAILABLE') console.error(red(`   ${err.message}`));
      else throw err;
      console.error(`   ${REDIS_HINT}`);
      return 1;
    }
    console.log(`   ${app.redis.describe}`);
    await app.startWorkers();
    await acceptNewBuiltInDefinitions(app);
    try {
      const { startServer } = await import('../server/serve.ts');
      server = await startServer(app, { host: '127.0.0.1', port: o.keepRunning ? Number(process.env.PORT ?? 3000) : 0 });
      console.log(`   server ${server.url}`);
    } catch (err) {
      console.log(dim(`   (HTTP server not started: ${errorMessage(err)})`));
    }

    const charge = o.charge ?? 'ch_seed_2';
    const amount = o.amount ?? 7500;
    step(3, `Triggering refund-and-notify: refund ${amount} cents of ${charge}, then tell the customer in Slack`);
    const { run } = await app.engine.trigger(
      'refund-and-notify',
      { charge, amount, reason: 'requested_by_customer' },
      { session: 'demo' },
    );
    console.log(`   run ${run.id}`);

    const blocking = app.redis.duplicate();
    let final: RunRecord | undefined;
    let n = 4;
    try {
      for (;;) {
        const cur = await app.engine.waitFor(run.id, {
          blocking,
          timeoutMs: 60_000,
          onEvent: (e) => console.log(`   ${formatEvent(e)}`),
        });
        if (cur.status !== 'awaiting_confirmation') {
          final = cur;
          break;
        }
        const cid = Object.values(cur.steps).find((s) => s.status === 'awaiting_confirmation')?.confirmationId;
        const conf = cid ? await app.store.requireConfirmation(cid) : undefined;
        if (!conf) continue;
        step(n++, `The run paused before a write. This is what the approver sees:`);
        console.log(formatConfirmation(conf, server ? { uiUrl: `${server.url}/ui/confirmations/${conf.id}` } : {}));
        console.log(
          cyan(
            `   → Approving as the operator (the demo decides for you; in production a person does, via /ui, the API, the CLI or chat).`,
          ),
        );
        await app.engine.approve(conf.id, conf.argumentsHash, { by: 'demo operator' });
      }
    } finally {
      blocking.disconnect();
    }

    step(n++, `Run ${final.status}`);
    const refund = final.steps.refund?.output as { id?: string; amount?: number; status?: string } | undefined;
    const post = final.steps.notify?.output as { ts?: string; channel?: string } | undefined;
    if (final.status !== 'succeeded') {
      console.error(red(`   ${final.error?.code ?? ''}: ${final.error?.message ?? 'the run did not succeed'}`));
      return 1;
    }
    // Read back from the sandboxes themselves: they are the witnesses, not the run record.
    const stripeState = sandboxes.stripe.state() as unknown as { refunds: Record<string, { charge: string }> };
    const slackState = sandboxes.slack.state() as unknown as { messages: Array<{ ts: string; text: string }> };
    console.log(green(`   refund ${refund?.id} (${refund?.amount} cents, ${refund?.status})`));
    console.log(green(`   Slack message ts ${post?.ts} in ${post?.channel}`));
    const refunds = Object.values(stripeState.refunds).filter((r) => r.charge === charge).length;
    const posted = slackState.messages.filter((m) => m.text.includes(refund?.id ?? '\u0000')).length;
    console.log(
      dim(`   Stripe sandbox: ${refunds} refund(s) on ${charge}; Slack sandbox: ${posted} message(s) naming the refund`),
    );

    if (o.keepRunning && server) {
      console.log(`\nKeeping everything up. Look at:`);
      console.log(`   runs and confirmations  ${server.url}/ui`);
      console.log(`   this run                ${server.url}/ui/runs/${run.id}`);
      console.log(`   queue dashboard         ${server.url}/admin/queues`);
      console.log(`   metrics                 ${server.url}/metrics`);
      console.log(`   Stripe sandbox state    ${sandboxes.stripe.url}/_sandbox/state`);
      console.log('Ctrl-C to stop.');
      await new Promise<void>((r) => {
        process.once('SIGINT', r);
        process.once('SIGTERM', r);
      });
    } else if (o.keepRunning) {
      console.log('\nKeeping workers and sandboxes up; Ctrl-C to stop.');
      await new Promise<void>((r) => {
        process.once('SIGINT', r);
        process.once('SIGTERM', r);
      });
    } else {
      console.log(
        dim(`\nRun it with --keep-running (npm run demo -- --keep-running) to look around in the dashboard and run pages.`),
      );
    }
    return 0;
  } catch (err) {
    console.error(red(`demo failed: ${errorMessage(err)}`));
    return 1;
  } finally {
    // The demo's outcome is decided; a tear-down that fails now (Redis gone at Ctrl-C) changes nothing about it.
    await server?.close().catch(() => {});
    await app?.close().catch(() => {});
    await sandboxes?.close().catch(() => {});
  }
}
