import { describe, expect, it } from 'vitest';
import type { ToolInfo } from '../../src/connectors/types.ts';
import { loadConfigFromString } from '../../src/workflows/load.ts';
import { validateAgainstCatalog } from '../../src/workflows/validate.ts';
import { FILE, expectLoadError, issuesOf, yaml } from './helpers.ts';

// A connector's rate_limit: one limit as a map, or a list of limits, each optionally for one tool
// and with a window per value of one argument. The comments on the lines mark their line numbers.

/** Lines 1–4: the connector; the given lines start at line 5. */
const doc = (...lines: string[]) =>
  yaml(
    'connectors:', // 1
    '  slack:', // 2
    '    command: interlock', // 3
    '    tools: {deny: ["delete_*"]}', // 4
    ...lines,
    'workflows: {}',
  );
const load = (...lines: string[]) => loadConfigFromString(doc(...lines), FILE).connectors.slack;
/** Asserts that `rate_limit: <value>` on line 5 is refused at column `col` with `message`. */
const refused = (value: string, col: number, message: RegExp) =>
  expectLoadError(doc(`    rate_limit: ${value}`), `5:${col}`, message);

describe('rate_limit in workflows.yaml', () => {
  it('still reads the one-limit map as a limit on every call of the connector', () => {
    expect(load('    rate_limit: { max: 20, per: 1s }').rateLimits).toEqual([
      { max: 20, durationMs: 1000, pos: { line: 5, col: 17 }, keyPos: {} },
    ]);
  });

  it('has no limits when rate_limit is left out', () => {
    expect(load().rateLimits).toBeUndefined();
  });

  it('reads a list of limits: every call, one tool, one tool per argument value, and every tool per argument value', () => {
    const c = load(
      '    rate_limit:', // 5
      '      - { max: 20, per: 1s }', // 6
      '      - { max: 50, per: 1m, tool: list_channels }', // 7
      '      - { max: 1, per: 1s, tool: post_message, by: channel }', // 8
      '      - max: 100', // 9
      '        per: 1h', // 10
      '        by: channel', // 11
    );
    expect(c.rateLimits).toEqual([
      { max: 20, durationMs: 1000, pos: { line: 6, col: 9 }, keyPos: {} },
      { max: 50, durationMs: 60_000, tool: 'list_channels', pos: { line: 7, col: 9 }, keyPos: { tool: { line: 7, col: 29 } } },
      {
        max: 1,
        durationMs: 1000,
        tool: 'post_message',
        by: 'channel',
        pos: { line: 8, col: 9 },
        keyPos: { tool: { line: 8, col: 28 }, by: { line: 8, col: 48 } },
      },
      { max: 100, durationMs: 3_600_000, by: 'channel', pos: { line: 9, col: 9 }, keyPos: { by: { line: 11, col: 9 } } },
    ]);
  });

  it('takes tool and by in the one-limit map too', () => {
    expect(load('    rate_limit: { max: 1, per: 1s, tool: post_message, by: channel }').rateLimits).toMatchObject([
      { max: 1, durationMs: 1000, tool: 'post_message', by: 'channel' },
    ]);
  });

  it('reads an empty list as no limits', () => {
    expect(load('    rate_limit: []').rateLimits).toBeUndefined();
  });
});

