import { describe, expect, it } from 'vitest';
import { loadConfigFromString } from '../../src/workflows/load.ts';
import type { ForeachStep, ParallelStep, SleepStep, WorkflowStep } from '../../src/workflows/types.ts';
import { FILE, expectIssue, issuesOf, withSteps, yaml } from './helpers.ts';

describe('control-flow steps load with their shape', () => {
  it('reads parallel, foreach, a child workflow and the waits', () => {
    const cfg = loadConfigFromString(
      yaml(
        'connectors:',
        '  stripe: {command: interlock}',
        'workflows:',
        '  child:',
        '    description: c',
        '    steps:',
        '      - {id: one, call: stripe.get_balance}',
        '  wf:',
        '    description: test',
        '    steps:',
        '      - id: list',
        '        call: stripe.list_charges',
        '      - id: lookup',
        '        parallel:',
        '          cust:',
        '            - {id: get, call: stripe.retrieve_customer, with: {id: "${{ steps.list.output.charges[0].customer }}"}}',
        '          chg:',
        '            - {id: get, call: stripe.retrieve_charge}',
        '            - {id: again, call: stripe.retrieve_charge, with: {id: "${{ steps.get.output.id }}"}}',
        '      - id: refunds',
        '        foreach: ${{ steps.list.output.charges }}',
        '        as: charge',
        '        concurrency: 3',
        '        call: stripe.create_refund',
        '        with: {charge_id: "${{ charge.id }}", n: "${{ loop.index }}", c: "${{ steps.cust.get.output.id }}"}',
        '      - id: kid',
        '        workflow: child',
        '        with: {x: "${{ steps.refunds.output }}"}',
        '      - {id: nap, sleep: 10m}',
        '      - {id: until, wait_until: "2030-01-01T00:00:00Z"}',
      ),
      FILE,
    );
    const steps = cfg.workflows.wf.steps;
    const par = steps[1] as ParallelStep;
    expect(par.kind).toBe('parallel');
    expect(Object.keys(par.branches)).toEqual(['cust', 'chg']);
    expect(par.branches.chg.map((s) => s.id)).toEqual(['get', 'again']);
    const loop = steps[2] as ForeachStep;
    expect(loop).toMatchObject({
      kind: 'foreach',
      foreach: 'steps.list.output.charges',
      as: 'charge',
      concurrency: 3,
      single: true,
    });
    expect(loop.steps[0]).toMatchObject({ kind: 'call', id: 'refunds', connector: 'stripe', tool: 'create_refund' });
    expect((steps[3] as WorkflowStep).workflow).toBe('child');
    expect((steps[4] as SleepStep).sleepMs).toBe(600_000);
    expect((steps[5] as SleepStep).waitUntil).toBe('2030-01-01T00:00:00Z');
    // Positions stay out of the version: the same definition elsewhere in the file hashes alike.
    expect(JSON.stringify(cfg.workflows.wf.version)).toHaveLength(14);
  });
});

describe('control-flow mistakes are reported at line:col', () => {
  it('a foreach that is not one list template', () => {
    const issues = issuesOf(
      withSteps('      - id: loop', '        foreach: "charges: ${{ inputs.x }}"', '        call: stripe.x'),
    );
    expectIssue(issues, 11, 18, /foreach must be one template that gives a list/);
  });

  it('a foreach over a literal list', () => {
    const issues = issuesOf(withSteps('      - id: loop', '        foreach: [1, 2]', '        call: stripe.x'));
    expectIssue(issues, 11, 18, /foreach must be a template that gives a list, .* not a list/);
  });

  it('concurrency below 1', () => {
    const issues = issuesOf(
      withSteps('      - id: loop', '        foreach: ${{ inputs.x }}', '        concurrency: 0', '        call: stripe.x'),
    );
    expectIssue(issues, 12, 22, /concurrency must be a whole number of at least 1, not 0/);
  });

  it('an unknown branch step and a branch read before its parallel step', () => {
    const issues = issuesOf(
      withSteps(
        '      - id: first',
        '        call: stripe.x',
        '        with: {a: "${{ steps.b1.nope.output }}"}',
        '      - id: par',
        '        parallel:',
        '          b1: [{id: get, call: stripe.y}]',
        '      - id: after',
        '        call: stripe.z',
        '        with: {a: "${{ steps.b1.gte.output }}"}',
      ),
    );
    expectIssue(issues, 12, 30, /branch of a parallel step that runs after this step/);
    expectIssue(issues, 18, 33, /branch "b1" has no step "gte" \(did you mean "get"\?\)/);
  });

  it('a loop item read outside its loop', () => {
    const issues = issuesOf(withSteps('      - id: s', '        call: stripe.x', '        with: {a: "${{ charge.id }}"}'));
    expectIssue(issues, 12, 24, /template reads "charge", but templates read only inputs/);
  });

  it('an unknown child workflow and a cycle of them', () => {
    const issues = issuesOf(
      yaml(
        'connectors:',
        '  stripe: {command: interlock}',
        'workflows:',
        '  a:',
        '    description: a',
        '    steps:',
        '      - {id: go, workflow: b}',
        '  b:',
        '    description: b',
        '    steps:',
        '      - {id: back, workflow: a}',
        '      - {id: lost, workflow: nowhere}',
      ),
    );
    expectIssue(issues, 7, 28, /starts workflow "b", which leads back to "a" \(a → b → a\)/);
    expectIssue(issues, 11, 30, /starts workflow "a", which leads back to "b"/);
    expectIssue(issues, 12, 30, /starts workflow "nowhere", which is not defined/);
  });

  it('bad durations and dates', () => {
    const issues = issuesOf(withSteps('      - {id: a, sleep: 10 minutes}', '      - {id: b, wait_until: "next tuesday"}'));
    expectIssue(issues, 10, 24, /sleep has a bad duration "10 minutes"/);
    expectIssue(issues, 11, 29, /wait_until "next tuesday" is not a date-time/);
  });

  it('a flow step inside a loop body, and two flow keys on one step', () => {
    const issues = issuesOf(
      withSteps(
        '      - id: loop',
        '        foreach: ${{ inputs.x }}',
        '        steps:',
        '          - {id: inner, sleep: 1s}',
        '      - {id: both, sleep: 1s, wait_until: "2030-01-01T00:00:00Z"}',
      ),
    );
    expectIssue(issues, 13, 13, /"sleep" cannot be used here; a loop body or a branch holds call steps only/);
    expectIssue(issues, 14, 31, /has both sleep and wait_until/);
  });
});
