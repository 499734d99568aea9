/**
 * The Stripe connector's tools, run once per MCP transport: each test file says how to start the
 * connector against a sandbox and connect a real MCP Client to it. The sandbox state is the
 * witness for what the tools did.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect } from 'vitest';
import { IDEMPOTENCY_META_KEY } from '../../../src/connectors/types.ts';
import type { SandboxRefund } from '../../../src/sandbox/stripe/types.ts';
import { test } from '../../helpers/fixtures.ts';

export interface Connected {
  client: Client;
  close(): Promise<void>;
}

export type Connect = (opts: { apiUrl: string }) => Promise<Connected>;

const READS = ['get_balance', 'list_charges', 'retrieve_charge', 'search_customers'];
const WRITES = ['create_customer', 'create_invoice', 'create_invoice_item', 'create_refund', 'finalize_invoice'];

type Call = (name: string, args: Record<string, unknown>, key?: string) => Promise<CallToolResult>;

const text = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
const out = (r: CallToolResult) => {
  expect(r.isError, text(r)).toBeFalsy();
  return r.structuredContent as Record<string, unknown>;
};

/**
 * `conn`: the connector `connect` starts on the file's Stripe emulator, with a client; `call`
 * calls one of its tools (with an idempotency key when given); `refundsOf` reads the emulator's
 * refunds of a charge. Every test starts from the emulator's seeded state.
 */
function toolTest(connect: Connect) {
  return test.extend<{ conn: Connected; fresh: undefined; call: Call; refundsOf: (charge: string) => SandboxRefund[] }>({
    conn: [
      async ({ stripe }, use) => {
        const conn = await connect({ apiUrl: stripe.url });
        try {
          await use(conn);
        } finally {
          await conn.close();
        }
      },
      { scope: 'file' },
    ],
    fresh: [
      async ({ stripe }, use) => {
        stripe.reset();
        await use(undefined);
      },
      { auto: true },
    ],
    call: async ({ conn }, use) =>
      use(
        async (name, args, key) =>
          (await conn.client.callTool({
            name,
            arguments: args,
            ...(key ? { _meta: { [IDEMPOTENCY_META_KEY]: key } } : {}),
          })) as CallToolResult,
      ),
    refundsOf: async ({ stripe }, use) =>
      use((charge) => Object.values(stripe.state().refunds).filter((r) => r.charge === charge)),
  });
}

