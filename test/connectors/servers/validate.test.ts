/** `interlock validate` on overrides: a bad one is an error at file:line:col, a loosening is a warning naming the tools. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../helpers/app.ts';
import { CONNECTORS } from './helpers.ts';

const CLI = join(ROOT, 'src/cli.ts');
const dir = mkdtempSync(join(tmpdir(), 'interlock-validate-'));
const ENV = {
  ...process.env,
  NO_COLOR: '1',
  THIRD_PARTY_SLACK_TOKEN: 'xoxb-validate',
  INTERLOCK_SLACK_API_URL: 'http://127.0.0.1:9/api/',
};

function validate(yaml: string, ...flags: string[]) {
  const file = join(dir, `wf-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, yaml);
  const r = spawnSync(process.execPath, [CLI, 'validate', file, ...flags], { encoding: 'utf8', env: ENV, timeout: 60_000 });
  return { ...r, file };
}

const WORKFLOW = `
workflows:
  wf:
    description: d
    steps:
      - id: a
        call: slack_mcp.slack_list_channels
        with: {}
`;

describe('interlock validate and tools.overrides', () => {
  it('reports a bad override at file:line:col and exits 1', () => {
    const yaml = `connectors:${CONNECTORS.slackMcp}\n        "slack_post_*": { annotations: { readOnly: true }, fail_when: "\${{ outptu.ok = false }}" }\n${WORKFLOW}`;
    const lines = yaml.split('\n');
    const line = lines.findIndex((l) => l.includes('readOnly: true')) + 1;
    const col = lines[line - 1].indexOf('readOnly:') + 1;
    const r = validate(yaml, '--offline');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      `${r.file}:${line}:${col}: unknown key "readOnly" in connector "slack_mcp" tools.overrides "slack_post_*" annotations; allowed: readOnlyHint, destructiveHint, idempotentHint, openWorldHint`,
    );
    expect(r.stderr).toMatch(
      new RegExp(
        `${r.file}:${line}:\\d+: connector "slack_mcp" tools.overrides "slack_post_\\*" fail_when: reads "outptu".*did you mean "output"`,
      ),
    );
  });

  it('warns offline that an override loosens hints wherever the server is silent, and passes', () => {
    const r = validate(`connectors:${CONNECTORS.slackMcp}\n${WORKFLOW}`, '--offline');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /:\d+:9: warning: connectors\.slack_mcp\.tools\.overrides "slack_list_\*": sets readOnlyHint: true, idempotentHint: true; for every matching tool whose server does not declare it, this loosens the rule/,
    );
  });

  it('interlock connectors tools marks each loosened tool and shows its fail_when', () => {
    const file = join(dir, 'tools.yaml');
    writeFileSync(file, `connectors:${CONNECTORS.slackMcp}\n${WORKFLOW}`);
    const r = spawnSync(process.execPath, [CLI, '--config', file, 'connectors', 'tools', 'slack_mcp'], {
      encoding: 'utf8',
      env: ENV,
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const line = (name: string) => r.stdout.split('\n').find((l) => l.includes(`slack_mcp.${name} `)) ?? '';
    expect(line('slack_list_channels')).toMatch(
      /^read .*\(loosened by tools\.overrides \(readOnlyHint: true, idempotentHint: true\); the server does not declare these\) {2}fail_when: output\.ok = false$/,
    );
    expect(line('slack_post_message')).toMatch(/^write .*slack_post_message {2}fail_when: output\.ok = false$/);
  });

  it('online, names the tools each override loosens and says when a glob matches none', () => {
    const yaml = `connectors:${CONNECTORS.slackMcp}\n        "slack_delete_*": { annotations: { readOnlyHint: true } }\n${WORKFLOW}`;
    const r = validate(yaml);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      'warning: connectors.slack_mcp.tools.overrides "slack_list_*": loosens readOnlyHint: true, idempotentHint: true on slack_list_channels, which the server does not declare',
    );
    expect(r.stderr).toContain(
      '"slack_get_*": loosens readOnlyHint: true, idempotentHint: true on slack_get_channel_history, slack_get_thread_replies, slack_get_users, slack_get_user_profile',
    );
    expect(r.stderr).toMatch(/"slack_delete_\*": matches none of the \d+ tools connector 'slack_mcp' lists/);
    expect(r.stdout).toMatch(/valid/);
  });
});
