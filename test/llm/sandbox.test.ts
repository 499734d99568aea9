import OpenAI, { AuthenticationError, BadRequestError } from 'openai';
import { describe, expect } from 'vitest';
import { test } from '../helpers/fixtures.ts';
import { demoScript } from '../../src/sandbox/openai/index.ts';

const TOOLS: OpenAI.Chat.Completions.ChatCompletionTool[] = [
  {
    type: 'function',
    function: {
      name: 'run_workflow',
      description: 'Runs a workflow',
      parameters: { type: 'object', properties: { workflow: { type: 'string' } } },
    },
  },
];

/** The official SDK pointed at the file's emulator (the `openai` fixture, named `sandbox` in the tests). */
const it = test.extend<{ client: OpenAI }>({
  client: [
    async ({ openai }, use) => use(new OpenAI({ baseURL: openai.url, apiKey: 'sk-test', maxRetries: 0 })),
    { scope: 'file' },
  ],
});

describe('the OpenAI sandbox speaks the chat completions wire format to the official SDK', () => {
  it('answers a plain request with a chat.completion holding the scripted tool calls', async ({ openai: sandbox, client }) => {
    sandbox.setScript([{ content: 'On it.', toolCalls: [{ name: 'run_workflow', arguments: { workflow: 'w' }, id: 'call_1' }] }]);
    const c = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'go' }], tools: TOOLS });
    expect(c.object).toBe('chat.completion');
    expect(c.choices[0].finish_reason).toBe('tool_calls');
    expect(c.choices[0].message).toMatchObject({
      role: 'assistant',
      content: 'On it.',
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'run_workflow', arguments: '{"workflow":"w"}' } }],
    });
    expect(c.usage?.total_tokens).toBeGreaterThan(0);
  });

  it('streams content and tool-call arguments in pieces that the SDK puts back together', async ({ openai: sandbox, client }) => {
    const text = 'Refunding the charge now — one moment.';
    sandbox.setScript([
      {
        content: text,
        toolCalls: [{ name: 'run_workflow', arguments: { workflow: 'refund-and-notify', inputs: { charge: 'ch_seed_1' } } }],
      },
    ]);
    const stream = client.chat.completions.stream({
      model: 'm',
      messages: [{ role: 'user', content: 'go' }],
      tools: TOOLS,
      stream_options: { include_usage: true },
    });
    const deltas: string[] = [];
    stream.on('content', (d) => deltas.push(d));
    const done = await stream.finalChatCompletion();
    expect(deltas.length).toBeGreaterThan(3);
    expect(deltas.join('')).toBe(text);
    const call = done.choices[0].message.tool_calls?.[0];
    expect(call?.type === 'function' && JSON.parse(call.function.arguments)).toEqual({
      workflow: 'refund-and-notify',
      inputs: { charge: 'ch_seed_1' },
    });
    expect(done.choices[0].finish_reason).toBe('tool_calls');
    expect(done.usage?.prompt_tokens).toBeGreaterThan(0);
  });

  it('refuses what the real API refuses: a tool result nobody asked for, a schema strict mode cannot take', async ({
    openai: sandbox,
    client,
  }) => {
    sandbox.setScript([{ content: 'never sent' }]);
    const orphan = client.chat.completions.create({
      model: 'm',
      messages: [
        { role: 'user', content: 'x' },
        { role: 'tool', tool_call_id: 'call_x', content: '{}' },
      ],
    });
    await expect(orphan).rejects.toBeInstanceOf(BadRequestError);
    await expect(orphan).rejects.toThrow(
      /messages with role 'tool' must be a response to a preceeding message with 'tool_calls'/,
    );

    const loose = client.chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'x' }],
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'out', strict: true, schema: { type: 'object', properties: { a: { type: 'string' } } } },
      },
    });
    await expect(loose).rejects.toThrow(
      /Invalid schema for response_format 'out': .*'additionalProperties' is required to be supplied and to be false/,
    );

    const unanswered = client.chat.completions.create({
      model: 'm',
      messages: [
        { role: 'user', content: 'x' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'call_y', type: 'function', function: { name: 'f', arguments: '{}' } }],
        },
        { role: 'user', content: 'and?' },
      ],
    });
    await expect(unanswered).rejects.toThrow(/did not have response messages: call_y/);
    expect(sandbox.requests).toEqual([]);
  });

  it('wants an API key, as the real API does', async ({ openai: sandbox }) => {
    const res = await fetch(`${sandbox.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(401);
    const noKey = new OpenAI({ baseURL: sandbox.url, apiKey: 'sk-test', maxRetries: 0, defaultHeaders: { authorization: null } });
    await expect(
      noKey.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
    ).rejects.toBeInstanceOf(AuthenticationError);
  });

  it('says which request the script had no turn for', async ({ openai: sandbox, client }) => {
    sandbox.setScript([{ content: 'one' }]);
    await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'first' }] });
    await expect(client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'second' }] })).rejects.toThrow(
      /openai sandbox script: the script has 1 turn and this is request 2 \(last message: user: "second"\)/,
    );
  });

  it('the demo script drafts structured output from the input and starts a refund when asked', async ({
    openai: sandbox,
    client,
  }) => {
    sandbox.setScript(demoScript);
    const drafted = await client.chat.completions.create({
      model: 'm',
      messages: [
        { role: 'system', content: 'Write it.' },
        { role: 'user', content: JSON.stringify({ customer: 'Ada', amount: '15.00 USD', charge: 'ch_1', refund: 're_1' }) },
      ],
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'draft',
          strict: true,
          schema: {
            type: 'object',
            additionalProperties: false,
            required: ['message'],
            properties: { message: { type: 'string' } },
          },
        },
      },
    });
    const message = (JSON.parse(drafted.choices[0].message.content ?? '{}') as { message: string }).message;
    expect(message).toContain('Hi Ada');
    expect(message).toContain('15.00 USD');
    expect(message).toContain('re_1');

    const asked = await client.chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'please refund ch_seed_1, 12.50' }],
      tools: TOOLS,
    });
    const call = asked.choices[0].message.tool_calls?.[0];
    expect(call?.type === 'function' && JSON.parse(call.function.arguments)).toEqual({
      workflow: 'refund-and-notify',
      inputs: { charge: 'ch_seed_1', amount: 1250 },
    });
  });
});
