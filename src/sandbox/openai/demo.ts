/**
 * The script `interlock sandbox --openai-port` answers with: a few fixed rules, not a model, so
 * the shipped llm step and `interlock chat` can be tried without an OpenAI account.
 *
 * - a request for structured output gets an object built from its schema, with the input's
 *   facts put into the text fields;
 * - "refund ch_…" (optionally "… 15.00" or "… 1500 cents") calls run_workflow for refund-and-notify;
 * - "list" or "workflows" calls list_workflows;
 * - a tool result gets a one-line summary that names the run, its status and any refund id.
 */
import { latestToolResults, lastUserText, textOf, type ChatRequest, type Reply } from './script.ts';

export function demoScript(req: ChatRequest): Reply {
  const rf = req.response_format;
  if (rf?.type === 'json_schema') return { json: sample(rf.json_schema.schema ?? {}, textOf(req.messages.at(-1)?.content)) };
  const offered = new Set((req.tools ?? []).flatMap((t) => (t.type === 'function' ? [t.function.name] : [])));
  const results = latestToolResults(req);
  if (results.length > 0) return { content: results.map((r) => summarize(r.content)).join('\n') };
  const text = lastUserText(req);
  const charge = /\bch_[A-Za-z0-9_]+/.exec(text)?.[0];
  if (charge && offered.has('run_workflow')) {
    const inputs: Record<string, unknown> = { charge, ...amountIn(text) };
    if (/\bdraft|\bllm|\bwrite the message/i.test(text)) inputs.draft_with_llm = true;
    return {
      content: `Starting refund-and-notify for ${charge}.`,
      toolCalls: [{ name: 'run_workflow', arguments: { workflow: 'refund-and-notify', inputs } }],
    };
  }
  if (/\blist\b|\bworkflows?\b/i.test(text) && offered.has('list_workflows'))
    return { toolCalls: [{ name: 'list_workflows', arguments: {} }] };
  return {
    content:
      'I am the Interlock sandbox model. Ask me to "refund ch_seed_1" (add an amount such as "15.00" or "1500 cents", ' +
      'or "and draft the message" to have the llm step write it), or to "list workflows".',
  };
}

function amountIn(text: string): { amount?: number } {
  const cents = /(\d+)\s*cents?\b/i.exec(text);
  if (cents) return { amount: Number(cents[1]) };
  const money = /(?:\$|\busd\s*)?(\d+\.\d{2})\b/i.exec(text);
  return money ? { amount: Math.round(Number(money[1]) * 100) } : {};
}

function summarize(content: string): string {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(content) as Record<string, unknown>;
  } catch {
    return content.split('\n')[0] ?? content;
  }
  if (Array.isArray(v.workflows))
    return `Workflows: ${(v.workflows as Array<{ name?: unknown }>).map((w) => String(w.name)).join(', ')}.`;
  if (typeof v.runId !== 'string') return content.slice(0, 200);
  const refund = /\bre_[A-Za-z0-9]+/.exec(JSON.stringify(v.steps ?? []))?.[0];
  const status = String(v.status);
  if (status === 'succeeded')
    return `Run ${v.runId} succeeded${refund ? `: refund ${refund} was created and the customer was told` : ''}.`;
  const error = v.error as { message?: unknown } | undefined;
  return `Run ${v.runId} is ${status}${error?.message ? `: ${String(error.message)}` : ''}. ${typeof v.next === 'string' ? v.next : ''}`.trim();
}

/** A value matching the schema; strings that read like a message carry the input's facts. */
function sample(schema: Record<string, unknown>, input: string, name = ''): unknown {
  if (Array.isArray(schema.enum)) return schema.enum[0];
  if ('const' in schema) return schema.const;
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'object': {
      const props = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
      return Object.fromEntries(Object.entries(props).map(([k, p]) => [k, sample(p, input, k)]));
    }
    case 'array':
      return [];
    case 'integer':
    case 'number':
      return typeof schema.minimum === 'number' ? schema.minimum : 0;
    case 'boolean':
      return false;
    case 'null':
      return null;
    default:
      return /message|text|body|draft|summary/i.test(name) ? draftFrom(input) : `${name || 'value'} (sandbox)`;
  }
}

function draftFrom(input: string): string {
  let facts: Record<string, unknown> | undefined;
  try {
    const v: unknown = JSON.parse(input);
    if (v && typeof v === 'object' && !Array.isArray(v)) facts = v as Record<string, unknown>;
  } catch {
    // plain text input: used as it is below
  }
  if (!facts) return `Hello! ${input.replace(/\s+/g, ' ').trim()}`;
  const f = (k: string) => (facts[k] === undefined || facts[k] === null ? undefined : String(facts[k]));
  const who = f('customer') ?? f('name') ?? 'there';
  const parts = [`Hi ${who}, good news: we have refunded ${f('amount') ?? 'your payment'}`];
  if (f('charge')) parts.push(` for charge ${f('charge')}`);
  parts.push('.');
  if (f('refund')) parts.push(` Your refund reference is ${f('refund')}; it should reach you within 5-10 business days.`);
  return `${parts.join('')} (drafted by the sandbox model)`;
}
