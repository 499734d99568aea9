import { describe, expect, it } from 'vitest';
import type { ToolInfo } from '../../src/connectors/types.ts';
import { loadConfigFromString } from '../../src/workflows/load.ts';
import { validateAgainstCatalog } from '../../src/workflows/validate.ts';
import { FILE, yaml } from './helpers.ts';

const tool = (
  connector: string,
  name: string,
  write: boolean,
  inputSchema: Record<string, unknown> = { type: 'object' },
): ToolInfo => ({
  connector,
  name,
  inputSchema,
  annotations: write ? {} : { readOnlyHint: true },
  write,
  idempotent: false,
});

const CATALOG: ToolInfo[] = [
  tool('stripe', 'retrieve_charge', false),
  tool('stripe', 'create_refund', true, {
    type: 'object',
    required: ['charge'],
    additionalProperties: false,
    properties: { charge: {}, amount: {} },
  }),
  tool('slack', 'post_message', true),
];
const lookup = async (connector: string, name: string) => CATALOG.find((t) => t.connector === connector && t.name === name);

function config(policy: string[], ...steps: string[]) {
  return loadConfigFromString(
    yaml(
      'connectors:', // 1
      '  stripe: {command: interlock}', // 2
      '  slack: {url: "http://127.0.0.1:1/mcp"}', // 3
      ...policy, // 4..
      'workflows:',
      '  refund-and-notify:',
      '    description: d',
      '    steps:',
      ...steps,
    ),
    FILE,
  );
}

const refund = ['      - id: refund', '        call: stripe.create_refund', '        with: {charge: ch_1}'];

describe('validateAgainstCatalog', () => {
  it('passes a config whose tools all exist', async () => {
    expect(
      await validateAgainstCatalog(config([], ...refund, '      - id: get', '        call: stripe.retrieve_charge'), lookup),
    ).toEqual([]);
  });

  it('reports an unknown tool at its call, with a suggestion when the tool list is at hand', async () => {
    const c = config([], '      - id: get', '        call: stripe.retreive_charge'); // call on line 9
    const issues = await validateAgainstCatalog(c, lookup, {
      listTools: async (id) => CATALOG.filter((t) => t.connector === id).map((t) => t.name),
    });
    expect(issues).toEqual([
      {
        file: FILE,
        line: 9,
        col: 9,
        path: 'workflows.refund-and-notify.steps[0].call',
        message: `connector 'stripe' has no tool "retreive_charge" (did you mean "retrieve_charge"?)`,
      },
    ]);
  });

  it('refuses confirm: never on a write that the policy does not name, and says how to opt in', async () => {
    const c = config([], ...refund, '        confirm: never'); // confirm on line 11
    const issues = await validateAgainstCatalog(c, lookup);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ line: 11, col: 9, path: 'workflows.refund-and-notify.steps[0].confirm' });
    expect(issues[0].message).toMatch(/stripe.create_refund, which is a write .* with confirm: never/);
    expect(issues[0].message).toContain(
      'add "refund-and-notify.refund" (this step) or "stripe.create_refund" (every call of the tool) to policy.allow_unconfirmed',
    );
  });

  it('accepts confirm: never on a write that the policy names, by tool or by step', async () => {
    for (const name of ['stripe.create_refund', 'refund-and-notify.refund']) {
      const c = config(['policy:', `  allow_unconfirmed: [${name}]`], ...refund, '        confirm: never');
      expect(await validateAgainstCatalog(c, lookup)).toEqual([]);
    }
  });

  it('accepts confirm: never on a read', async () => {
    expect(
      await validateAgainstCatalog(
        config([], '      - id: get', '        call: stripe.retrieve_charge', '        confirm: never'),
        lookup,
      ),
    ).toEqual([]);
  });

  it('reports a required argument that with does not pass, and one the tool does not take', async () => {
    const c = config([], '      - id: refund', '        call: stripe.create_refund', '        with: {amont: 5}'); // with on line 10
    const issues = await validateAgainstCatalog(c, lookup);
    expect(issues.map((i) => `${i.line}:${i.col} ${i.message}`)).toEqual([
      '10:9 stripe.create_refund needs argument "charge", which step "refund" does not pass in with',
      '10:9 stripe.create_refund takes no argument "amont" (did you mean "amount"?)',
    ]);
  });

  it('reports a connector that cannot be asked, once per tool', async () => {
    let calls = 0;
    const c = config([], ...refund, '      - id: again', '        call: stripe.create_refund', '        with: {charge: ch_2}');
    const issues = await validateAgainstCatalog(c, async () => {
      calls++;
      throw new Error('connection refused');
    });
    expect(calls).toBe(1);
    expect(issues.map((i) => i.line)).toEqual([9, 12]);
    expect(issues[0].message).toMatch(
      /cannot check stripe.create_refund: connector 'stripe' did not answer \(connection refused\)/,
    );
  });
});
