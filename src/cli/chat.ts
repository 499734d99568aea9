/**
 * `interlock chat`: a terminal conversation with a model whose tools are the MCP facade's. The
 * chat is one MCP session of the facade (linked in memory), so "remember for this conversation"
 * lasts exactly as long as this chat. Writes are confirmed through the facade's elicitation,
 * which this client answers by asking the person at the terminal: the model sees the outcome
 * of the run, never the question, and has no way to answer it.
 */
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import {
  ElicitRequestSchema,
  ToolListChangedNotificationSchema,
  type CallToolResult,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import type OpenAI from 'openai';
import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions/completions';
import type { App } from '../app.ts';
import { InterlockError, errorMessage } from '../errors.ts';
import { createOpenAI, llmError, openAISettings } from '../llm/openai.ts';
import { servicesOf } from '../server/compose.ts';
import { Facade } from '../server/mcp/server.ts';
import { ask, confirmAtTerminal } from './chat-confirm.ts';
import { bold, cyan, dim, green, red, yellow } from './format.ts';

export interface ChatOptions {
  model?: string;
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
}

/** Model turns per person's message; a model that keeps calling tools is stopped here. */
const MAX_ROUNDS = 8;
/** A call that waits for a person at a gate lasts as long as the person takes (the facade bounds it). */
const TOOL_CALL_TIMEOUT_MS = 60 * 60_000;

const SYSTEM = (serverInstructions: string) =>
  [
    "You are Interlock's terminal assistant. You carry out what the person asks by running Interlock workflows with the tools you have.",
    serverInstructions,
    'When a workflow reaches a write, Interlock itself shows the person the exact payload in this terminal and asks them to approve, deny, or remember the decision for this conversation.',
    'You never approve, deny or ask about writes yourself, and you never say a write happened unless its step succeeded in the run you were given.',
    'After a run, report its outcome in one or two sentences, with the ids that matter (for a refund: the refund id).',
  ]
    .filter(Boolean)
    .join('\n');

/** An MCP tool as an OpenAI function tool; the facade's description and JSON Schema are passed on as they are. */
export function toFunctionTool(t: Tool): ChatCompletionTool {
  return {
    type: 'function',
    function: {
      name: t.name,
      description: t.description ?? t.title ?? t.name,
      parameters: t.inputSchema as Record<string, unknown>,
    },
  };
}

/** What the model reads back from a tool call: the structured result when there is one. */
export function toolResultText(r: CallToolResult): string {
  if (r.structuredContent) return JSON.stringify(r.structuredContent);
  return (
    r.content.map((c) => (c.type === 'text' ? c.text : `[${c.type}]`)).join('\n') || (r.isError ? 'the tool failed' : 'done')
  );
}

export async function chatCommand(app: App, o: ChatOptions = {}): Promise<void> {
  const out = o.output ?? process.stdout;
  const say = (s: string) => void out.write(`${s}\n`);
  const model = o.model ?? app.config.llm?.model;
  if (!model)
    throw new InterlockError('CONFIG_INVALID', 'no model for the chat: pass --model, or set llm.model in workflows.yaml');
  const openai = await createOpenAI(openAISettings(app.config.llm));

  if (!(await app.workersOnline())) {
    say(dim('No worker is running for these connectors; running steps in this process while the chat lasts.'));
    await app.startWorkers();
  }
  const session = `chat-${randomUUID().slice(0, 12)}`;
  const facade = new Facade({ services: servicesOf(app), session, logger: app.logger, channel: 'chat' });
  const client = new Client({ name: 'interlock-chat', version: '1.0.0' }, { capabilities: { elicitation: { form: {} } } });
  const rl = createInterface({ input: o.input ?? process.stdin, output: out, terminal: true });
  let closed = false;
  rl.on('close', () => {
    closed = true;
  });
  // In raw mode Ctrl-C reaches readline, not the process; it ends the chat (a pending question counts as deny).
  rl.on('SIGINT', () => rl.close());
  client.setRequestHandler(ElicitRequestSchema, (req) => confirmAtTerminal(app, rl, say, req));
  let tools: ChatCompletionTool[] = [];
  let stale = true;
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    stale = true;
  });

  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await facade.server.connect(serverSide);
  await client.connect(clientSide);
  const messages: ChatCompletionMessageParam[] = [{ role: 'system', content: SYSTEM(client.getInstructions() ?? '') }];
  say(`${bold('Interlock chat')} ${dim(`· model ${model} at ${openai.baseURL} · conversation ${session}`)}`);
  say(
    dim(
      'Ask for a workflow in your own words. Writes wait for your approval here. /exit or Ctrl-D ends the chat (and what you chose to remember).',
    ),
  );

  try {
    for (;;) {
      let line: string;
      try {
        line = (await ask(rl, `\n${bold(cyan('you›'))} `)).trim();
      } catch {
        // The prompt rejects only when the terminal closed (Ctrl-D): the conversation is over.
        break;
      }
      if (closed || line === '/exit' || line === '/quit') break;
      if (line === '') continue;
      if (stale) {
        tools = (await client.listTools()).tools.map(toFunctionTool);
        stale = false;
      }
      messages.push({ role: 'user', content: line });
      await converse(openai, model, messages, tools, client, say, out);
    }
  } finally {
    rl.close();
    await facade.end();
    // The chat is over and its session ended (facade.end); an in-memory link that fails to close holds nothing.
    await client.close().catch(() => {});
    say(dim('Chat ended; approvals remembered in it are gone.'));
  }
}

