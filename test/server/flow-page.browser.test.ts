import { resolve } from 'node:path';
import { describe, expect } from 'vitest';
import { ROOT, callLogPath, testConnectorYaml, waitForStatus } from '../helpers/app.ts';
import { appTest } from '../helpers/fixtures.ts';
import { approve, confirmationArguments, findConfirmation, screenshot, signIn, waitForRunStatus } from '../helpers/browser.ts';
import { TOKENS, TOKENS_ENV, TOKENS_YAML } from './helpers.ts';

const yaml = (log: string) => `
connectors:${testConnectorYaml(log)}
${TOKENS_YAML}
workflows:
  kid:
    description: echo what it is given
    inputs: { type: object, required: [text], properties: { text: { type: string } } }
    steps:
      - { id: say, call: test.echo, with: { text: "\${{ inputs.text }}" } }
  tour:
    description: a loop of writes, two branches and a child run
    inputs: { type: object, required: [names], properties: { names: { type: array, items: { type: string } } } }
    steps:
      - id: records
        foreach: \${{ inputs.names }}
        as: name
        concurrency: 2
        call: test.record
        with: { name: "\${{ name }}" }
      - id: both
        parallel:
          left: [{ id: a, call: test.echo, with: { text: left } }]
          right: [{ id: b, call: test.echo, with: { text: right } }]
      - id: child
        workflow: kid
        with: { text: "\${{ steps.left.a.output.text & '+' & steps.right.b.output.text }}" }
`;

const it = appTest({ yaml: yaml(callLogPath()), server: { env: TOKENS_ENV } });

describe('the run page draws loops, branches and child runs (Chromium)', () => {
  it('approves a loop as one batch on the page, then shows each item, both branches and the child run linked both ways', async ({
    app,
    server,
    browser,
  }) => {
    const { run } = await app.engine.trigger('tour', { names: ['ada', 'grace', 'edsger'] });
    await waitForStatus(app, run.id, ['awaiting_confirmation']);
    const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await signIn(page, server.url, TOKENS.approver, `/ui/runs/${run.id}`);
    await page.goto(`${server.url}/ui`);
    const card = await findConfirmation(page, { runId: run.id });
    const args = (await confirmationArguments(card)) as { items: Array<{ key: string; arguments: unknown }> };
    expect(args.items.map((i) => [i.key, i.arguments])).toEqual([
      ['0', { name: 'ada' }],
      ['1', { name: 'grace' }],
      ['2', { name: 'edsger' }],
    ]);
    await approve(card);
    const done = await waitForStatus(app, run.id, ['succeeded', 'failed']);
    expect(done.status).toBe('succeeded');

    await page.goto(`${server.url}/ui/runs/${run.id}`);
    await waitForRunStatus(page, run.id, 'succeeded');
    expect(await page.locator('[data-loop-counts="records"]').innerText()).toBe('3 succeeded');
    expect(await page.locator('tr[data-item]').count()).toBe(3);
    expect(await page.locator('tr[data-item="1"]').innerText()).toContain('grace');
    expect(await page.locator('[data-branch]').evaluateAll((els) => els.map((e) => e.getAttribute('data-branch')))).toEqual([
      'left',
      'right',
    ]);
    expect(await page.locator('[data-branch-step="right.b"] .badge').innerText()).toBe('succeeded');
    const childId = done.steps.child.child as string;
    // The API shows the tree both ways.
    const get = async (id: string) =>
      (await (
        await fetch(`${server.url}/api/v1/runs/${id}`, { headers: { authorization: `Bearer ${TOKENS.reader}` } })
      ).json()) as {
        children: unknown[];
        parent?: unknown;
      };
    expect((await get(run.id)).children).toEqual([{ runId: childId, stepId: 'child' }]);
    expect((await get(childId)).parent).toEqual({ runId: run.id, stepId: 'child' });
    await screenshot(page, resolve(ROOT, 'test-results/ui-flow-run.png'));
    await page.locator(`a[data-child="${childId}"]`).click();
    await waitForRunStatus(page, childId, 'succeeded');
    expect(await page.locator(`a[data-parent="${run.id}"]`).count()).toBe(1);
    expect(await page.locator('pre.step-output').first().innerText()).toContain('left+right');
    expect(errors).toEqual([]);
  });
});
