import { describe, expect, it } from 'vitest';
import { loadConfigFromString } from '../../src/workflows/load.ts';
import { FILE, issueLines } from '../workflows/helpers.ts';

// Every mistake in a trigger names its file, line and column, like the rest of workflows.yaml.

const head = `
connectors:
  test: { transport: stdio, command: node }
workflows:
  wf:
    description: d
    inputs: { type: object, required: [charge], properties: { charge: { type: string } }, additionalProperties: false }
    steps:
      - { id: a, call: test.echo }
    triggers:
`;

function issues(triggers: string, extra = ''): string[] {
  return issueLines(head + triggers + extra);
}

describe('triggers in workflows.yaml', () => {
  it('reads a schedule and webhooks of both kinds', () => {
    const config = loadConfigFromString(
      `${head}      - { cron: "0 9 * * 1", timezone: Europe/Berlin, inputs: { charge: ch_1 } }
      - { name: quick, every: 15m, missed: skip, inputs: { charge: "\${{ tick.time }}" } }
      - { webhook: stripe, secret: "\${env:WHSEC}", events: [charge.dispute.created], inputs: { charge: "\${{ event.data.object.charge }}" } }
      - { name: gh, webhook: hmac, hook: github, secret: "\${env:GH}", header: X-Hub-Signature-256, prefix: "sha256=", id_header: X-GitHub-Delivery }
`,
      FILE,
    );
    const t = config.workflows.wf.triggers ?? [];
    expect(t.map((x) => x.id)).toEqual(['wf.1', 'wf.quick', 'wf.3', 'wf.gh']);
    expect(t[0]).toMatchObject({ kind: 'schedule', cron: '0 9 * * 1', timezone: 'Europe/Berlin', missed: 'run_once' });
    expect(t[1]).toMatchObject({ kind: 'schedule', everyMs: 900_000, missed: 'skip' });
    expect(t[2]).toMatchObject({ kind: 'webhook', hook: 'wf', verify: { type: 'stripe', secretEnv: 'WHSEC', toleranceS: 300 } });
    expect(t[3]).toMatchObject({
      kind: 'webhook',
      hook: 'github',
      verify: { type: 'hmac', header: 'x-hub-signature-256', idHeader: 'x-github-delivery' },
    });
  });

  it('names line and column of each mistake', () => {
    expect(issues(`      - { cron: "61 * * * *" }\n`)).toEqual([
      '11:17 trigger 1 of workflow "wf" cron "61 * * * *" is not a cron pattern: Constraint error, got value 61 expected range 0-59',
    ]);
    expect(issues(`      - { cron: "0 9 * * 1", timezone: Europe/Berlinn }\n`)[0]).toBe(
      '11:40 trigger 1 of workflow "wf" has unknown timezone "Europe/Berlinn" (did you mean "Europe/Berlin"?); use an IANA name such as Europe/Berlin',
    );
    expect(issues(`      - { every: 5m, missed: skipp }\n`)[0]).toMatch(/^11:30 .*missed "skipp" \(did you mean "skip"\?\)/);
    expect(issues(`      - { every: soon }\n`)[0]).toMatch(/^11:18 trigger 1 of workflow "wf" every has a bad duration "soon"/);
    expect(issues(`      - { every: 5m, cron: "* * * * *" }\n`)[0]).toMatch(/^11:11 .*has both cron and every/);
    expect(issues(`      - { cron: "* * * * *", every: 5m }\n`)[0]).toMatch(/^11:30 .*has both cron and every/);
    expect(issues(`      - { webhook: stripe, secret: whsec_literal }\n`)[0]).toMatch(/^11:36 .*secret must be "\$\{env:NAME\}"/);
    expect(issues(`      - { webhook: strpe, secret: "\${env:X}" }\n`)[0]).toMatch(
      /^11:20 .*unknown webhook kind "strpe" \(did you mean "stripe"\?\)/,
    );
    expect(issues(`      - { webhook: stripe, secret: "\${env:X}", inputs: { charge: "\${{ inputs.charge }}" } }\n`)[0]).toBe(
      '11:71 template reads "inputs", but a webhook reads only event (the body it received)',
    );
    expect(issues(`      - { webhook: hmac, secret: "\${env:X}" }\n`)[0]).toMatch(/^11:9 .*an hmac webhook needs header:/);
    expect(issues(`      - { cron: "0 9 * * 1", inputs: { charge: 5 } }\n`)[0]).toMatch(
      /^11:38 .*inputs do not fit the workflow's inputs: charge/,
    );
    expect(issues(`      - { cron: "0 9 * * 1", retry: 3 }\n`)[0]).toMatch(/^11:30 unknown key "retry"/);
    expect(issues(`      - { every: 1m }\n      - { every: 2m, name: "1" }\n`)[0]).toMatch(
      /^12:9 workflow "wf" has two triggers named "1"/,
    );
  });

  it('refuses two webhooks on one hook that verify differently', () => {
    const found = issues(
      `      - { webhook: stripe, hook: stripe, secret: "\${env:A}" }\n`,
      `  other:
    description: d
    steps:
      - { id: a, call: test.echo }
    triggers:
      - { webhook: stripe, hook: stripe, secret: "\${env:B}" }
`,
    );
    expect(found).toEqual([
      expect.stringMatching(/^17:9 trigger other\.1 shares hook "stripe" with wf\.1 \(line 11\) but verifies it differently/),
    ]);
  });

  it('reserves schedule: and webhook: for the runs triggers start', () => {
    const found = issues(
      `      - { every: 1m, inputs: { charge: c } }\n`,
      `tokens:\n  - { name: "webhook:wf.1", token: "\${env:T}", scopes: [confirm] }\n`,
    );
    expect(found).toEqual([expect.stringMatching(/^13:13 token name "webhook:wf\.1" is reserved/)]);
  });
});
