/**
 * Running an `llm` step: resolve its instructions and input, ask the model for JSON with
 * structured outputs (chat completions, `response_format: json_schema`), check the answer
 * against the step's output_schema, and commit it as the step's output. An llm step calls no
 * tool and opens no gate: what it writes can only reach a later step's arguments, and a write
 * there still shows the person the exact text before anything is sent.
 */
import type { Job } from 'bullmq';
import type OpenAI from 'openai';
import type { ErrorObject } from 'ajv';
import { InterlockError } from '../errors.ts';
import { createOpenAI, llmError, openAISettings } from '../llm/openai.ts';
import type { RunRecord } from '../runs/records.ts';
import type { RunStore } from '../runs/store.ts';
import { canonicalJson, sha256Hex } from '../workflows/canonical.ts';
import { inputValidator } from '../workflows/inputs.ts';
import { evaluateCondition, resolveTemplates } from '../workflows/templates.ts';
import type { LlmConfig, LlmStep, TemplateContext } from '../workflows/types.ts';
import type { StepJobData, StepQueues } from './queues.ts';

export const DEFAULT_LLM_TIMEOUT_MS = 120_000;

/** What the model was asked: recorded as the step's arguments, so the run page shows it. */
export interface LlmRequest {
  model: string;
  instructions: string;
  input: unknown;
}

export interface LlmAnswer {
  content: string | null;
  refusal: string | null;
  finishReason: string;
}

/** Asks a model for one JSON answer; the seam between the step logic and the SDK. */
export interface LlmCaller {
  complete(req: LlmRequest, schema: { name: string; schema: Record<string, unknown> }, opts: { timeoutMs: number }): Promise<LlmAnswer>;
}

/** The official SDK against OpenAI or any compatible endpoint; settings are read per call so env and config reloads apply. */
export function openAICaller(config: () => LlmConfig | undefined, env: NodeJS.ProcessEnv = process.env): LlmCaller {
  let cached: { key: string; client: OpenAI } | undefined;
  const client = async (): Promise<OpenAI> => {
    const settings = openAISettings(config(), env);
    const key = JSON.stringify(settings);
    if (cached?.key !== key) cached = { key, client: await createOpenAI(settings) };
    return cached.client;
  };
  return {
    async complete(req, { name, schema }, { timeoutMs }) {
      const what = `model ${req.model}`;
      let c: OpenAI | undefined;
      try {
        c = await client();
        const completion = await c.chat.completions.create({
          model: req.model,
          messages: [
            { role: 'system', content: req.instructions },
            { role: 'user', content: typeof req.input === 'string' ? req.input : JSON.stringify(req.input, null, 2) },
          ],
          response_format: { type: 'json_schema', json_schema: { name, schema, strict: strictCompatible(schema) } },
        }, { timeout: timeoutMs });
        const choice = completion.choices[0];
        if (!choice) throw new InterlockError('LLM_OUTPUT_INVALID', `${what} answered with no choices`);
        return { content: choice.message.content, refusal: choice.message.refusal ?? null, finishReason: choice.finish_reason };
      } catch (err) {
        throw llmError(err, what, c?.baseURL ?? 'the model endpoint');
      }
    },
  };
}

const STRICT_KEYWORDS = new Set([
  'type', 'properties', 'required', 'additionalProperties', 'items', 'enum', 'const', 'description', 'title',
  'anyOf', '$defs', '$ref', 'pattern', 'format', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum',
  'multipleOf', 'minItems', 'maxItems', '$schema',
]);

/**
 * Whether OpenAI's strict mode takes the schema as written: every object closed and listing all
 * its properties as required, and only keywords strict mode supports. Other schemas are sent
 * non-strict rather than rewritten, since rewriting would change what the step's author asked
 * for; the answer is checked against the schema either way.
 */
export function strictCompatible(schema: unknown): boolean {
  if (Array.isArray(schema)) return schema.every(strictCompatible);
  if (schema === null || typeof schema !== 'object') return true;
  const s = schema as Record<string, unknown>;
  for (const k of Object.keys(s)) if (!STRICT_KEYWORDS.has(k)) return false;
  const isObject = s.type === 'object' || (Array.isArray(s.type) && s.type.includes('object'));
  if (isObject) {
    const props = (s.properties ?? {}) as Record<string, unknown>;
    const required = Array.isArray(s.required) ? s.required : [];
    if (s.additionalProperties !== false || Object.keys(props).some((p) => !required.includes(p))) return false;
    if (!Object.values(props).every(strictCompatible)) return false;
  }
  return [s.items, s.anyOf, s.$defs].every((x) => x === undefined || (typeof x === 'object' && strictCompatible(Array.isArray(x) ? x : Object.values(x as object))));
}

