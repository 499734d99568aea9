import { describe, expect, it } from 'vitest';
import { loadConfigFromString } from '../../src/workflows/load.ts';
import { stepReads } from '../../src/workflows/refs.ts';
import { FILE, expectIssue, expectLoadError, issuesOf, withSteps } from './helpers.ts';

// What templates may read is checked when the file loads, from the parsed JSONata AST.
// Step "a" is lines 10–11 and its `with` starts on line 12; template values start at column 14.

const first = ['      - id: a', '        call: stripe.get', '        with:'];
const second = ['      - id: b', '        call: stripe.get'];

describe('template reads', () => {
  it('refuses a read of a step that runs later', () => {
    const issues = issuesOf(withSteps(...first, '          x: ${{ steps.b.output }}', ...second));
    expectIssue(issues, 13, 24, /template reads steps.b, which runs after this step; a step can read only the steps before it/);
  });

  it('refuses a read of the step itself', () => {
    expectLoadError(
      withSteps(...first, '          x: ${{ steps.a.output }}'),
      '13:24',
      /template reads steps.a, the step itself/,
    );
  });

  it('refuses a read of a step that does not exist, with a suggestion', () => {
    const issues = issuesOf(withSteps(...second, ...first.slice(0, 2), '        with:', '          x: ${{ steps.bb.output }}'));
    expectIssue(issues, 15, 24, /template reads steps.bb, but workflow "wf" has no step "bb" \(did you mean "b"\?\)/);
  });

  it('refuses a read of anything but inputs, steps and run at the root', () => {
    expectLoadError(
      withSteps(...first, '          x: ${{ input.a }}'),
      '13:18',
      /template reads "input", but templates read only inputs, steps.<id> and run \(did you mean "inputs"\?\)/,
    );
  });

  it('reads $$ as the root too', () => {
    expectLoadError(
      withSteps(...first, '          x: ${{ $$.stepz.a }}'),
      '13:21',
      /template reads "stepz".*\(did you mean "steps"\?\)/,
    );
  });

  it('refuses a field of a step other than output and status', () => {
    const issues = issuesOf(
      withSteps(...second, '      - id: a', '        call: stripe.get', '        with:', '          x: ${{ steps.b.outptu }}'),
    );
    expectIssue(
      issues,
      15,
      26,
      /template reads steps.b.outptu; a step has only output, content and status \(did you mean "output"\?\)/,
    );
  });

  it('refuses a field of run other than id, workflow and session', () => {
    expectLoadError(
      withSteps(...first, '          x: ${{ run.ids }}'),
      '13:22',
      /run has only id, workflow and session \(did you mean "id"\?\)/,
    );
  });

  it('refuses steps without a step name', () => {
    expectLoadError(
      withSteps(...first, '          x: ${{ steps.*.output }}'),
      '13:18',
      /template reads steps without naming one/,
    );
  });

  it('reports a JSONata syntax error at its column in the file', () => {
    expectLoadError(
      withSteps(...first, '          x: "${{ inputs.a + }}"'),
      '13:28',
      /syntax error in expression "inputs.a \+": Unexpected end of expression/,
    );
    expectLoadError(
      withSteps(...first, '          x: ${{ inputs.a ; 2 }}'),
      '13:27',
      /syntax error in expression "inputs.a ; 2"/,
    );
  });

  it('reports an unterminated template', () => {
    expectLoadError(withSteps(...first, '          x: "${{ inputs.a"'), '13:15', /unterminated template/);
  });

  it('refuses $eval, which would turn data into code', () => {
    expectLoadError(withSteps(...first, '          x: ${{ $eval(inputs.code) }}'), '13:18', /\$eval is not allowed/);
  });

  it('checks templates deep inside with, in lists and block scalars', () => {
    const issues = issuesOf(
      withSteps(
        ...first,
        '          deep:', // 13
        '            list:', // 14
        '              - {n: "${{ steps.q1.output }}"}', // 15: q1 at col 32
        '          text: |', // 16
        '            Hello ${{ inputs.name }}', // 17
        '            from ${{ steps.q2.output }}', // 18: q2 at col 28
      ),
    );
    expectIssue(issues, 15, 32, /no step "q1"/);
    expect(issues.find((i) => /q1/.test(i.message))?.path).toBe('workflows.wf.steps[0].with.deep.list[0].n');
    expectIssue(issues, 18, 28, /no step "q2"/);
  });

  it('finds the column past escapes in a double-quoted string', () => {
    expectLoadError(withSteps(...first, '          x: "say \\"hi\\" ${{ steps.zz.output }}"'), '13:36', /no step "zz"/);
  });

  it('points at each of two identical templates in one string', () => {
    const issues = issuesOf(withSteps(...first, '          x: ${{ steps.q.output }} ${{ steps.q.output }}'));
    expect(issues.map((i) => `${i.line}:${i.col}`)).toEqual(['13:24', '13:46']);
  });

  it('refuses a template in an argument name, which would be sent literally', () => {
    expectLoadError(
      withSteps(...first, '          "${{ inputs.k }}": 1'),
      '13:11',
      /templates are not evaluated in argument names/,
    );
  });

  it('does not mistake text inside a string literal for a read', () => {
    const config = loadConfigFromString(withSteps(...first, '          x: ${{ "steps.nope.output" & inputs.a }}'), FILE);
    expect(config.workflows.wf.steps[0].with.x).toBe('${{ "steps.nope.output" & inputs.a }}');
    expect(stepReads('"steps.nope.output" & steps.prev.output.id & $$.steps.other.status')).toEqual(['prev', 'other']);
  });
});

describe('if', () => {
  const stepWithIf = (cond: string) => withSteps(...second, '      - id: a', '        call: stripe.get', `        if: ${cond}`);

  it('takes a bare expression or one template, and stores the bare expression', () => {
    for (const cond of [
      'steps.b.status = "succeeded"',
      '${{ steps.b.status = "succeeded" }}',
      '"${{ steps.b.status = \'succeeded\' }}"',
    ]) {
      const config = loadConfigFromString(stepWithIf(cond), FILE);
      expect(config.workflows.wf.steps[1].if).toMatch(/^steps\.b\.status = ["']succeeded["']$/);
    }
  });

  it('refuses text around a template', () => {
    expectLoadError(stepWithIf('"a ${{ inputs.x }}"'), '14:13', /if must be one expression/);
  });

  it('checks what a bare expression reads', () => {
    expectLoadError(
      withSteps('      - id: a', '        call: stripe.get', '        if: steps.b.status = "succeeded"', ...second),
      '12:19',
      /steps.b, which runs after this step/,
    );
  });

  it('checks the root of a wrapped expression', () => {
    expectLoadError(stepWithIf('${{ foo }}'), '14:17', /template reads "foo"/);
  });
});
