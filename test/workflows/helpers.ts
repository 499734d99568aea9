import { expect } from 'vitest';
import { ConfigError, type ConfigIssue } from '../../src/errors.ts';
import { loadConfigFromString } from '../../src/workflows/load.ts';

export const FILE = '/virtual/workflows.yaml';

/** Lines joined with "\n": tests count lines by array index + 1, which keeps positions honest. */
export function yaml(...lines: string[]): string {
  return `${lines.join('\n')}\n`;
}

/** The issues a document produces; fails the test if it loads cleanly. */
export function issuesOf(text: string): ConfigIssue[] {
  try {
    loadConfigFromString(text, FILE);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  throw new Error('expected the document to be rejected, but it loaded');
}

/** Asserts exactly one issue whose message matches, at line:col. */
export function expectIssue(issues: ConfigIssue[], line: number, col: number, message: RegExp): ConfigIssue {
  const hits = issues.filter((i) => message.test(i.message));
  expect(
    hits.map((h) => `${h.line}:${h.col} ${h.message}`),
    `issues: ${JSON.stringify(issues, null, 1)}`,
  ).toHaveLength(1);
  const [hit] = hits;
  expect({ line: hit.line, col: hit.col }, hit.message).toEqual({ line, col });
  expect(hit.file).toBe(FILE);
  return hit;
}

/** Lines 1–9: two connectors and the head of workflow "wf"; steps start on line 10. */
export const HEAD = [
  'connectors:',
  '  stripe:',
  '    command: interlock',
  '  slack:',
  '    url: http://127.0.0.1:1/mcp',
  'workflows:',
  '  wf:',
  '    description: test',
  '    steps:',
];

/** A workflow document: HEAD plus the given step lines (line 10 onwards). */
export function withSteps(...steps: string[]): string {
  return yaml(...HEAD, ...steps);
}

/**
 * Asserts that `text` is refused with exactly one issue matching `message`, at `at` ("line:col"):
 * the load-and-expect-error check most loader tests are.
 */
export function expectLoadError(text: string, at: `${number}:${number}`, message: RegExp): ConfigIssue {
  const [line, col] = at.split(':').map(Number);
  return expectIssue(issuesOf(text), line, col, message);
}

/** HEAD (lines 1–9), one step (10–11), then `server:` on line 12 with `lines` from line 13. */
export function withServer(...lines: string[]): string {
  return yaml(...HEAD, '      - id: s', '        call: stripe.read', 'server:', ...lines);
}

/** withServer with the built-in OAuth server and its secret (lines 13–16); `lines` from line 17. */
export function withBuiltinOAuth(...lines: string[]): string {
  return withServer('  auth:', '    oauth:', '      builtin:', '        secret: "${env:AS_SECRET}"', ...lines);
}

/** Every issue of a document as "line:col message", in file order; [] when it loads. */
export function issueLines(text: string): string[] {
  try {
    loadConfigFromString(text, FILE);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => `${i.line}:${i.col} ${i.message}`);
    throw err;
  }
  return [];
}
