import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { describe, expect } from 'vitest';
import { createRequestStates } from '../../src/server/mcp/request-state.ts';
import { refunds, sandboxAppTest, shippedWithoutRules } from '../grants/sandbox-app.ts';
import { waitForStatus } from '../helpers/app.ts';
import { serveRoute } from '../server/mcp/helpers.ts';

// The same plan words on MCP 2026-07-28, where a write answers input_required instead of asking the
// client: the form it carries and get_run show the plan, as on the older revisions (gate-words.test.ts).
const it = sandboxAppTest(shippedWithoutRules());

describe('the plan in words on MCP 2026-07-28', () => {
  it('input_required carries the plan with its approve command, and get_run shows it too', async ({ app, sandboxes }) => {
    const route = await serveRoute(app, { states: createRequestStates({ redis: app.redis.client, keys: app.store.keys }) });
    const client = new Client(
      { name: 'client-2026', version: '1.0.0' },
      {
        capabilities: { elicitation: { form: {} } },
        versionNegotiation: { mode: { pin: '2026-07-28' } },
        inputRequired: { autoFulfill: true },
      },
    );
    const asked: string[] = [];
    client.setRequestHandler('elicitation/create', async (req) => {
      asked.push(String(req.params.message));
      return { action: 'decline' };
    });
    try {
      await client.connect(new StreamableHTTPClientTransport(new URL(route.url)));
      const before = refunds(sandboxes).length;
      const r = await client.callTool({
        name: 'run_workflow',
        arguments: { workflow: 'refund-and-notify', inputs: { charge: 'ch_seed_201', amount: 750 } },
      });
      const view = r.structuredContent as { status: string; runId: string };
      // Declined: nothing was sent, and the message the person saw held the plan.
      expect(view.status).toBe('denied');
      expect(refunds(sandboxes)).toHaveLength(before);
      expect(asked).toHaveLength(1);
      expect(asked[0]).toContain('Amount: 7.50 USD');
      expect(asked[0]).toMatch(new RegExp(`npx interlock plan ${view.runId} --approve [0-9a-f]{64}`));

      // A second run left waiting at its gate: get_run answers with its plan.
      const { run } = await app.engine.trigger('refund-and-notify', { charge: 'ch_seed_201', amount: 750 });
      await waitForStatus(app, run.id, ['awaiting_confirmation']);
      const got = await client.callTool({ name: 'get_run', arguments: { runId: run.id } });
      expect((got.structuredContent as { plan?: { writes: number } }).plan?.writes).toBe(2);
      expect(refunds(sandboxes)).toHaveLength(before);
    } finally {
      await client.close();
      await route.close();
    }
  });
});