/** The answer as JSON matching the schema, or LLM_OUTPUT_INVALID saying exactly what is wrong. */
export function checkAnswer(answer: LlmAnswer, schema: Record<string, unknown>, what: string): unknown {
  if (answer.refusal) throw new InterlockError('LLM_OUTPUT_INVALID', `${what} refused to answer: ${clip(answer.refusal)}`);
  if (answer.finishReason === 'length') throw new InterlockError('LLM_OUTPUT_INVALID', `${what} was cut off at its token limit before the JSON answer was complete`);
  if (answer.finishReason === 'content_filter') throw new InterlockError('LLM_OUTPUT_INVALID', `${what}: the answer was withheld by the endpoint's content filter`);
  const text = answer.content ?? '';
  if (text.trim() === '') throw new InterlockError('LLM_OUTPUT_INVALID', `${what} answered with no content, not the JSON output_schema asks for`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InterlockError('LLM_OUTPUT_INVALID', `${what} did not answer with JSON (${(err as Error).message}); it said: ${clip(text)}`);
  }
  // Validated on a copy: ajv fills in defaults, and the output recorded is what the model said.
  const validate = inputValidator(schema);
  if (!validate(structuredClone(value))) {
    const problems = (validate.errors ?? []).map(describe);
    throw new InterlockError('LLM_OUTPUT_INVALID', `${what} answered JSON that does not match output_schema: ${[...new Set(problems)].join('; ')}; it said: ${clip(text)}`, { problems });
  }
  return value;
}

function describe(e: ErrorObject): string {
  const at = e.instancePath === '' ? 'the answer' : e.instancePath.slice(1).replace(/\//g, '.');
  const p = e.params as Record<string, unknown>;
  if (e.keyword === 'required') return `${at} is missing required property "${String(p.missingProperty)}"`;
  if (e.keyword === 'additionalProperties') return `${at} has property "${String(p.additionalProperty)}", which the schema does not allow`;
  if (e.keyword === 'enum' && Array.isArray(p.allowedValues)) return `${at} must be one of ${p.allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  return `${at} ${e.message ?? 'is invalid'}`;
}

function clip(s: string, n = 300): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return JSON.stringify(one.length > n ? `${one.slice(0, n)}…` : one);
}

export interface LlmStepDeps {
  store: RunStore;
  queues: StepQueues;
  llm: LlmCaller;
  onStepFinished?: (info: { connector: string; tool: string; durationMs: number; ok: boolean }) => void;
}

export interface LlmStepJob {
  job: Job<StepJobData>;
  run: RunRecord;
  step: LlmStep;
  ctx: TemplateContext;
  next: string | undefined;
  /** the processor's failure path: records the attempt, and rethrows what BullMQ should retry */
  fail: (err: unknown, result: Record<string, unknown>) => Promise<string>;
}

export async function processLlmStep(d: LlmStepDeps, { job, run, step, ctx, next, fail }: LlmStepJob): Promise<string> {
  const { store } = d;
  const def = run.definition;
  // The commit and the next step's enqueue, in one round trip where one connection orders them.
  const commit = (status: 'succeeded' | 'skipped', result: Parameters<typeof store.commitStep>[3]) => store.commitStep(run.id, step.id, status, result, next,
    next ? { then: () => d.queues.enqueue(def, run.id, run.session, next, '0') } : {});
  let req: LlmRequest;
  try {
    if (step.if !== undefined && !(await evaluateCondition(step.if, ctx))) {
      await commit('skipped', { note: `condition is false: ${step.if}`, finishedAt: Date.now() });
      return 'skipped';
    }
    const resolved = (await resolveTemplates(step.with, ctx)) as { instructions?: unknown; input?: unknown };
    if (resolved.input === undefined) throw new InterlockError('TEMPLATE_ERROR', `llm step "${step.id}": input resolved to nothing; check the templates in llm.input`);
    req = { model: step.tool, instructions: String(resolved.instructions ?? ''), input: resolved.input };
  } catch (err) {
    return fail(err, {});
  }
  const args = req as unknown as Record<string, unknown>;
  const argumentsHash = sha256Hex(canonicalJson(args));
  const started = await store.startStep(run.id, step.id, { argumentsHash, attempt: job.attemptsMade + 1 }, false);
  if (!started.ok) return `not started: ${started.reason} ${started.status}`;
  const t0 = Date.now();
  const what = `llm step "${step.id}" (model ${step.tool})`;
  let output: unknown;
  try {
    const answer = await d.llm.complete(req, { name: schemaName(step.id), schema: step.outputSchema }, { timeoutMs: step.timeoutMs ?? DEFAULT_LLM_TIMEOUT_MS });
    output = checkAnswer(answer, step.outputSchema, what);
  } catch (err) {
    d.onStepFinished?.({ connector: step.connector, tool: step.tool, durationMs: Date.now() - t0, ok: false });
    // Answer problems already name the step; the endpoint's errors name only the model.
    const e = err instanceof InterlockError && err.code !== 'LLM_OUTPUT_INVALID' ? new InterlockError(err.code, `llm step "${step.id}": ${err.message}`, err.details, { cause: err }) : err;
    return fail(e, { arguments: args, argumentsHash, startedAt: t0 });
  }
  const finishedAt = Date.now();
  d.onStepFinished?.({ connector: step.connector, tool: step.tool, durationMs: finishedAt - t0, ok: true });
  await commit('succeeded', { arguments: args, argumentsHash, output, startedAt: t0, finishedAt, durationMs: finishedAt - t0 });
  return 'llm answered';
}

/** response_format names allow [a-zA-Z0-9_-]{1,64}; step ids are already close. */
function schemaName(stepId: string): string {
  return stepId.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64) || 'output';
}
