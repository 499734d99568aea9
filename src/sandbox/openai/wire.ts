/**
 * The chat completions wire format: checks a request the way the real API refuses malformed ones,
 * and builds `chat.completion` objects and `chat.completion.chunk` SSE streams from a Reply.
 */
import { randomBytes } from 'node:crypto';
import type { ChatCompletion, ChatCompletionChunk } from 'openai/resources/chat/completions/completions';
import type { ChatRequest, Reply } from './script.ts';

export class WireError extends Error {
  readonly status: number;
  readonly param: string | null;
  readonly type: string;
  constructor(status: number, message: string, param: string | null = null, type = 'invalid_request_error') {
    super(message);
    this.status = status;
    this.param = param;
    this.type = type;
  }
}

const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool']);
const NAME_RE = /^[a-zA-Z0-9_-]{1,64}$/;

/** What the real API checks before any model runs; a request our code gets wrong fails here as it would there. */
export function checkRequest(body: unknown): ChatRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new WireError(400, 'The request body must be a JSON object.');
  const b = body as Record<string, unknown>;
  if (typeof b.model !== 'string' || b.model === '') throw new WireError(400, 'you must provide a model parameter', 'model');
  if (!Array.isArray(b.messages) || b.messages.length === 0) throw new WireError(400, "[] is too short - 'messages'", 'messages');
  const open = new Set<string>();
  b.messages.forEach((m: unknown, i: number) => {
    const msg = m as Record<string, unknown>;
    if (!msg || typeof msg !== 'object' || !ROLES.has(String(msg.role)))
      throw new WireError(400, `Invalid value for 'messages[${i}].role'.`, `messages[${i}].role`);
    if (msg.role !== 'tool' && open.size > 0) {
      throw new WireError(
        400,
        `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. ` +
          `The following tool_call_ids did not have response messages: ${[...open].join(', ')}`,
        'messages',
      );
    }
    if (msg.role === 'assistant' && Array.isArray(msg.tool_calls)) {
      for (const tc of msg.tool_calls as Array<{ id?: unknown }>) if (typeof tc.id === 'string') open.add(tc.id);
    }
    if (msg.role === 'tool') {
      if (typeof msg.tool_call_id !== 'string' || !open.delete(msg.tool_call_id)) {
        throw new WireError(
          400,
          `Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.`,
          `messages.[${i}].role`,
        );
      }
    }
  });
  if (b.tools !== undefined) {
    if (!Array.isArray(b.tools)) throw new WireError(400, "Invalid type for 'tools': expected an array.", 'tools');
    b.tools.forEach((t: unknown, i: number) => {
      const fn = (t as { type?: unknown; function?: { name?: unknown } }).function;
      if ((t as { type?: unknown }).type !== 'function' || typeof fn?.name !== 'string' || !NAME_RE.test(fn.name)) {
        throw new WireError(
          400,
          `Invalid 'tools[${i}].function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.`,
          `tools[${i}].function.name`,
        );
      }
    });
  }
  checkResponseFormat(b.response_format);
  return b as unknown as ChatRequest;
}

function checkResponseFormat(rf: unknown): void {
  if (rf === undefined) return;
  const f = rf as { type?: unknown; json_schema?: { name?: unknown; schema?: unknown; strict?: unknown } };
  if (f.type === 'text' || f.type === 'json_object') return;
  if (f.type !== 'json_schema')
    throw new WireError(
      400,
      "Invalid value: 'response_format.type'. Supported values are: 'json_object', 'json_schema', and 'text'.",
      'response_format.type',
    );
  const js = f.json_schema;
  if (!js || typeof js.name !== 'string' || !NAME_RE.test(js.name))
    throw new WireError(
      400,
      "Invalid 'response_format.json_schema.name': string does not match pattern.",
      'response_format.json_schema.name',
    );
  if (js.schema === null || typeof js.schema !== 'object')
    throw new WireError(
      400,
      "Missing required parameter: 'response_format.json_schema.schema'.",
      'response_format.json_schema.schema',
    );
  if (js.strict === true) {
    const problem = strictProblem(js.schema as Record<string, unknown>, []);
    if (problem) throw new WireError(400, `Invalid schema for response_format '${js.name}': ${problem}`, 'response_format');
  }
}