describe('rate_limit errors, each with file:line:col', () => {
  it('refuses a rate_limit that is neither a map nor a list', () => {
    refused('fast', 17, /connector "slack" rate_limit must be a map \{max, per\} or a list of them, not a string/);
  });

  it('refuses a list item that is not a map', () => {
    refused('[5]', 18, /connector "slack" rate_limit\[0\] must be a map, not a number/);
  });

  it('reports an unknown key in a limit with a suggestion', () => {
    expectLoadError(
      doc('    rate_limit:', '      - { max: 1, per: 1s, tool: post_message, bye: channel }'),
      '6:48',
      /unknown key "bye" in connector "slack" rate_limit\[0\] \(did you mean "by"\?\); allowed: max, per, tool, by/,
    );
  });

  it('reports a missing max or per where the limit starts', () => {
    expectLoadError(
      doc('    rate_limit:', '      - { max: 20, per: 1s }', '      - { tool: post_message, per: 1s }'),
      '7:9',
      /connector "slack" rate_limit\[1\] is missing required key "max"/,
    );
  });

  it('reports a bad duration', () => {
    refused('{ max: 1, per: 1 sec }', 32, /connector "slack" rate_limit per has a bad duration "1 sec"/);
    refused('[{ max: 1, per: 0s }]', 33, /rate_limit\[0\] per has a bad duration "0s".*more than zero/);
  });

  it('reports a max that is not a whole number of at least 1', () => {
    refused('{ max: 0, per: 1s }', 24, /rate_limit max must be a whole number of at least 1, not 0/);
    refused('{ max: 1.5, per: 1s }', 24, /rate_limit max must be a whole number of at least 1, not 1.5/);
  });

  it('refuses a by that is not a string', () => {
    refused(
      '{ max: 1, per: 1s, by: [channel, user] }',
      40,
      /rate_limit by must be a string naming one top-level argument, not a list/,
    );
    refused('{ max: 1, per: 1s, by: 5 }', 40, /rate_limit by must be a string, not a number/);
    refused('{ max: 1, per: 1s, by: {name: channel} }', 40, /rate_limit by must be a string, not a map/);
    refused('{ max: 1, per: 1s, by: "" }', 40, /rate_limit by must name a top-level argument of the tool, not be empty/);
  });

  it('refuses a tool that is not one tool name', () => {
    refused('{ max: 1, per: 1s, tool: 7 }', 42, /rate_limit tool must be a string, not a number/);
    refused(
      '{ max: 1, per: 1s, tool: "post_*" }',
      42,
      /rate_limit tool "post_\*" must name one tool: globs are not supported here/,
    );
    refused(
      '{ max: 1, per: 1s, tool: "post message" }',
      42,
      /rate_limit tool "post message" is not a tool name: " " cannot appear in a tool name/,
    );
  });

  it('refuses a tool the connector turns off, since the limit would never apply', () => {
    refused(
      '{ max: 1, per: 1s, tool: delete_message }',
      42,
      /rate_limit tool "delete_message" is turned off by this connector's tools \(allow: \[\], deny: \[delete_\*\]\), so the limit would never apply/,
    );
  });

  it('refuses two limits over the same calls, pointing at the first', () => {
    expectLoadError(
      doc(
        '    rate_limit:', // 5
        '      - { max: 1, per: 1s, tool: post_message, by: channel }', // 6
        '      - { max: 20, per: 1m, tool: post_message, by: channel }', // 7
      ),
      '7:9',
      /rate_limit\[1\] limits the same calls as the limit at line 6:9 \(calls of post_message, per value of channel\)/,
    );
  });

  it('reports every problem of every limit in one pass, in file order', () => {
    const issues = issuesOf(
      doc(
        '    rate_limit:', // 5
        '      - { max: none, per: 1s }', // 6
        '      - { max: 1, per: soon, tool: post_message }', // 7
        '      - { max: 1, per: 1s, by: [a] }', // 8
      ),
    );
    expect(issues.map((i) => `${i.line}:${i.col} ${i.path}`)).toEqual([
      '6:16 connectors.slack.rate_limit[0].max',
      '7:24 connectors.slack.rate_limit[1].per',
      '8:32 connectors.slack.rate_limit[2].by',
    ]);
  });
});

describe('rate_limit against the tool catalog (interlock validate)', () => {
  const tool = (name: string, properties: Record<string, unknown>): ToolInfo => ({
    connector: 'slack',
    name,
    inputSchema: { type: 'object', properties },
    annotations: {},
    write: true,
    idempotent: false,
  });
  const catalog = [tool('post_message', { channel: {}, text: {} }), tool('list_channels', {})];
  const lookup = async (connector: string, name: string) =>
    connector === 'slack' ? catalog.find((t) => t.name === name) : undefined;
  const listTools = async () => catalog.map((t) => t.name);

  it('passes limits on tools and arguments that exist', async () => {
    const c = loadConfigFromString(
      doc('    rate_limit:', '      - { max: 20, per: 1s }', '      - { max: 1, per: 1s, tool: post_message, by: channel }'),
      FILE,
    );
    expect(await validateAgainstCatalog(c, lookup, { listTools })).toEqual([]);
  });

  it('reports an unknown tool and an argument the tool does not take, with suggestions', async () => {
    const c = loadConfigFromString(
      doc(
        '    rate_limit:', // 5
        '      - { max: 1, per: 1s, tool: post_mesage }', // 6
        '      - { max: 1, per: 1s, tool: post_message, by: chanel }', // 7
      ),
      FILE,
    );
    expect(await validateAgainstCatalog(c, lookup, { listTools })).toEqual([
      {
        file: FILE,
        line: 6,
        col: 28,
        path: 'connectors.slack.rate_limit[0].tool',
        message: `rate_limit: connector 'slack' has no tool "post_mesage" (did you mean "post_message"?)`,
      },
      {
        file: FILE,
        line: 7,
        col: 48,
        path: 'connectors.slack.rate_limit[1].by',
        message:
          'rate_limit: slack.post_message takes no argument "chanel" (did you mean "channel"?); every call would share the one window of calls without it',
      },
    ]);
  });
});
