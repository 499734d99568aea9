import { describe, expect, it } from 'vitest';
import { loadConfigFromString } from '../../src/workflows/load.ts';
import type { LlmStep } from '../../src/workflows/types.ts';
import { issueLines as issues } from '../workflows/helpers.ts';

const FILE = '/cfg/workflows.yaml';

/** A config whose one workflow is `steps`; line 1 is `llm:` when `top` is given. */
function config(top: string[], ...steps: string[]): string {
  return [
    ...top,
    'workflows:',
    '  wf:',
    '    description: d',
    '    inputs: { type: object, properties: { text: { type: string } } }',
    '    steps:',
    ...steps,
  ].join('\n');
}

const DRAFT = [
  '      - id: draft',
  '        llm:',
  '          instructions: Summarize ${{ inputs.text }}',
  '          input: { text: "${{ inputs.text }}" }',
  '          output_schema: { type: object, properties: { summary: { type: string } } }',
];

describe('loading llm steps', () => {
  it('reads an llm step as the call llm.<model>, taking the model from the top-level llm section', () => {
    const c = loadConfigFromString(
      config(['llm: { model: gpt-test, base_url: "http://127.0.0.1:9/v1", concurrency: 2 }'], ...DRAFT),
      FILE,
    );
    const step = c.workflows.wf.steps[0] as LlmStep;
    expect(step).toMatchObject({
      kind: 'llm',
      id: 'draft',
      connector: 'llm',
      tool: 'gpt-test',
      confirm: 'auto',
      with: { instructions: 'Summarize ${{ inputs.text }}', input: { text: '${{ inputs.text }}' } },
      outputSchema: { type: 'object', properties: { summary: { type: 'string' } } },
    });
    expect(c.llm).toMatchObject({ model: 'gpt-test', baseUrl: 'http://127.0.0.1:9/v1', concurrency: 2 });
  });

  it("lets a step's own model win over the default", () => {
    const c = loadConfigFromString(
      config(['llm: { model: gpt-test }'], ...DRAFT.slice(0, 2), '          model: other-model', ...DRAFT.slice(2)),
      FILE,
    );
    expect(c.workflows.wf.steps[0].tool).toBe('other-model');
  });

  it('refuses an llm step when no model is named anywhere, pointing at the llm key', () => {
    expect(issues(config([], ...DRAFT))).toEqual([expect.stringMatching(/^7:9 step 1 of workflow "wf" names no model/)]);
  });

  it('points at the keyword of an output_schema that does not compile', () => {
    const yaml = config(
      ['llm: { model: m }'],
      ...DRAFT.slice(0, 4),
      '          output_schema:',
      '            type: object',
      '            properties: { n: { type: integr } }',
    );
    expect(issues(yaml)).toEqual([
      expect.stringMatching(
        /^13:38 step 1 of workflow "wf" llm output_schema is not a valid JSON Schema: properties.n.type must be equal to one of the allowed values/,
      ),
    ]);
  });

  it('asks for type: object, because structured outputs answer with one object', () => {
    const yaml = config(['llm: { model: m }'], ...DRAFT.slice(0, 4), '          output_schema: { type: string }');
    expect(issues(yaml)).toEqual([expect.stringMatching(/^11:28 .*output_schema must have type: object/)]);
  });

  it('checks templates in instructions and input like a call’s with', () => {
    const yaml = config(
      ['llm: { model: m }'],
      '      - id: draft',
      '        llm:',
      '          instructions: Use ${{ steps.later.output }}',
      '          input: "${{ inputs.txet }}"',
      '          output_schema: { type: object }',
      '      - id: later',
      '        call: x.y',
    );
    const found = issues(yaml);
    expect(found).toContainEqual(expect.stringMatching(/^9:39 template reads steps\.later, which runs after this step/));
    expect(found).toContainEqual(expect.stringMatching(/^10:\d+ template reads inputs\.txet.*did you mean "text"/));
  });

  it('refuses with and confirm on an llm step, and a step with both call and llm', () => {
    const found = issues(
      config(
        ['llm: { model: m }'],
        ...DRAFT,
        '        with: { a: 1 }',
        '        confirm: always',
        '      - id: both',
        '        call: x.y',
        '        llm: { instructions: i, input: x, output_schema: { type: object } }',
      ),
    );
    expect(found).toContainEqual(expect.stringMatching(/^12:9 .*"with" does not apply to an llm step/));
    expect(found).toContainEqual(expect.stringMatching(/^13:9 .*"confirm" does not apply to an llm step/));
    expect(found).toContainEqual(expect.stringMatching(/^16:9 step 2 of workflow "wf" has both call and llm/));
  });

  it('refuses a connector named llm when llm steps need that queue', () => {
    const yaml = ['llm: { model: m }', 'connectors:', '  llm: { command: x }', ...config([], ...DRAFT).split('\n')].join('\n');
    expect(issues(yaml)).toContainEqual(expect.stringMatching(/a connector is named "llm"/));
  });

  it('ships refund-and-notify with an llm draft step that only runs when asked', async () => {
    const { loadConfig } = await import('../../src/workflows/load.ts');
    const c = loadConfig(new URL('../../workflows.yaml', import.meta.url).pathname);
    const steps = c.workflows['refund-and-notify'].steps;
    expect(steps.map((s) => `${s.id}:${s.kind}`)).toEqual(['charge:call', 'refund:call', 'draft:llm', 'notify:call']);
    expect(steps[2].if).toBe('inputs.draft_with_llm');
  });
});
