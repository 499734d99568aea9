/**
 * The workflows the suites share, written once and named, so a suite's config lists what it runs
 * (`configYaml({ connectors, workflows: [LOOK_WORKFLOW, payWorkflow()] })`) instead of spelling it out.
 */

/** `look`: one read, the smallest workflow that runs a step. */
export const LOOK_WORKFLOW = `
  look:
    description: one read
    inputs: { type: object, required: [name], properties: { name: { type: string } } }
    steps:
      - id: say
        call: test.echo
        with: { text: "\${{ inputs.name }}" }`;

export interface PayOptions {
  /**
   * Without: `pay { name }` records `{ name, value: <looked-up name> }`. With: `pay { name, amount }`
   * is exposed to chat clients and HTTP, validates strictly, and records `{ name, value: { amount[, currency] } }`.
   */
  amount?: { currency?: string; description?: string };
}

/** `pay`: a read feeding a gated write, the smallest workflow that pauses. */
export function payWorkflow(opts: PayOptions = {}): string {
  const amount = opts.amount;
  const currency = amount?.currency ? `, currency: ${amount.currency}` : '';
  const head = amount
    ? `
    description: ${amount.description ?? 'a read, then a gated write'}
    expose: true
    inputs:
      type: object
      required: [name, amount]
      additionalProperties: false
      properties: { name: { type: string, minLength: 1 }, amount: { type: integer, minimum: 1 } }`
    : `
    description: a read, then a gated write
    inputs: { type: object, required: [name], properties: { name: { type: string } } }`;
  const written = amount
    ? `{ name: "\${{ steps.look.output.text }}", value: { amount: "\${{ inputs.amount }}"${currency} } }`
    : `{ name: "\${{ inputs.name }}", value: "\${{ steps.look.output.text }}" }`;
  return `
  pay:${head}
    steps:
      - id: look
        call: test.echo
        with: { text: "\${{ inputs.name }}" }
      - id: write
        call: test.record
        with: ${written}`;
}

/** The default `pay`, as most suites use it. */
export const PAY_WORKFLOW = payWorkflow();

/**
 * A whole workflows.yaml: `connectors` is YAML text for the entries under `connectors:` (e.g.
 * testConnectorYaml(log)), `workflows` the named workflows, `extra` any top-level sections
 * (policy, tokens, …) as text.
 */
export function configYaml(opts: { connectors: string; workflows: string[]; extra?: string }): string {
  return `
connectors:${opts.connectors}
${opts.extra ?? ''}
workflows:${opts.workflows.join('')}
`;
}

/**
 * `notify`: `send` ignores idempotency keys; with hangOnce its first answer never comes in time, so
 * the step times out after the message may have gone: the textbook write in doubt. Needs
 * `allow_unconfirmed: [test.send]` in the policy.
 */
export const NOTIFY_IN_DOUBT_WORKFLOW = `
  notify:
    description: send a message (its first answer is lost), then echo what the server answered
    inputs: { type: object, required: [to], properties: { to: { type: string } } }
    steps:
      - id: send
        call: test.send
        confirm: never
        timeout: 300ms
        with: { to: "\${{ inputs.to }}", text: hello, hangOnce: true, delayMs: 30000 }
      - id: after
        call: test.echo
        with: { text: "sent #\${{ steps.send.output.sent }}" }`;

/**
 * A built-in connector as the shipped workflows.yaml runs it (`interlock connector stripe|slack`, a
 * child over stdio against the emulator its environment names), as an entry under `connectors:`;
 * `extra` adds settings lines (`'\n    concurrency: 8'`).
 */
export function builtinConnectorYaml(id: 'stripe' | 'slack', timeout: string, extra = ''): string {
  return `
  ${id}:
    transport: stdio
    command: interlock
    args: [connector, ${id}]
    timeout: ${timeout}${extra}`;
}

/**
 * The `remote` fixture's MCP server as the connector `remote`: streamable HTTP on its fixed port, so
 * the URL holds when a test stops the server and starts it again.
 */
export function remoteConnectorYaml(port: number, timeout: string): string {
  return `
  remote:
    transport: streamable-http
    url: http://127.0.0.1:${port}/mcp
    timeout: ${timeout}`;
}

/**
 * A `notes` connector at `mcpUrl` (the test OAuth server's MCP server) signing in with `auth` (the
 * connector's `auth:` value), and `who`, which asks it whose token it got.
 */
export function whoamiOAuthYaml(mcpUrl: string, auth: string): string {
  return `
connectors:
  notes:
    transport: streamable-http
    url: ${mcpUrl}
    auth: ${auth}
workflows:
  who:
    description: asks the server whose token it got
    inputs: { type: object }
    steps:
      - id: me
        call: notes.whoami
        with: {}
`;
}

/** The inputs of a refund workflow: which charge, and how much of it (in cents). */
export const REFUND_INPUTS =
  '{ type: object, required: [charge, amount], properties: { charge: { type: string }, amount: { type: integer } } }';

export interface RefundStepsOptions {
  /** Spaces before each `- id:` (6 for a workflow's steps, 10 inside a loop under them). */
  indent?: number;
  /** The expression naming the charge (default `inputs.charge`). */
  charge?: string;
  /** The expression for the amount (default `inputs.amount`). */
  amount?: string;
  /** A fixed amount in cents instead of the `amount` expression. */
  cents?: number;
  /** More fields for the refund's `with`, as flow YAML (`metadata: { … }`). */
  more?: string;
  /** Settings of the refund step, one a line (`confirm: never`, `retry: { attempts: 5 }`). */
  settings?: string[];
}

