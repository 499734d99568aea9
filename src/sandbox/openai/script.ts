/**
 * What the OpenAI sandbox answers: a script written by a test (or the demo) instead of a model,
 * so a conversation is the same every time. A script is a list of turns used in order, one per
 * request, or one function that answers every request.
 */
import type { ChatCompletionCreateParams, ChatCompletionMessageParam } from 'openai/resources/chat/completions/completions';

/** A chat completions request body as the SDK sends it. */
export type ChatRequest = ChatCompletionCreateParams;

export interface ScriptedToolCall {
  name: string;
  /** an object is sent as its JSON text; a string is sent as is (even when it is not JSON) */
  arguments: unknown;
  id?: string;
}

/** One answer. Fields combine: `content` with `toolCalls` is a message that says something and calls tools. */
export interface Reply {
  content?: string;
  /** shorthand for `content: JSON.stringify(json)`, the structured-output answer */
  json?: unknown;
  toolCalls?: ScriptedToolCall[];
  refusal?: string;
  /** default: tool_calls when there are tool calls, else stop */
  finishReason?: 'stop' | 'length' | 'tool_calls' | 'content_filter';
  /** answer with an API error instead (status and message as the real API words them) */
  error?: { status: number; message: string; type?: string; code?: string };
  /** wait this long before answering, e.g. to run into a client's timeout */
  delayMs?: number;
}

export type Turn = Reply | ((req: ChatRequest, index: number) => Reply | Promise<Reply>);
export type Script = Turn[] | ((req: ChatRequest, index: number) => Reply | Promise<Reply>);

/** The script's answer to the `index`-th request (0-based), or why there is none. */
export async function replyFor(script: Script, req: ChatRequest, index: number): Promise<Reply | { scriptError: string }> {
  if (typeof script === 'function') return script(req, index);
  const turn = script[index];
  if (turn === undefined) {
    return {
      scriptError: `the script has ${script.length} turn${script.length === 1 ? '' : 's'} and this is request ${index + 1} (last message: ${describe(req.messages.at(-1))})`,
    };
  }
  return typeof turn === 'function' ? turn(req, index) : turn;
}

function describe(m: ChatCompletionMessageParam | undefined): string {
  if (!m) return 'none';
  return `${m.role}: ${JSON.stringify(textOf(m.content)).slice(0, 120)}`;
}

/** The text of a message's content, whether a string or a list of text parts. */
export function textOf(content: ChatCompletionMessageParam['content']): string {
  if (content === null || content === undefined) return '';
  if (typeof content === 'string') return content;
  return content.map((p) => ('text' in p && typeof p.text === 'string' ? p.text : '')).join('');
}

/** The last message a person typed. */
export function lastUserText(req: ChatRequest): string {
  const m = [...req.messages].reverse().find((x) => x.role === 'user');
  return m ? textOf(m.content) : '';
}

/** Tool results sent since the model's last message, in order. */
export function latestToolResults(req: ChatRequest): Array<{ toolCallId: string; content: string }> {
  const out: Array<{ toolCallId: string; content: string }> = [];
  for (let i = req.messages.length - 1; i >= 0; i--) {
    const m = req.messages[i];
    if (m.role !== 'tool') break;
    out.unshift({ toolCallId: m.tool_call_id, content: textOf(m.content) });
  }
  return out;
}
