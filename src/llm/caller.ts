/**
 * How llm steps reach a model: the seam between the step logic and the SDK, and the official
 * OpenAI SDK behind it, asked for JSON with structured outputs (chat completions,
 * `response_format: json_schema`).
 */
import type OpenAI from 'openai';
import { InterlockError } from '../errors.ts';
import type { LlmConfig } from '../workflows/types.ts';
import { createOpenAI, llmError, openAISettings } from './openai.ts';

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
  complete(
    req: LlmRequest,
    schema: { name: string; schema: Record<string, unknown> },
    opts: { timeoutMs: number },
  ): Promise<LlmAnswer>;
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
        const completion = await c.chat.completions.create(
          {
            model: req.model,
            messages: [
              { role: 'system', content: req.instructions },
              { role: 'user', content: typeof req.input === 'string' ? req.input : JSON.stringify(req.input, null, 2) },
            ],
            response_format: { type: 'json_schema', json_schema: { name, schema, strict: strictCompatible(schema) } },
          },
          { timeout: timeoutMs },
        );
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
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'enum',
  'const',
  'description',
  'title',
  'anyOf',
  '$defs',
  '$ref',
  'pattern',
  'format',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minItems',
  'maxItems',
  '$schema',
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
  return [s.items, s.anyOf, s.$defs].every(
    (x) => x === undefined || (typeof x === 'object' && strictCompatible(Array.isArray(x) ? x : Object.values(x as object))),
  );
}
