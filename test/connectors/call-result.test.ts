import { safeParse } from '@modelcontextprotocol/sdk/server/zod-compat.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { checkedCallResult } from '../../src/connectors/call-result.ts';

/** What the SDK's own check gives for `raw`: the parsed result, or the error it rejects with. */
function sdk(raw: unknown): { data?: unknown; error?: unknown } {
  const r = safeParse(CallToolResultSchema, raw);
  return r.success ? { data: r.data } : { error: r.error };
}

function ours(raw: unknown): { data?: unknown; error?: unknown } {
  try {
    return { data: checkedCallResult(raw) };
  } catch (error) {
    return { error };
  }
}

describe('the check of a tools/call answer', () => {
  it('takes a plain text answer as it is, as the SDK schema would accept it', () => {
    const raw = { content: [{ type: 'text', text: '{"ok":true}' }], isError: false, structuredContent: { ok: true }, extra: 1 };
    expect(checkedCallResult(raw)).toBe(raw);
    expect(sdk(raw).data).toEqual(raw);
  });

  it('gives what the SDK schema gives for every other answer, and refuses what it refuses with the same error', () => {
    const answers: unknown[] = [
      {},
      { content: [] },
      { content: [{ type: 'text', text: 'hi', annotations: { audience: ['user'] } }] },
      { content: [{ type: 'text', text: 'hi', stray: 1 }] },
      { content: [{ type: 'image', data: 'aGk=', mimeType: 'image/png' }] },
      { content: [{ type: 'text', text: 7 }] },
      { content: 'hi' },
      { content: [{ type: 'text', text: 'hi' }], isError: 'yes' },
      { content: [{ type: 'text', text: 'hi' }], structuredContent: [1, 2] },
      { content: [{ type: 'text', text: 'hi' }], _meta: { progressToken: 1 } },
      JSON.parse('{"content":[{"type":"text","text":"hi"}],"structuredContent":{"__proto__":{"x":1}}}'),
      null,
    ];
    for (const raw of answers) {
      const want = sdk(raw);
      const got = ours(raw);
      if (want.error) expect(String(got.error), JSON.stringify(raw)).toBe(String(want.error));
      else expect(got.data, JSON.stringify(raw)).toEqual(want.data);
    }
  });
});
