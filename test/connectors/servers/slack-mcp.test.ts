/**
 * `@modelcontextprotocol/server-slack` (the reference Slack server) pointed at the Slack sandbox by
 * a preload. It declares no annotations and answers Slack's `{ok:false,error}` as text with
 * isError false: overrides make its reads reads and its `ok: false` a failed step.
 */
import { describe, expect } from 'vitest';
import { createHttpApp } from '../../../src/server/http.ts';
import { CONNECTORS, runThrough, slackState, serversTest } from './helpers.ts';

const YAML = `
connectors:${CONNECTORS.slackMcp}${CONNECTORS.slackRaw}
workflows:
  greet:
    description: read channels and a profile, post a greeting, react to it
    inputs: { type: object, required: [channel, user], properties: { channel: { type: string }, user: { type: string } } }
    steps:
      - id: channels
        call: slack_mcp.slack_list_channels
        with: { limit: 50 }
      - id: profile
        call: slack_mcp.slack_get_user_profile
        with: { user_id: "\${{ inputs.user }}" }
      - id: post
        call: slack_mcp.slack_post_message
        with:
          channel_id: "\${{ inputs.channel }}"
          text: "Hello \${{ steps.profile.output.profile.real_name }}: \${{ $count(steps.channels.output.channels) }} channels here"
      - id: react
        call: slack_mcp.slack_add_reaction
        with: { channel_id: "\${{ inputs.channel }}", timestamp: "\${{ steps.post.output.ts }}", reaction: white_check_mark }
`;

const it = serversTest(YAML);

describe('@modelcontextprotocol/server-slack 2025.4.25 against the Slack sandbox', () => {
  it('declares no annotations, so every tool is a write until an override says otherwise', async ({ app }) => {
    const raw = await app.pool.listTools('slack_raw');
    expect(raw.length).toBeGreaterThan(0);
    expect(raw.every((t) => t.write && Object.keys(t.annotations).length === 0)).toBe(true);
    const tools = await app.pool.listTools('slack_mcp');
    const byName = (n: string) => tools.find((t) => t.name === n);
    expect(byName('slack_list_channels')).toMatchObject({
      write: false,
      idempotent: true,
      serverAnnotations: {},
      loosened: ['readOnlyHint', 'idempotentHint'],
    });
    expect(byName('slack_get_users')).toMatchObject({ write: false, loosened: ['readOnlyHint', 'idempotentHint'] });
    expect(byName('slack_post_message')).toMatchObject({ write: true, failWhen: ['output.ok = false'] });
    expect(byName('slack_post_message')?.loosened).toBeUndefined();
  }, 120_000); // the first test also starts the file's fixtures (60 s were the setup hook's)

  it('shows the loosening in the API: what the server said, what was loosened, the fail_when', async ({ app }) => {
    const http = createHttpApp(app, { bindHost: '127.0.0.1', publicUrl: 'http://127.0.0.1:3000' });
    try {
      const res = await http.fetch(
        new Request('http://127.0.0.1:3000/api/v1/connectors/slack_mcp/tools?limit=100', { headers: { host: '127.0.0.1:3000' } }),
      );
      expect(res.status).toBe(200);
      const { tools } = (await res.json()) as { tools: Array<Record<string, unknown>> };
      expect(tools.find((t) => t.name === 'slack_list_channels')).toMatchObject({
        write: false,
        annotations: { readOnlyHint: true, idempotentHint: true },
        serverAnnotations: {},
        loosened: ['readOnlyHint', 'idempotentHint'],
        failWhen: ['output.ok = false'],
      });
    } finally {
      await http.close();
    }
  }, 60_000);

  it('its reads run without a gate, its writes stop at one, and the post and reaction land', async ({ app, sandboxes }) => {
    const { run: done, asked } = await runThrough(app, 'greet', { channel: 'C0BILLING', user: 'U0ADA' });
    expect(asked).toEqual(['slack_mcp.slack_post_message', 'slack_mcp.slack_add_reaction']);
    expect(done.status).toBe('succeeded');
    expect(done.steps.channels.confirmationId).toBeUndefined();
    expect(done.steps.profile.confirmationId).toBeUndefined();
    expect(done.steps.channels.note).toBe(
      'slack_mcp.slack_list_channels: annotations loosened by tools.overrides (readOnlyHint: true, idempotentHint: true); the server does not declare these',
    );
    // Each read that passed the gate only because of an override is on record as such.
    const events = await app.store.readEvents(done.id);
    expect(events.filter((e) => e.type === 'step.ungated_by_override').map((e) => [e.stepId, e.data.loosened])).toEqual([
      ['channels', ['readOnlyHint', 'idempotentHint']],
      ['profile', ['readOnlyHint', 'idempotentHint']],
    ]);
    const ts = (done.steps.post.output as { ts: string }).ts;
    const msg = slackState(sandboxes).messages.find((m) => m.ts === ts);
    expect(msg).toMatchObject({ channel: 'C0BILLING', text: expect.stringMatching(/^Hello Ada Lovelace: \d+ channels here$/) });
    expect(msg?.reactions).toEqual([{ name: 'white_check_mark', users: ['U0BOT'], count: 1 }]);
  }, 90_000);

  it("a post Slack answers with ok: false fails the step with Slack's error, and no reaction is sent after it", async ({
    app,
    sandboxes,
  }) => {
    const reactionsBefore = slackState(sandboxes).requests.filter((r) => r.method === 'reactions.add').length;
    const { run: done, asked } = await runThrough(app, 'greet', { channel: 'C0NOPE', user: 'U0GRACE' });
    expect(asked).toEqual(['slack_mcp.slack_post_message']);
    expect(done.status).toBe('failed');
    expect(done.steps.post.error).toMatchObject({
      code: 'TOOL_REPORTED_FAILURE',
      message: expect.stringContaining('channel_not_found'),
    });
    expect(done.steps.react.status).toBe('pending');
    expect(slackState(sandboxes).requests.filter((r) => r.method === 'reactions.add')).toHaveLength(reactionsBefore);
  }, 90_000);
});