/** The inputs of a refund workflow of a fixed amount: which charge. */
export const CHARGE_INPUTS = '{ type: object, required: [charge], properties: { charge: { type: string } } }';

/**
 * A refund on the Stripe connector in two steps: `charge` looks the charge up (a read), `refund`
 * refunds the amount from the charge it found (the gated write).
 */
export function refundSteps(opts: RefundStepsOptions = {}): string {
  const pad = ' '.repeat(opts.indent ?? 6);
  const more = opts.more ? `, ${opts.more}` : '';
  const amount = opts.cents ?? `"\${{ ${opts.amount ?? 'inputs.amount'} }}"`;
  const settings = (opts.settings ?? []).map((line) => `\n${pad}  ${line}`).join('');
  return `
${pad}- id: charge
${pad}  call: stripe.retrieve_charge
${pad}  with: { charge_id: "\${{ ${opts.charge ?? 'inputs.charge'} }}" }
${pad}- id: refund
${pad}  call: stripe.create_refund${settings}
${pad}  with: { charge_id: "\${{ steps.charge.output.id }}", amount: ${amount}${more} }`;
}

/**
 * A workflow `name` that runs refundSteps(`opts`), then the steps `after` (YAML text at the same
 * indent); its inputs are REFUND_INPUTS unless `opts.inputs` names a schema of its own.
 */
export function refundWorkflow(
  name: string,
  description: string,
  after = '',
  opts: RefundStepsOptions & { inputs?: string } = {},
): string {
  return `
  ${name}:
    description: ${description}
    inputs: ${opts.inputs ?? REFUND_INPUTS}
    steps:${refundSteps(opts)}${after}`;
}

/** `refund-one { charge }`: one gated write, a full refund of the charge, no lookup. */
export const REFUND_ONE_WORKFLOW = `
  refund-one:
    description: refund one charge
    inputs: { type: object, required: [charge], properties: { charge: { type: string } } }
    steps:
      - id: refund
        call: stripe.create_refund
        with: { charge_id: "\${{ inputs.charge }}" }`;

/**
 * `parent { charge }`: starts REFUND_ONE_WORKFLOW as a child run from its step `child`, then the
 * steps `after` (YAML text at a step's indent).
 */
export function parentWorkflow(after = ''): string {
  return `
  parent:
    description: start refund-one as a child
    inputs: { type: object, required: [charge], properties: { charge: { type: string } } }
    steps:
      - id: child
        workflow: refund-one
        with: { charge: "\${{ inputs.charge }}" }${after}`;
}

/** `nap`: sleeps `sleep` (a duration), then reads the Stripe balance. */
export function napWorkflow(sleep: string): string {
  return `
  nap:
    description: sleep ${sleep}, then look at the balance
    steps:
      - { id: wait, sleep: ${sleep} }
      - { id: after, call: stripe.get_balance }`;
}

/**
 * A step `id` posting `text` to `channel` through the Slack connector (each a double-quoted YAML
 * scalar, templates allowed), its `- id:` at `indent` spaces.
 */
export function postStep(id: string, channel: string, text: string, indent = 6): string {
  const pad = ' '.repeat(indent);
  return `
${pad}- id: ${id}
${pad}  call: slack.post_message
${pad}  with: { channel: "${channel}", text: "${text}" }`;
}

export interface ForeachOptions {
  /** the workflow's one input, an array the loop goes over */
  input: string;
  /** the loop step's id */
  id: string;
  /** the name an item has in the loop's templates */
  as: string;
  concurrency: number;
  /** what each item does: `call:`/`with:` lines, or `steps:` and a list, at the loop's key indent */
  body: string;
}

/** A workflow `name` whose one step loops over `inputs.<input>`, each item doing `body`. */
export function foreachWorkflow(name: string, description: string, o: ForeachOptions): string {
  return `
  ${name}:
    description: ${description}
    inputs: { type: object, required: [${o.input}], properties: { ${o.input}: { type: array } } }
    steps:
      - id: ${o.id}
        foreach: \${{ inputs.${o.input} }}
        as: ${o.as}
        concurrency: ${o.concurrency}${o.body}`;
}

/**
 * `nap { ms, tag }`: a read that sleeps `ms` (test.slow), then an echo of `tag`: a run that stays
 * running as long as a test needs, whose second step shows whether it went on.
 */
export const NAP_WORKFLOW = `
  nap:
    description: a slow read, then an echo
    inputs: { type: object, required: [ms, tag], properties: { ms: { type: integer }, tag: { type: string } } }
    steps:
      - id: nap
        call: test.slow
        with: { ms: "\${{ inputs.ms }}" }
      - id: after
        call: test.echo
        with: { text: "\${{ inputs.tag }}" }`;

/**
 * An MCP server at `url` over streamable HTTP (the `mcpHttp` fixture's, or childServerTest's child)
 * as the connector `id`, as an entry under `connectors:`; `extra` adds settings lines
 * (`'\n    concurrency: 4'`).
 */
export function httpConnectorYaml(url: string, extra = '', id = 'test'): string {
  return `
  ${id}:
    transport: streamable-http
    url: ${url}${extra}`;
}
