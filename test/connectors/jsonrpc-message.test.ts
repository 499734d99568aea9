import { JSONRPCMessageSchema } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { parseJsonRpcLine } from '../../src/connectors/jsonrpc-message.ts';

/** What the SDK's stdio transport gives for a line: the parsed message, or the error it throws. */
function sdk(line: string): { data?: unknown; error?: unknown } {
  try {
    return { data: JSONRPCMessageSchema.parse(JSON.parse(line)) };
  } catch (error) {
    return { error };
  }
}

function ours(line: string): { data?: unknown; error?: unknown } {
  try {
    return { data: parseJsonRpcLine(line) };
  } catch (error) {
    return { error };
  }
}

describe('the check of a JSON-RPC line from a stdio server', () => {
  it('takes a plain answer as parsed, equal to what the SDK schema gives', () => {
    for (const line of [
      '{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"hi"}],"structuredContent":{"text":"hi"}}}',
      '{"result":{"tools":[]},"id":"abc","jsonrpc":"2.0"}',
      '{"jsonrpc":"2.0","id":0,"result":{}}',
    ]) {
      const got = parseJsonRpcLine(line);
      expect(got).toEqual(JSON.parse(line));
      expect(got).toEqual(sdk(line).data);
    }
  });

  it('gives what the SDK schema gives for every other line, and refuses what it refuses with the same error', () => {
    const lines = [
      '{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"no such method"}}',
      '{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":0.5}}',
      '{"jsonrpc":"2.0","id":2,"method":"ping"}',
      '{"jsonrpc":"2.0","id":3,"result":{"_meta":{"progressToken":1}}}',
      '{"jsonrpc":"2.0","id":3,"result":{"_meta":"not an object"}}',
      '{"jsonrpc":"2.0","id":1.5,"result":{}}',
      '{"jsonrpc":"2.0","id":9007199254740993,"result":{}}',
      '{"jsonrpc":"2.0","id":null,"result":{}}',
      '{"jsonrpc":"2.0","id":4,"result":{},"extra":true}',
      '{"jsonrpc":"2.0","id":4,"result":[1,2]}',
      '{"jsonrpc":"2.0","id":4,"result":null}',
      '{"jsonrpc":"1.0","id":4,"result":{}}',
      '{"jsonrpc":"2.0","id":4}',
      '{"jsonrpc":"2.0","id":5,"result":{"__proto__":{"x":1}}}',
      '[1,2,3]',
      '"text"',
    ];
    for (const line of lines) {
      const a = ours(line);
      const b = sdk(line);
      if (b.error) {
        expect(a.error, line).toBeDefined();
        expect(String(a.error), line).toBe(String(b.error));
      } else expect(a.data, line).toEqual(b.data);
    }
  });

  it('refuses a line that is not JSON as the SDK does', () => {
    expect(() => parseJsonRpcLine('{not json')).toThrow(SyntaxError);
  });
});
