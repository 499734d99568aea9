import { describe, expect, it } from 'vitest';
import { toToolInfo } from '../../src/connectors/catalog.ts';
import { applyOverrides } from '../../src/connectors/overrides.ts';
import { makePin } from '../../src/runs/tool-pins.ts';
import { loadConfigFromString } from '../../src/workflows/load.ts';
import { FILE, expectIssue, expectLoadError, issuesOf, yaml } from './helpers.ts';

// Columns in the comments mark where each issue must point.
const head = (...tools: string[]) =>
  yaml(
    'connectors:', //                                      1
    '  slack:', //                                         2
    '    command: npx', //                                 3
    '    tools:', //                                       4
    '      overrides:', //                                 5
    ...tools, //                                           6…
    'workflows:',
    '  wf:',
    '    description: d',
    '    steps:',
    '      - id: a',
    '        call: slack.slack_list_channels',
  );

describe('tools.overrides in workflows.yaml', () => {
  it('loads annotations and fail_when per glob, in file order', () => {
    const config = loadConfigFromString(
      head(
        '        "slack_list_*": { annotations: { readOnlyHint: true, idempotentHint: true } }',
        '        "*": { fail_when: "${{ output.ok = false }}" }',
      ),
      FILE,
    );
    expect(config.connectors.slack.tools.overrides).toEqual([
      { match: 'slack_list_*', annotations: { readOnlyHint: true, idempotentHint: true }, pos: { line: 6, col: 9 } },
      { match: '*', failWhen: 'output.ok = false', pos: { line: 7, col: 9 } },
    ]);
  });

  it('reports a misspelt annotation at its line and column, with a suggestion', () => {
    expectLoadError(
      head('        "slack_*": { annotations: { readonlyHint: true } }'),
      '6:37',
      /unknown key "readonlyHint" in connector "slack" tools.overrides "slack_\*" annotations \(did you mean "readOnlyHint"\?\)/,
    );
  });

  it('reports an annotation that is not a boolean', () => {
    expectLoadError(
      head('        "slack_*": { annotations: { readOnlyHint: "yes" } }'),
      '6:51',
      /annotations.readOnlyHint must be true or false, not a string/,
    );
  });

  it('reports a bad glob, an empty override and an unknown key', () => {
    const issues = issuesOf(
      head('        "slack_[a]": { fail_when: "${{ isError }}" }', '        "x": {}', '        "y": { fail: "${{ isError }}" }'),
    );
    expectIssue(issues, 6, 9, /bad tool name or glob: "\[" is not glob syntax here/);
    expectIssue(issues, 7, 14, /tools.overrides "x" sets nothing: give it annotations, fail_when or both/);
    expectIssue(issues, 8, 16, /unknown key "fail" in connector "slack" tools.overrides "y"; allowed: annotations, fail_when/);
  });

  it('reports a fail_when that reads the run instead of the result, or does not parse, at the spot', () => {
    const issues = issuesOf(
      head(
        '        "a": { fail_when: "${{ steps.x.output.ok = false }}" }', //   col 32 = "steps"
        '        "b": { fail_when: "outptu.ok = false" }', //                  col 28 = "outptu"
        '        "c": { fail_when: "${{ output.ok = }}" }',
      ),
    );
    expectIssue(
      issues,
      6,
      32,
      /fail_when: reads "steps", but fail_when reads only the tool's result: output, content, text, isError, annotations/,
    );
    expectIssue(issues, 7, 28, /reads "outptu".*\(did you mean "output"\?\)/);
    expectIssue(issues, 8, 42, /fail_when: syntax error in expression "output.ok ="/);
  });
});

describe('overrides applied to a listed tool', () => {
  const raw = { name: 'slack_list_channels', inputSchema: { type: 'object' as const } };
  const overrides = [
    { match: 'slack_list_*', annotations: { readOnlyHint: true }, pos: { line: 1, col: 1 } },
    { match: '*', failWhen: 'output.ok = false', pos: { line: 2, col: 1 } },
  ];

  it('makes an unannotated tool a read, says it was loosened, and keeps what the server said', () => {
    const t = applyOverrides(toToolInfo('slack', raw), overrides);
    expect(t).toMatchObject({
      write: false,
      annotations: { readOnlyHint: true },
      serverAnnotations: {},
      loosened: ['readOnlyHint'],
      failWhen: ['output.ok = false'],
    });
  });

  it('pins the loosening: the same tool without the override has another pin', () => {
    const plain = makePin(toToolInfo('slack', raw));
    const loosened = makePin(applyOverrides(toToolInfo('slack', raw), overrides));
    expect(loosened.hash).not.toBe(plain.hash);
    expect(loosened.definition).toMatchObject({ annotations: { readOnlyHint: true }, loosened: ['readOnlyHint'] });
    // fail_when alone tightens; it leaves the pin as the server's.
    expect(makePin(applyOverrides(toToolInfo('slack', raw), [overrides[1]])).hash).toBe(plain.hash);
  });

  it('does not call a tightening a loosening', () => {
    const t = applyOverrides(toToolInfo('s', { ...raw, annotations: { readOnlyHint: true } }), [
      { match: '*', annotations: { readOnlyHint: false }, pos: { line: 1, col: 1 } },
    ]);
    expect(t.write).toBe(true);
    expect(t.loosened).toBeUndefined();
  });
});
