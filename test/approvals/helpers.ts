/**
 * What the Slack approval suites share: the `approvals:` section that posts cards to #billing, and
 * `slackTest`, an app on the emulators whose `interlock serve` server takes the sandbox's signed
 * clicks, with `cardFor` (the card of a confirmation) and `closedCard` (that card once edited).
 */
import type { ConfirmationRecord } from '../../src/runs/records.ts';
import { waitForStatus } from '../helpers/app.ts';
import { appTest } from '../helpers/fixtures.ts';

export interface Card {
  channel: string;
  ts: string;
  text: string;
  blocks?: unknown[];
  edited?: unknown;
}

/** The `approvals:` section: cards to #billing, clicks checked with TEST_SLACK_SIGNING_SECRET, Slack users mapped to names. */
export function slackApprovalsYaml(users: Record<string, string>): string {
  return `
approvals:
  slack:
    channel: "#billing"
    signing_secret: \${env:TEST_SLACK_SIGNING_SECRET}
    users:
${Object.entries(users)
  .map(([id, name]) => `      ${id}: ${name}`)
  .join('\n')}`;
}

/**
 * An app for `yaml` on the emulators, signing secret `secret`; the server starts the workers
 * (sweeping Slack cards every 100 ms) and the Slack sandbox sends its clicks there, signed.
 */
export function slackTest(yaml: string, secret: string) {
  return appTest({
    yaml,
    sandboxes: true,
    workers: false,
    env: { TEST_SLACK_SIGNING_SECRET: secret },
    server: { slackSweepMs: 100 },
  }).extend<{
    /** the card the sandbox holds for a confirmation, once it is posted */
    cardFor: (cid: string) => Promise<Card>;
    /**
     * The card at `ts` once it has been edited (closed), waiting up to 10 s. A click's answer reports
     * the decision, not the card: when the sweep claims the close first (in this or another `serve`),
     * the answer can come back while the sweep's chat.update is still on its way to Slack.
     */
    closedCard: (ts: string) => Promise<Card>;
    /** the confirmation a run waits on */
    pendingOf: (runId: string) => Promise<ConfirmationRecord>;
  }>({
    cardFor: async ({ sandboxes, server }, use) => {
      sandboxes.slack.setInteractivity({ url: `${server.url}/slack/interactions`, signingSecret: secret });
      await use(async (cid) => {
        for (let i = 0; i < 300; i++) {
          const card = sandboxes.slack
            .state()
            .messages.find((m) => m.channel === 'C0BILLING' && JSON.stringify(m.blocks ?? []).includes(cid));
          if (card) return card;
          await new Promise((r) => setTimeout(r, 50));
        }
        throw new Error(`no card for ${cid}`);
      });
    },
    closedCard: async ({ sandboxes }, use) =>
      use(async (ts) => {
        const deadline = Date.now() + 10_000;
        for (;;) {
          const card = sandboxes.slack.state().messages.find((m) => m.ts === ts) as Card | undefined;
          if (card?.edited) return card;
          if (Date.now() > deadline) throw new Error(`the card ${ts} was never closed: ${JSON.stringify(card?.blocks)}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      }),
    pendingOf: async ({ app }, use) =>
      use(async (runId) => {
        const run = await waitForStatus(app, runId, ['awaiting_confirmation']);
        const cid = Object.values(run.steps).find((s) => s.status === 'awaiting_confirmation')?.confirmationId;
        return app.store.requireConfirmation(cid as string);
      }),
  });
}
