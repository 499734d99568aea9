import { describe, expect, it } from 'vitest';
import { loadConfigFromString } from '../../src/workflows/load.ts';
import { FILE, issueLines } from './helpers.ts';

const WORKFLOWS = `
connectors:
  t: { transport: stdio, command: t }
workflows:
  w:
    description: one read
    inputs: { type: object }
    steps:
      - { id: a, call: t.read, with: {} }
`;

function problems(approvals: string): string[] {
  return issueLines(`approvals:\n${approvals}${WORKFLOWS}`);
}

describe('approvals.slack in workflows.yaml', () => {
  it('reads a channel, a signing secret from the environment and the approvers', () => {
    const cfg = loadConfigFromString(
      `approvals:\n  slack:\n    channel: "#billing"\n    signing_secret: \${env:SLACK_SIGNING_SECRET}\n    users: { U0GRACE: grace }${WORKFLOWS}`,
      FILE,
    );
    expect(cfg.approvals?.slack).toMatchObject({
      channel: '#billing',
      signingSecretEnv: 'SLACK_SIGNING_SECRET',
      users: { U0GRACE: 'grace' },
    });
  });

  it('names file positions for a literal secret, a bad channel, a user id that is not one, and a missing key', () => {
    expect(problems('  slack:\n    channel: billing\n    signing_secret: abc123\n    users: { grace: grace }\n')).toEqual([
      expect.stringMatching(/^3:14 approvals.slack channel must be a channel id/),
      expect.stringMatching(/^4:21 approvals.slack signing_secret must be "\$\{env:NAME\}"/),
      expect.stringMatching(/^5:14 "grace" is not a Slack user id/),
    ]);
    expect(problems('  slack:\n    channel: "#billing"\n    users: { U0GRACE: grace }\n')).toEqual([
      expect.stringMatching(/^2:3 approvals.slack is missing required key "signing_secret"/),
    ]);
    expect(problems('  slak: {}\n')).toEqual([
      expect.stringMatching(/^2:3 unknown key "slak" in approvals \(did you mean "slack"\?\)/),
    ]);
  });
});
