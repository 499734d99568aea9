/**
 * The check of each JSON-RPC message a stdio server sends, made cheaper for the one nearly every
 * message is: the answer to a request. The SDK checks every incoming line against
 * JSONRPCMessageSchema (zod), which copies the message as it checks it; on a worker running many
 * steps that is a good part of the garbage each call leaves. An answer `{jsonrpc: '2.0', id,
 * result}` with nothing else, an id that is a string or a safe integer, and a plain-object result
 * without `_meta` is one that schema accepts and hands back equal (the result's own fields pass
 * through): it is taken as parsed. Anything else (requests, notifications, errors, odd answers)
 * goes through the SDK's schema exactly as before, with the same result or the same error.
 */
import { type JSONRPCMessage, JSONRPCMessageSchema } from '@modelcontextprotocol/sdk/types.js';

export function parseJsonRpcLine(line: string): JSONRPCMessage {
  const v: unknown = JSON.parse(line);
  return plainAnswer(v) ? v : JSONRPCMessageSchema.parse(v);
}

function plainAnswer(v: unknown): v is JSONRPCMessage {
  if (!isRecord(v) || v.jsonrpc !== '2.0') return false;
  let fields = 0;
  for (const _ in v) fields++;
  if (fields !== 3 || !('id' in v) || !('result' in v)) return false;
  if (typeof v.id !== 'string' && !Number.isSafeInteger(v.id)) return false;
  const r = v.result;
  // An own `__proto__` key is one the schema's copy would not keep as it is.
  return isRecord(r) && r._meta === undefined && !Object.hasOwn(r, '__proto__');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}
