/**
 * `llm` steps and the top-level `llm` section of workflows.yaml. An llm step asks a model for
 * JSON matching its `output_schema`; everything that can be known before it runs (the model,
 * the schema compiling, what its templates read) is checked here, with the step's line:col.
 */
import { isMap, isSeq } from 'yaml';
import { inputSchemaProblems } from './inputs.ts';
import { type Field, type Source, readInt, readMap, readString, typeName } from './source.ts';
import { type CheckCtx, type StepCommon, checkTemplatesIn, nodeAt } from './steps.ts';
import { LLM_CONNECTOR, type LlmConfig, type LlmStep } from './types.ts';

export const DEFAULT_LLM_CONCURRENCY = 5;

/** `llm: {model?, base_url?, concurrency?}` */
export function readLlmConfig(src: Source, f: Field): LlmConfig | undefined {
  const m = readMap(src, f, 'llm', { optional: ['model', 'base_url', 'concurrency'] });
  if (!m) return undefined;
  const model = m.model ? readModel(src, m.model, 'llm model') : undefined;
  const baseUrl = m.base_url ? readString(src, m.base_url, 'llm base_url') : undefined;
  if (baseUrl !== undefined && m.base_url && !/^https?:\/\//.test(baseUrl)) {
    src.add(
      m.base_url.pos,
      m.base_url.path,
      'llm base_url must start with http:// or https:// (an OpenAI-compatible endpoint, e.g. https://api.openai.com/v1)',
    );
    return undefined;
  }
  const concurrency = m.concurrency ? readInt(src, m.concurrency, 'llm concurrency', 1) : DEFAULT_LLM_CONCURRENCY;
  if ((m.model && model === undefined) || (m.base_url && baseUrl === undefined) || concurrency === undefined) return undefined;
  return { ...(model !== undefined ? { model } : {}), ...(baseUrl !== undefined ? { baseUrl } : {}), concurrency, pos: f.keyPos };
}

function readModel(src: Source, f: Field, what: string): string | undefined {
  const model = readString(src, f, what);
  if (model !== undefined && model.trim() === '') {
    src.add(f.pos, f.path, `${what} cannot be empty`);
    return undefined;
  }
  return model;
}

const NOT_FOR_LLM: Record<string, string> = {
  with: 'an llm step calls no tool: its arguments are llm.instructions and llm.input',
  confirm: 'an llm step writes nothing, so there is nothing to confirm; the writes after it still ask',
};

/**
 * The rest of a step that has `llm` instead of `call`. `m` is the step's map (already checked for
 * unknown keys); `common` holds id, if, retry and timeout, or is undefined when any was wrong.
 */
export function readLlmStep(
  src: Source,
  f: Field,
  m: Record<string, Field>,
  what: string,
  ctx: CheckCtx,
  common: (StepCommon & { id: string }) | undefined,
): LlmStep | undefined {
  let ok = true;
  for (const [key, why] of Object.entries(NOT_FOR_LLM)) {
    if (!m[key]) continue;
    src.add(m[key].keyPos, m[key].path, `${what}: "${key}" does not apply to an llm step (${why})`);
    ok = false;
  }
  if (!m.llm) return undefined;
  const { connectors, declared, llm: defaults } = ctx.scope;
  if (connectors[LLM_CONNECTOR] || declared.connectors.has(LLM_CONNECTOR)) {
    src.add(
      m.llm.keyPos,
      m.llm.path,
      `${what} is an llm step, but a connector is named "${LLM_CONNECTOR}": llm steps run on a queue of that name, so rename the connector`,
    );
    ok = false;
  }
  const spec = readMap(src, m.llm, `${what} llm`, { required: ['instructions', 'input', 'output_schema'], optional: ['model'] });
  if (!spec) return undefined;
  const model = spec.model ? readModel(src, spec.model, `${what} llm model`) : defaults?.model;
  if (model === undefined && !spec.model) {
    src.add(
      m.llm.keyPos,
      `${m.llm.path}.model`,
      `${what} names no model: add model to the step's llm, or a top-level llm: {model: …} for every llm step`,
    );
  }
  const instructions = spec.instructions && readString(src, spec.instructions, `${what} llm instructions`);
  const before = src.issues.length;
  if (instructions !== undefined && spec.instructions)
    checkTemplatesIn(src, src.deref(spec.instructions.node)!, spec.instructions.path, ctx);
  const inputNode = spec.input ? src.deref(spec.input.node) : null;
  if (spec.input && inputNode === null)
    src.add(spec.input.pos, spec.input.path, `${what} llm input is empty: give the text or data the model works on`);
  else if (spec.input && inputNode) checkTemplatesIn(src, inputNode, spec.input.path, ctx);
  const outputSchema = spec.output_schema && readOutputSchema(src, spec.output_schema, what);
  if (
    !ok ||
    !common ||
    model === undefined ||
    instructions === undefined ||
    !inputNode ||
    !outputSchema ||
    src.issues.length > before
  )
    return undefined;
  const keyPos: LlmStep['keyPos'] = {};
  for (const k of ['llm', 'if', 'retry', 'timeout'] as const) if (m[k]) keyPos[k] = m[k].keyPos;
  return {
    kind: 'llm',
    id: common.id,
    connector: LLM_CONNECTOR,
    tool: model,
    with: { instructions, input: inputNode.toJS(src.doc) as unknown },
    outputSchema,
    confirm: 'auto',
    ...(common.if !== undefined ? { if: common.if } : {}),
    retry: common.retry,
    ...(common.timeoutMs !== undefined ? { timeoutMs: common.timeoutMs } : {}),
    pos: f.pos,
    keyPos,
  };
}

function readOutputSchema(src: Source, f: Field, what: string): Record<string, unknown> | undefined {
  const node = src.deref(f.node);
  const label = `${what} llm output_schema`;
  if (!isMap(node)) {
    src.add(f.pos, f.path, `${label} must be a JSON Schema (a map), not ${isSeq(node) ? 'a list' : typeName(node)}`);
    return undefined;
  }
  const schema = node.toJS(src.doc) as Record<string, unknown>;
  if (schema.type !== 'object') {
    // Structured outputs answer with one JSON object; a schema for anything else cannot be asked for.
    src.add(
      src.posOf(nodeAt(src, node, [], schema.type === undefined ? undefined : 'type'), f.pos),
      f.path,
      `${label} must have type: object (the model answers with one JSON object; put other values in its properties)`,
    );
    return undefined;
  }
  const problems = inputSchemaProblems(schema);
  for (const p of problems) {
    const at = nodeAt(src, node, p.pointer, p.keyword);
    src.add(
      src.posOf(at, f.pos),
      `${f.path}${p.pointer.map((s) => `.${s}`).join('')}`,
      `${label} is not a valid JSON Schema: ${p.message}`,
    );
  }
  return problems.length === 0 ? schema : undefined;
}
