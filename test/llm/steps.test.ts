import { describe, expect } from 'vitest';
import type { App } from '../../src/app.ts';
import { callLogPath, readCalls, testConnectorYaml, waitForStatus } from '../helpers/app.ts';
import { openApp, test, withEnv } from '../helpers/fixtures.ts';

const log = callLogPath();
const yaml = `
llm:
  model: gpt-test
connectors:${testConnectorYaml(log)}
workflows:
  summarize:
    description: the model summarizes, then the summary is echoed by a tool
    inputs: { type: object, required: [text], properties: { text: { type: string } } }
    steps:
      - id: draft
        llm:
          instructions: Summarize the customer's note in one sentence.
          input:
            note: \${{ inputs.text }}
            run: \${{ run.id }}
          output_schema:
            type: object
            additionalProperties: false
            required: [summary, mood]
            properties:
              summary: { type: string }
              mood: { type: string, enum: [happy, angry] }
        retry: { attempts: 2, backoff: 10ms }
      - id: say
        call: test.echo
        with: { text: "Summary (\${{ steps.draft.output.mood }}): \${{ steps.draft.output.summary }}" }
  loose:
    description: an optional property, so the schema cannot be strict
    inputs: { type: object }
    steps:
      - id: guess
        llm:
          model: other-model
          instructions: Guess.
          input: anything
          output_schema: { type: object, properties: { n: { type: integer } } }
`;

// The OpenAI client reads where to go from the environment: the emulator, for the file.
const it = test.extend<{ app: App }>({
  app: [
    async ({ redis, openai }, use) =>
      withEnv({ OPENAI_BASE_URL: openai.url, OPENAI_API_KEY: 'sk-test' }, () => openApp(redis, { yaml }, use)),
    { scope: 'file' },
  ],
});

