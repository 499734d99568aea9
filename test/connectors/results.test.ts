/** How a tools/call answer becomes a step's output, and when an answer the server did not mark isError still fails. */
import { describe, expect, it } from 'vitest';
import { toToolInfo } from '../../src/connectors/catalog.ts';
import { applyOverrides } from '../../src/connectors/overrides.ts';
import { checkToolResult, recordedResult, toCallResult } from '../../src/connectors/results.ts';
import { InterlockError } from '../../src/errors.ts';

const text = (t: string) => ({ type: 'text', text: t });

describe('toCallResult', () => {
  it('prefers structuredContent, keeping the blocks', () => {
    const r = toCallResult({ content: [text('{"a":1}')], structuredContent: { a: 2 } });
    expect(r).toEqual({ isError: false, output: { a: 2 }, structured: { a: 2 }, content: [text('{"a":1}')], text: '{"a":1}' });
    expect(recordedResult(r)).toEqual({ output: { a: 2 } });
  });

  it('reads one text block of JSON as the output, and records the raw blocks beside it', () => {
    const r = toCallResult({ content: [text(' {"ok":false,"error":"channel_not_found"}\n')] });
    expect(r.output).toEqual({ ok: false, error: 'channel_not_found' });
    expect(recordedResult(r)).toEqual({
      output: { ok: false, error: 'channel_not_found' },
      content: [text(' {"ok":false,"error":"channel_not_found"}\n')],
    });
    expect(toCallResult({ content: [text('"Failed to create refund"')] }).output).toBe('Failed to create refund');
  });

  it('leaves plain text, several blocks and images as blocks', () => {
    for (const content of [
      [text('Echo: hi')],
      [text('{}'), text('{}')],
      [{ type: 'image', data: 'AA==', mimeType: 'image/png' }],
      [text('')],
    ]) {
      const r = toCallResult({ content });
      expect(r.output).toBe(r.content);
      expect(recordedResult(r)).toEqual({ output: content });
    }
  });
});

describe('checkToolResult', () => {
  const withOverrides = (failWhen: string[], outputSchema?: Record<string, unknown>) =>
    applyOverrides(
      toToolInfo('c', {
        name: 't',
        inputSchema: { type: 'object' },
        ...(outputSchema ? { outputSchema: outputSchema as never } : {}),
      }),
      failWhen.map((f) => ({ match: '*', failWhen: f, pos: { line: 1, col: 1 } })),
    );

  it("fails with TOOL_REPORTED_FAILURE and the server's text when a fail_when holds", async () => {
    const err = await checkToolResult(
      withOverrides(['output.ok = false']),
      toCallResult({ content: [text('{"ok":false,"error":"no_text"}')] }),
    );
    expect(err).toBeInstanceOf(InterlockError);
    expect(err?.code).toBe('TOOL_REPORTED_FAILURE');
    expect(err?.message).toBe('c.t reported a failure (fail_when: output.ok = false): {"ok":false,"error":"no_text"}');
    expect(
      await checkToolResult(withOverrides(['output.ok = false']), toCallResult({ content: [text('{"ok":true}')] })),
    ).toBeUndefined();
  });

  it('reads text, content, isError and annotations too', async () => {
    const r = toCallResult({ content: [text('Error: quota exceeded')] });
    expect((await checkToolResult(withOverrides(['$contains(text, "quota")']), r))?.code).toBe('TOOL_REPORTED_FAILURE');
    expect(
      (await checkToolResult(withOverrides(['content[0].type = "text" and $not(annotations.readOnlyHint = true)']), r))?.code,
    ).toBe('TOOL_REPORTED_FAILURE');
    expect(await checkToolResult(withOverrides(['isError']), r)).toBeUndefined();
  });

  it('leaves an isError result to the caller, and says when a fail_when cannot be evaluated', async () => {
    expect(await checkToolResult(withOverrides(['true']), toCallResult({ isError: true, content: [text('x')] }))).toBeUndefined();
    expect((await checkToolResult(withOverrides(['$number("x") > 1']), toCallResult({ content: [text('x')] })))?.code).toBe(
      'TEMPLATE_ERROR',
    );
  });

  it('holds structured output to the declared outputSchema, naming each field', async () => {
    const schema = {
      type: 'object',
      properties: { id: { type: 'string' }, items: { type: 'array', items: { type: 'object', required: ['qty'] } } },
      required: ['id'],
    };
    const tool = withOverrides([], schema);
    const bad = await checkToolResult(tool, toCallResult({ content: [], structuredContent: { items: [{}] } }));
    expect(bad?.code).toBe('TOOL_OUTPUT_INVALID');
    expect(bad?.message).toBe('c.t returned output that breaks its own outputSchema: id is required; items[0].qty is required');
    expect((await checkToolResult(tool, toCallResult({ content: [text('{"id":"x"}')] })))?.message).toBe(
      'c.t declares an outputSchema but returned no structuredContent',
    );
    expect(
      await checkToolResult(tool, toCallResult({ content: [], structuredContent: { id: 'x', items: [{ qty: 1 }] } })),
    ).toBeUndefined();
  });
});