export function defineToolSuite(transport: string, connect: Connect): void {
  const it = toolTest(connect);
  describe(`Stripe connector over ${transport}`, () => {
    it('lists nine tools with titles, described inputs, output schemas and honest annotations', async ({ conn }) => {
      const { tools } = await conn.client.listTools();
      const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
      expect(Object.keys(byName).sort()).toEqual([...READS, ...WRITES].sort());
      for (const t of tools) {
        expect(t.title, t.name).toBeTruthy();
        expect(t.description?.length, t.name).toBeGreaterThan(60);
        expect(t.outputSchema?.type, t.name).toBe('object');
        for (const [prop, schema] of Object.entries(t.inputSchema.properties ?? {})) {
          expect((schema as { description?: string }).description, `${t.name}.${prop}`).toBeTruthy();
        }
      }
      for (const r of READS) expect(byName[r]?.annotations, r).toMatchObject({ readOnlyHint: true });
      for (const w of WRITES) expect(byName[w]?.annotations, w).toMatchObject({ readOnlyHint: false, idempotentHint: true });
      expect(byName.create_refund?.annotations?.destructiveHint).toBe(true);
      for (const w of WRITES.filter((n) => n !== 'create_refund')) expect(byName[w]?.annotations?.destructiveHint, w).toBe(false);
    });

    it('get_balance reports available and pending funds', async ({ call }) => {
      const res = await call('get_balance', {});
      expect(out(res)).toEqual({
        available: [{ amount: 317_000, currency: 'usd' }],
        pending: [{ amount: 0, currency: 'usd' }],
        livemode: false,
      });
      expect(text(res)).toContain('$3,170.00 available');
    });

    it("retrieve_charge includes the customer's email and Slack channel", async ({ call }) => {
      const res = await call('retrieve_charge', { charge_id: 'ch_seed_1' });
      expect(out(res)).toMatchObject({
        id: 'ch_seed_1',
        amount: 5000,
        amount_refunded: 0,
        amount_refundable: 5000,
        currency: 'usd',
        refunded: false,
        customer: 'cus_seed_ada',
        customer_email: 'ada@example.com',
        customer_slack_channel: 'C0CUST001',
      });
      const missing = await call('retrieve_charge', { charge_id: 'ch_nope' });
      expect(missing.isError).toBe(true);
      expect(text(missing)).toContain("No such charge: 'ch_nope'");
      expect(text(missing)).toContain('resource_missing');
      const malformed = await call('retrieve_charge', { charge_id: 'ch_1/refunds' });
      expect(malformed.isError).toBe(true);
    });

    it('list_charges pages through one customer with a cursor', async ({ call }) => {
      const first = out(await call('list_charges', { customer_id: 'cus_seed_grace', limit: 2 }));
      const charges = first.charges as { id: string; customer_slack_channel: string | null }[];
      expect(charges.map((c) => c.id)).toEqual(['ch_seed_399', 'ch_seed_397']);
      expect(charges[0]?.customer_slack_channel).toBe('C0CUST002');
      expect(first).toMatchObject({ has_more: true, next_starting_after: 'ch_seed_397' });
      const next = out(await call('list_charges', { customer_id: 'cus_seed_grace', limit: 2, starting_after: 'ch_seed_397' }));
      expect((next.charges as { id: string }[]).map((c) => c.id)).toEqual(['ch_seed_395', 'ch_seed_393']);
      const tooMany = await call('list_charges', { limit: 500 });
      expect(tooMany.isError).toBe(true);
    });

    it('search_customers finds by email or name and says when nothing matches', async ({ call }) => {
      const byEmail = out(await call('search_customers', { email: 'GRACE@example.com' }));
      expect(byEmail.customers).toEqual([expect.objectContaining({ id: 'cus_seed_grace', slack_channel: 'C0CUST002' })]);
      const byName = out(await call('search_customers', { name: 'Ada Lovelace' }));
      expect((byName.customers as { id: string }[]).map((c) => c.id)).toEqual(['cus_seed_ada']);
      const none = await call('search_customers', { email: "o'brien@example.com" });
      expect(out(none).customers).toEqual([]);
      expect((await call('search_customers', {})).isError).toBe(true);
    });

    it('create_customer stores the Slack channel and dedupes on the idempotency key', async ({ call, stripe }) => {
      const args = { email: 'linus@example.com', name: 'Linus', slack_channel: 'C0CUST009' };
      const a = out(await call('create_customer', args, 'run-1:step-new-customer'));
      expect(a).toMatchObject({ email: 'linus@example.com', slack_channel: 'C0CUST009', idempotent_replayed: false });
      const b = out(await call('create_customer', args, 'run-1:step-new-customer'));
      expect(b).toMatchObject({ id: a.id, idempotent_replayed: true });
      expect(Object.values(stripe.state().customers).filter((c) => c.email === 'linus@example.com')).toHaveLength(1);
      expect((await call('create_customer', { email: 'not-an-email' })).isError).toBe(true);
    });

    it('invoice flow: items, draft invoice collecting them, finalize to open with a hosted URL', async ({ call, stripe }) => {
      const item = out(
        await call('create_invoice_item', { customer_id: 'cus_seed_ada', amount: 4200, description: 'Consulting' }, 'r2:s1'),
      );
      expect(item).toMatchObject({ amount: 4200, currency: 'usd', invoice: null });
      out(
        await call(
          'create_invoice_item',
          { customer_id: 'cus_seed_ada', amount: 800, currency: 'USD', description: 'Travel' },
          'r2:s2',
        ),
      );
      const draft = out(await call('create_invoice', { customer_id: 'cus_seed_ada', description: 'May work' }, 'r2:s3'));
      expect(draft).toMatchObject({
        status: 'draft',
        amount_due: 5000,
        collection_method: 'send_invoice',
        number: null,
        hosted_invoice_url: null,
      });
      expect(draft.lines).toHaveLength(2);
      const open = out(await call('finalize_invoice', { invoice_id: draft.id }, 'r2:s4'));
      expect(open).toMatchObject({
        id: draft.id,
        status: 'open',
        amount_due: 5000,
        hosted_invoice_url: `${stripe.url}/_sandbox/invoices/${String(draft.id)}`,
      });
      expect(open.number).toMatch(/-0001$/);
      // Interlock retrying the finalize step with its key gets the same answer, not "already finalized".
      const retried = out(await call('finalize_invoice', { invoice_id: draft.id }, 'r2:s4'));
      expect(retried).toMatchObject({ number: open.number, idempotent_replayed: true });
      const fresh = await call('finalize_invoice', { invoice_id: draft.id });
      expect(fresh.isError).toBe(true);
      expect(text(fresh)).toContain('invoice_not_editable');
      expect(Object.values(stripe.state().invoices)).toHaveLength(1);
      const bad = await call('create_invoice_item', { customer_id: 'cus_nobody', amount: 100, description: 'x' });
      expect(text(bad)).toContain("No such customer: 'cus_nobody'");
    });

    it('create_refund refunds once per idempotency key, however often the call is delivered', async ({
      call,
      refundsOf,
      stripe,
    }) => {
      const args = { charge_id: 'ch_seed_2', amount: 3000, reason: 'requested_by_customer' };
      const first = out(await call('create_refund', args, 'run-9:step-refund'));
      expect(first).toMatchObject({
        amount: 3000,
        currency: 'usd',
        charge: 'ch_seed_2',
        status: 'succeeded',
        idempotent_replayed: false,
      });
      expect(first.id).toMatch(/^re_/);
      const second = out(await call('create_refund', args, 'run-9:step-refund'));
      expect(second).toMatchObject({ id: first.id, idempotent_replayed: true });
      expect(refundsOf('ch_seed_2')).toHaveLength(1);
      expect(stripe.state().charges.ch_seed_2?.amount_refunded).toBe(3000);
      // Without a key every call is a new request: the key is what makes the write idempotent.
      out(await call('create_refund', { charge_id: 'ch_seed_2', amount: 100 }));
      out(await call('create_refund', { charge_id: 'ch_seed_2', amount: 100 }));
      expect(refundsOf('ch_seed_2')).toHaveLength(3);
    });

    it('create_refund survives a lost answer: retried with the same key, still one refund', { timeout: 30_000 }, async ({
      call,
      refundsOf,
      stripe,
    }) => {
      // Every attempt the SDK makes is carried out (once) and then its connection dropped.
      stripe.failNext({ drop: 'after_commit', path: '/v1/refunds', count: 3 });
      const lost = await call('create_refund', { charge_id: 'ch_seed_1' }, 'run-7:step-2');
      expect(lost.isError).toBe(true);
      expect(text(lost)).toMatch(/connection to Stripe failed.*same idempotency key is safe/s);
      expect(refundsOf('ch_seed_1')).toHaveLength(1);
      const retried = out(await call('create_refund', { charge_id: 'ch_seed_1' }, 'run-7:step-2'));
      expect(retried).toMatchObject({ amount: 5000, idempotent_replayed: true });
      expect(refundsOf('ch_seed_1').map((r) => r.id)).toEqual([retried.id]);
      expect(stripe.state().balance.available.usd).toBe(317_000 - 5000);
    });

    it('create_refund reports Stripe refusals with their codes', async ({ call, refundsOf }) => {
      const done = await call('create_refund', { charge_id: 'ch_seed_3' });
      expect(done.isError).toBe(true);
      expect(text(done)).toContain('charge_already_refunded');
      expect(text(done)).toContain('Charge ch_seed_3 has already been refunded');
      const tooMuch = await call('create_refund', { charge_id: 'ch_seed_1', amount: 6000 });
      expect(tooMuch.isError).toBe(true);
      expect(text(tooMuch)).toMatch(/amount_too_large.*param: amount/);
      expect(text(tooMuch)).toContain('greater than unrefunded amount');
      const missing = await call('create_refund', { charge_id: 'ch_gone' });
      expect(text(missing)).toContain("No such charge: 'ch_gone'");
      expect(text(missing)).toContain('resource_missing');
      expect((await call('create_refund', {})).isError).toBe(true);
      expect((await call('create_refund', { charge_id: 'ch_seed_1', payment_intent_id: 'pi_seed_1' })).isError).toBe(true);
      expect(refundsOf('ch_seed_1')).toHaveLength(0);
      const byIntent = out(await call('create_refund', { payment_intent_id: 'pi_seed_1', amount: 500 }));
      expect(byIntent).toMatchObject({ charge: 'ch_seed_1', amount: 500 });
    });
  });
}
