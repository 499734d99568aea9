/**
 * What a tools/call answer means. Servers are not trusted to behave: many answer JSON as text
 * without `structuredContent`, report failure in text with `isError: false`, or return structured
 * content that breaks their own `outputSchema`. This module turns the raw answer into what templates
 * read, and checks it: against the declared output schema, then against the connector's `fail_when`.
 */
import { InterlockError, errorMessage } from '../errors.ts';
import { evaluateCondition } from '../templates.ts';
import { schemaIssues } from './arguments.ts';
import { loosenedText } from './overrides.ts';
import type { ToolCallResult, ToolInfo } from './types.ts';

interface Block {
  type?: unknown;
  text?: unknown;
}

export function toCallResult(raw: object): ToolCallResult {
  const res = raw as { isError?: unknown; content?: unknown; structuredContent?: unknown };
  const content = Array.isArray(res.content) ? (res.content as Block[]) : [];
  const text = content
    .filter((b) => b.type === 'text' && typeof b.text === 'string')
    .map((b) => b.text as string)
    .join('\n');
  const structured = res.structuredContent;
  const out: ToolCallResult = {
    isError: res.isError === true,
    output: structured ?? jsonText(content) ?? content,
    content,
    text,
  };
  if (structured !== undefined) out.structured = structured;
  return out;
}

const NOT_JSON = undefined;

/** The JSON a result's one and only text block holds, or undefined. */
function jsonText(content: Block[]): unknown {
  if (content.length !== 1) return NOT_JSON;
  const [b] = content;
  if (b.type !== 'text' || typeof b.text !== 'string') return NOT_JSON;
  const t = b.text.trim();
  if (t === '') return NOT_JSON;
  try {
    return JSON.parse(t) as unknown;
  } catch {
    return NOT_JSON;
  }
}

/**
 * What a step records of a result: `output`, plus the raw `content` blocks when `output` was read
 * out of a text block (with structured content the blocks only repeat it).
 */
export function recordedResult(r: ToolCallResult): { output: unknown; content?: unknown[] } {
  return r.structured === undefined && r.output !== r.content ? { output: r.output, content: r.content } : { output: r.output };
}

/** A step note for the run's record and page when the tool ran as it did because an override loosened it. */
export function loosenedNote(tool: ToolInfo): { note?: string } {
  const text = loosenedText(tool);
  return text ? { note: `${tool.connector}.${tool.name}: annotations ${text}` } : {};
}

/** What a `fail_when` condition reads. */
export function failWhenContext(tool: ToolInfo, r: ToolCallResult): Record<string, unknown> {
  return { output: r.output, content: r.content, text: r.text, isError: r.isError, annotations: tool.annotations };
}

const MAX_TEXT = 2000;

/**
 * The reason a result that the server did not mark `isError` is still a failure, or undefined.
 * `fail_when` is checked first: a server that reports failure in text usually breaks its schema
 * too, and the text it gave says more than a schema complaint.
 */
export async function checkToolResult(tool: ToolInfo, r: ToolCallResult): Promise<InterlockError | undefined> {
  if (r.isError) return undefined;
  const qualified = `${tool.connector}.${tool.name}`;
  for (const cond of tool.failWhen ?? []) {
    let failed: boolean;
    try {
      failed = await evaluateCondition(cond, failWhenContext(tool, r));
    } catch (err) {
      return new InterlockError(
        'TEMPLATE_ERROR',
        `${qualified}: its fail_when (${cond}) could not be evaluated: ${errorMessage(err)}`,
        { connector: tool.connector, tool: tool.name, failWhen: cond },
      );
    }
    if (failed) {
      const said = r.text.length > MAX_TEXT ? `${r.text.slice(0, MAX_TEXT)}…` : r.text;
      return new InterlockError(
        'TOOL_REPORTED_FAILURE',
        `${qualified} reported a failure (fail_when: ${cond}): ${said || '(no text)'}`,
        { connector: tool.connector, tool: tool.name, failWhen: cond },
      );
    }
  }
  if (tool.outputSchema) {
    if (r.structured === undefined) {
      return new InterlockError(
        'TOOL_OUTPUT_INVALID',
        `${qualified} declares an outputSchema but returned no structuredContent`,
        { connector: tool.connector, tool: tool.name },
      );
    }
    const issues = schemaIssues(tool.outputSchema, r.structured);
    if (issues.length > 0) {
      const list = issues.map((i) => `${i.field || '(output)'} ${i.message}`).join('; ');
      return new InterlockError('TOOL_OUTPUT_INVALID', `${qualified} returned output that breaks its own outputSchema: ${list}`, {
        connector: tool.connector,
        tool: tool.name,
        issues,
      });
    }
  }
  return undefined;
}