/** The first rule of strict structured outputs a schema breaks, worded like the API. */
function strictProblem(s: Record<string, unknown>, path: string[]): string | undefined {
  const ctx = `In context=(${path.map((p) => `'${p}'`).join(', ')})`;
  if (s.type === 'object') {
    if (s.additionalProperties !== false) return `${ctx}, 'additionalProperties' is required to be supplied and to be false.`;
    const props = (s.properties ?? {}) as Record<string, Record<string, unknown>>;
    const required = Array.isArray(s.required) ? s.required : [];
    const missing = Object.keys(props).find((k) => !required.includes(k));
    if (missing)
      return `${ctx}, 'required' is required to be supplied and to be an array including every key in properties. Missing '${missing}'.`;
    for (const [k, p] of Object.entries(props)) {
      const inner = strictProblem(p, [...path, 'properties', k]);
      if (inner) return inner;
    }
  }
  if (s.type === 'array' && s.items && typeof s.items === 'object')
    return strictProblem(s.items as Record<string, unknown>, [...path, 'items']);
  return undefined;
}

function id(prefix: string): string {
  return `${prefix}${randomBytes(12).toString('base64url')}`;
}

const tokens = (s: string): number => Math.max(1, Math.ceil(s.length / 4));

interface Built {
  content: string | null;
  refusal: string | null;
  toolCalls: Array<{ id: string; type: 'function'; function: { name: string; arguments: string } }>;
  finishReason: ChatCompletion.Choice['finish_reason'];
}

/** The message a Reply stands for; a call of a tool the request did not offer is a script mistake. */
export function build(reply: Reply, req: ChatRequest): Built {
  const offered = new Set((req.tools ?? []).flatMap((t) => (t.type === 'function' ? [t.function.name] : [])));
  const toolCalls = (reply.toolCalls ?? []).map((tc) => {
    if (!offered.has(tc.name))
      throw new WireError(
        400,
        `openai sandbox script: the reply calls tool "${tc.name}", which the request does not offer (offered: ${[...offered].join(', ') || 'none'})`,
        'tools',
        'sandbox_script_error',
      );
    return {
      id: tc.id ?? id('call_'),
      type: 'function' as const,
      function: {
        name: tc.name,
        arguments: typeof tc.arguments === 'string' ? tc.arguments : JSON.stringify(tc.arguments ?? {}),
      },
    };
  });
  const content = reply.json !== undefined ? JSON.stringify(reply.json) : (reply.content ?? null);
  const finishReason = reply.finishReason ?? (toolCalls.length > 0 ? 'tool_calls' : 'stop');
  return { content: reply.refusal ? null : content, refusal: reply.refusal ?? null, toolCalls, finishReason };
}

function usage(req: ChatRequest, b: Built): ChatCompletion['usage'] {
  const prompt = tokens(JSON.stringify(req.messages));
  const completion = tokens((b.content ?? '') + (b.refusal ?? '') + JSON.stringify(b.toolCalls));
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

export function completion(req: ChatRequest, b: Built): ChatCompletion {
  return {
    id: id('chatcmpl-'),
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: req.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: b.content,
          refusal: b.refusal,
          annotations: [],
          ...(b.toolCalls.length ? { tool_calls: b.toolCalls } : {}),
        },
        logprobs: null,
        finish_reason: b.finishReason,
      },
    ],
    usage: usage(req, b),
    service_tier: 'default',
  };
}

/**
 * The chunks of a streamed answer, as the API sends them: the role first, content and refusal in
 * small pieces, each tool call opened with its id and name and then its arguments in pieces, a
 * last chunk with the finish reason, and usage after it when `stream_options.include_usage`.
 */
export function chunks(req: ChatRequest, b: Built): ChatCompletionChunk[] {
  const base = {
    id: id('chatcmpl-'),
    object: 'chat.completion.chunk' as const,
    created: Math.floor(Date.now() / 1000),
    model: req.model,
    service_tier: 'default' as const,
  };
  const chunk = (
    delta: ChatCompletionChunk.Choice.Delta,
    finish: ChatCompletionChunk.Choice['finish_reason'] = null,
  ): ChatCompletionChunk => ({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
  const out = [chunk({ role: 'assistant', content: '', refusal: null })];
  for (const piece of pieces(b.content ?? '')) out.push(chunk({ content: piece }));
  for (const piece of pieces(b.refusal ?? '')) out.push(chunk({ refusal: piece }));
  b.toolCalls.forEach((tc, index) => {
    out.push(
      chunk({ tool_calls: [{ index, id: tc.id, type: 'function', function: { name: tc.function.name, arguments: '' } }] }),
    );
    for (const piece of pieces(tc.function.arguments))
      out.push(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }));
  });
  out.push(chunk({}, b.finishReason));
  const opts = (req as { stream_options?: { include_usage?: boolean } | null }).stream_options;
  if (opts?.include_usage) out.push({ ...base, choices: [], usage: usage(req, b) });
  return out;
}

// By code point, so no piece ends inside a surrogate pair.
function pieces(s: string, size = 7): string[] {
  const cps = [...s];
  const out: string[] = [];
  for (let i = 0; i < cps.length; i += size) out.push(cps.slice(i, i + size).join(''));
  return out;
}