/** Model turns until the model answers without calling a tool. */
async function converse(
  openai: OpenAI,
  model: string,
  messages: ChatCompletionMessageParam[],
  tools: ChatCompletionTool[],
  client: Client,
  say: (s: string) => void,
  out: NodeJS.WritableStream,
): Promise<void> {
  for (let round = 0; round < MAX_ROUNDS; round++) {
    let started = false;
    let message: OpenAI.Chat.Completions.ChatCompletionMessage;
    try {
      const stream = openai.chat.completions.stream({ model, messages, ...(tools.length ? { tools } : {}) });
      stream.on('content', (delta) => {
        if (!started) out.write(`\n${bold(green('interlock›'))} `);
        started = true;
        out.write(delta);
      });
      const done = await stream.finalChatCompletion();
      const choice = done.choices[0];
      if (!choice) throw new Error('the model answered with no choices');
      message = choice.message;
    } catch (err) {
      say(red(`\nmodel error: ${llmError(err, `model ${model}`, openai.baseURL).message}`));
      return;
    }
    if (started) out.write('\n');
    const calls = (message.tool_calls ?? []).filter((c) => c.type === 'function');
    messages.push({ role: 'assistant', content: message.content ?? null, ...(calls.length ? { tool_calls: calls } : {}) });
    if (calls.length === 0) return;
    for (const call of calls) {
      say(dim(`→ ${call.function.name} ${call.function.arguments}`));
      const content = await callFacadeTool(client, call.function.name, call.function.arguments);
      say(dim(`← ${summarize(content)}`));
      messages.push({ role: 'tool', tool_call_id: call.id, content });
    }
  }
  say(yellow(`(stopped after ${MAX_ROUNDS} model turns without a final answer)`));
}

async function callFacadeTool(client: Client, name: string, rawArgs: string): Promise<string> {
  let args: Record<string, unknown>;
  try {
    const parsed: unknown = rawArgs.trim() === '' ? {} : JSON.parse(rawArgs);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
    args = parsed as Record<string, unknown>;
  } catch (err) {
    return `The arguments were not a JSON object (${errorMessage(err)}); nothing was run. Call ${name} again with valid JSON arguments.`;
  }
  try {
    const r = (await client.callTool({ name, arguments: args }, undefined, { timeout: TOOL_CALL_TIMEOUT_MS })) as CallToolResult;
    return toolResultText(r);
  } catch (err) {
    return `The tool call failed: ${errorMessage(err)}. Nothing is known to have run.`;
  }
}

function summarize(content: string): string {
  try {
    const v = JSON.parse(content) as { runId?: unknown; status?: unknown; workflows?: unknown[] };
    if (typeof v.runId === 'string') return `run ${v.runId}: ${String(v.status)}`;
    if (Array.isArray(v.workflows)) return `${v.workflows.length} workflow(s)`;
  } catch {
    // plain text: shown as it is, shortened
  }
  const first = content.split('\n')[0] ?? '';
  return first.length > 160 ? `${first.slice(0, 160)}…` : first;
}