describe('llm steps through the engine, a real Redis and the official openai SDK', () => {
  it("feeds a valid answer into the next step's template, asking with a strict json_schema", async ({ app, openai }) => {
    openai.setScript([{ json: { summary: 'The parcel arrived broken.', mood: 'angry' } }]);
    const { run } = await app.engine.trigger('summarize', { text: 'my parcel came smashed!!' });
    const done = await waitForStatus(app, run.id, ['succeeded', 'failed']);
    expect(done.status).toBe('succeeded');
    expect(done.steps.draft.output).toEqual({ summary: 'The parcel arrived broken.', mood: 'angry' });
    expect(done.steps.draft.arguments).toEqual({
      model: 'gpt-test',
      instructions: "Summarize the customer's note in one sentence.",
      input: { note: 'my parcel came smashed!!', run: run.id },
    });
    expect(done.steps.say.output).toEqual({ text: 'Summary (angry): The parcel arrived broken.' });
    expect(
      readCalls(log)
        .filter((c) => c.tool === 'echo')
        .map((c) => c.args.text),
    ).toContain('Summary (angry): The parcel arrived broken.');

    const [req] = openai.requests;
    expect(req.authorized).toBe(true);
    expect(req.body.model).toBe('gpt-test');
    expect(req.body.messages).toEqual([
      { role: 'system', content: "Summarize the customer's note in one sentence." },
      { role: 'user', content: JSON.stringify({ note: 'my parcel came smashed!!', run: run.id }, null, 2) },
    ]);
    expect(req.body.response_format).toEqual({
      type: 'json_schema',
      json_schema: { name: 'draft', strict: true, schema: expect.objectContaining({ required: ['summary', 'mood'] }) },
    });
  });

  it('fails the step when the answer does not match output_schema, naming what is wrong, and never runs the next step', async ({
    app,
    openai,
  }) => {
    openai.setScript([{ json: { summary: 42, mood: 'sad' } }]);
    const { run } = await app.engine.trigger('summarize', { text: 'meh' });
    const done = await waitForStatus(app, run.id, ['succeeded', 'failed']);
    expect(done.status).toBe('failed');
    expect(done.steps.draft.status).toBe('failed');
    expect(done.steps.draft.error?.code).toBe('LLM_OUTPUT_INVALID');
    const msg = done.steps.draft.error?.message ?? '';
    expect(msg).toContain('llm step "draft" (model gpt-test) answered JSON that does not match output_schema');
    expect(msg).toContain('summary must be string');
    expect(msg).toContain('mood must be one of "happy", "angry"');
    expect(done.steps.say.status).toBe('pending');
    expect(done.error?.code).toBe('LLM_OUTPUT_INVALID');
    // A wrong answer is final: asking again would cost money for the same mistake.
    expect(openai.requests).toHaveLength(1);
  });

  it('fails the step when the answer is not JSON, quoting what the model said', async ({ app, openai }) => {
    openai.setScript([{ content: 'Sure! Here is a summary: the parcel broke.' }]);
    const { run } = await app.engine.trigger('summarize', { text: 'x' });
    const done = await waitForStatus(app, run.id, ['succeeded', 'failed']);
    expect(done.steps.draft.error?.code).toBe('LLM_OUTPUT_INVALID');
    expect(done.steps.draft.error?.message).toMatch(
      /did not answer with JSON \(.+\); it said: "Sure! Here is a summary: the parcel broke\."/,
    );
  });

  it('fails the step on a refusal and on an answer cut off at the token limit', async ({ app, openai }) => {
    openai.setScript([{ refusal: "I can't help with that." }]);
    const a = await app.engine.trigger('summarize', { text: 'x' });
    const refused = await waitForStatus(app, a.run.id, ['succeeded', 'failed']);
    expect(refused.steps.draft.error?.message).toContain('refused to answer: "I can\'t help with that."');

    openai.setScript([{ content: '{"summary": "The parcel arr', finishReason: 'length' }]);
    const b = await app.engine.trigger('summarize', { text: 'x' });
    const cut = await waitForStatus(app, b.run.id, ['succeeded', 'failed']);
    expect(cut.steps.draft.error?.message).toContain('was cut off at its token limit');
  });

  it('retries when the endpoint is overloaded, then goes on', async ({ app, openai }) => {
    openai.setScript([
      { error: { status: 503, message: 'The server is overloaded or not ready yet.' } },
      { json: { summary: 'ok', mood: 'happy' } },
    ]);
    const { run } = await app.engine.trigger('summarize', { text: 'x' });
    const done = await waitForStatus(app, run.id, ['succeeded', 'failed']);
    expect(done.status).toBe('succeeded');
    expect(done.steps.draft.attempts).toBe(2);
    const events = await app.store.readEvents(run.id);
    expect(events.find((e) => e.type === 'step.retrying')?.data.message).toContain('answered 503: The server is overloaded');
  });

  it('fails with the endpoint’s own words when it refuses the request', async ({ app, openai }) => {
    openai.setScript([
      {
        error: {
          status: 404,
          message: 'The model `gpt-test` does not exist or you do not have access to it.',
          code: 'model_not_found',
        },
      },
    ]);
    const { run } = await app.engine.trigger('summarize', { text: 'x' });
    const done = await waitForStatus(app, run.id, ['succeeded', 'failed']);
    expect(done.steps.draft.error).toEqual({
      code: 'LLM_ERROR',
      message: expect.stringMatching(
        /^llm step "draft": model gpt-test: .* refused the request \(404\): The model `gpt-test` does not exist/,
      ),
    });
  });

  it('sends a schema that strict mode cannot take as non-strict, and still checks the answer', async ({ app, openai }) => {
    openai.setScript([{ json: { n: 7 } }]);
    const { run } = await app.engine.trigger('loose', {});
    const done = await waitForStatus(app, run.id, ['succeeded', 'failed']);
    expect(done.status).toBe('succeeded');
    expect(done.steps.guess.output).toEqual({ n: 7 });
    const rf = openai.requests[0].body.response_format as { json_schema: { strict: boolean } };
    expect(openai.requests[0].body.model).toBe('other-model');
    expect(rf.json_schema.strict).toBe(false);
  });
});
