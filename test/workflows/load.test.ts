import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InterlockError } from '../../src/errors.ts';
import { findConfigFile, loadConfig, loadConfigFromString, resolveEnvRefs } from '../../src/workflows/load.ts';
import { FILE, withSteps, yaml } from './helpers.ts';

const VALID = resolve(import.meta.dirname, '../fixtures/workflows/valid.yaml');

describe('loading a valid config', () => {
  const config = loadConfig(VALID);

  it('loads both workflows with their steps in order', () => {
    expect(config.file).toBe(VALID);
    expect(Object.keys(config.workflows)).toEqual(['refund-and-notify', 'invoice-customer']);
    const wf = config.workflows['refund-and-notify'];
    expect(wf.description).toBe('Refund a charge, then tell the customer in Slack');
    expect(wf.expose).toBe(true);
    expect(wf.steps.map((s) => `${s.id}=${s.connector}.${s.tool}`)).toEqual([
      'charge=stripe.retrieve_charge',
      'refund=stripe.create_refund',
      'notify=slack.post_message',
    ]);
    expect(config.workflows['invoice-customer'].expose).toBe(false);
  });

  it('keeps templates as written and stores if as a bare expression', () => {
    const [, refund, notify] = config.workflows['refund-and-notify'].steps;
    expect(refund.with).toEqual({
      charge: '${{ steps.charge.output.id }}',
      amount: '${{ inputs.amount ? inputs.amount : steps.charge.output.amount }}',
    });
    expect(notify.if).toBe('steps.refund.status = "succeeded"');
    expect(notify.confirm).toBe('never');
    expect(notify.timeoutMs).toBe(5000);
  });

  it('fills defaults: confirm auto, retry 3 × 1s, connector timeout 30s and concurrency 5, ttl 24h', () => {
    const [charge, refund] = config.workflows['refund-and-notify'].steps;
    expect(charge.confirm).toBe('auto');
    expect(charge.retry).toEqual({ attempts: 3, backoffMs: 1000 });
    expect(charge.timeoutMs).toBeUndefined();
    expect(charge.if).toBeUndefined();
    expect(refund.retry).toEqual({ attempts: 5, backoffMs: 2000 });
    expect(config.workflows['invoice-customer'].steps[0].retry).toEqual({ attempts: 2, backoffMs: 1000 });
    expect(config.connectors.slack.timeoutMs).toBe(30_000);
    expect(config.connectors.stripe.concurrency).toBe(5);
    const bare = loadConfigFromString(yaml('workflows: {}'), FILE);
    expect(bare.policy).toEqual({ allowUnconfirmed: [], confirmationTtlMs: 24 * 3600_000 });
    expect(bare.connectors).toEqual({});
    expect(bare.tokens).toEqual([]);
  });

  it('reads connectors, keeping command: interlock and ${env:} references literal', () => {
    expect(config.connectors.stripe).toMatchObject({
      id: 'stripe',
      transport: {
        type: 'stdio',
        command: 'interlock',
        args: ['stripe-mcp'],
        env: { STRIPE_SECRET_KEY: '${env:STRIPE_SECRET_KEY}' },
      },
      auth: { type: 'none' },
      tools: { allow: [], deny: ['delete_*'] },
      timeoutMs: 10_000,
      pos: { line: 3, col: 3 },
    });
    expect(config.connectors.slack).toMatchObject({
      transport: {
        type: 'streamable-http',
        url: 'http://127.0.0.1:3001/mcp',
        headers: { Authorization: 'Bearer ${env:SLACK_MCP_TOKEN}' },
      },
      concurrency: 2,
      rateLimits: [{ max: 10, durationMs: 1000, pos: { line: 19, col: 17 }, keyPos: {} }],
    });
  });

  it('reads policy and tokens, keeping only the name of the token variable', () => {
    expect(config.policy).toEqual({ allowUnconfirmed: ['slack.post_message'], confirmationTtlMs: 2 * 3600_000 });
    expect(config.tokens).toEqual([
      { name: 'chat', env: 'INTERLOCK_CHAT_TOKEN', scopes: ['read', 'trigger'] },
      { name: 'ops', env: 'INTERLOCK_OPS_TOKEN', scopes: ['confirm'] },
    ]);
  });

  it('records where steps and their keys are, for checks made after loading', () => {
    const notify = config.workflows['refund-and-notify'].steps[2];
    expect(notify.pos).toEqual({ line: 55, col: 9 });
    expect(notify.keyPos).toEqual({
      call: { line: 56, col: 9 },
      if: { line: 57, col: 9 },
      with: { line: 58, col: 9 },
      confirm: { line: 61, col: 9 },
      timeout: { line: 62, col: 9 },
    });
    expect(config.workflows['refund-and-notify'].pos).toEqual({ line: 34, col: 3 });
  });

  it('reads bearer auth as the name of its environment variable', () => {
    const c = loadConfigFromString(
      yaml(
        'connectors:',
        '  api:',
        '    transport: sse',
        '    url: https://x.example/sse',
        '    auth: {type: bearer, token: "${env:API_TOKEN}"}',
        'workflows: {}',
      ),
      FILE,
    );
    expect(c.connectors.api.transport).toEqual({ type: 'sse', url: 'https://x.example/sse', headers: {} });
    expect(c.connectors.api.auth).toEqual({ type: 'bearer', tokenEnv: 'API_TOKEN' });
  });

  it('follows YAML aliases', () => {
    const c = loadConfigFromString(
      yaml('connectors:', '  a: &base', '    command: interlock', '    timeout: 2m', '  b: *base', 'workflows: {}'),
      FILE,
    );
    expect(c.connectors.b.timeoutMs).toBe(120_000);
    expect(c.connectors.b.id).toBe('b');
  });
});

describe('workflow version', () => {
  const steps = ['      - id: a', '        call: stripe.get', '        with: {x: 1}'];

  it('is 12 hex characters that do not depend on where things sit in the file', () => {
    const one = loadConfigFromString(withSteps(...steps), FILE).workflows.wf.version;
    const moved = loadConfigFromString(
      `# a comment\n\n${withSteps(...steps).replace('with: {x: 1}', 'with:\n          x: 1')}`,
      FILE,
    ).workflows.wf.version;
    expect(one).toMatch(/^[0-9a-f]{12}$/);
    expect(moved).toBe(one);
  });

  it('changes when the definition changes', () => {
    const one = loadConfigFromString(withSteps(...steps), FILE).workflows.wf.version;
    const other = loadConfigFromString(withSteps(...steps).replace('{x: 1}', '{x: 2}'), FILE).workflows.wf.version;
    expect(other).not.toBe(one);
  });
});

describe('finding and reading the file', () => {
  it('uses INTERLOCK_CONFIG, relative to the working directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'interlock-cfg-'));
    writeFileSync(join(dir, 'custom.yaml'), 'workflows: {}\n');
    expect(findConfigFile({ INTERLOCK_CONFIG: 'custom.yaml' }, dir)).toBe(join(dir, 'custom.yaml'));
  });

  it('falls back to ./workflows.yaml', () => {
    const dir = mkdtempSync(join(tmpdir(), 'interlock-cfg-'));
    writeFileSync(join(dir, 'workflows.yaml'), 'workflows: {}\n');
    expect(findConfigFile({}, dir)).toBe(join(dir, 'workflows.yaml'));
  });

  it('says clearly what is missing and how to fix it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'interlock-cfg-'));
    expect(() => findConfigFile({}, dir)).toThrow(/no workflows.yaml in .*set INTERLOCK_CONFIG/);
    expect(() => findConfigFile({ INTERLOCK_CONFIG: 'nope.yaml' }, dir)).toThrow(
      /INTERLOCK_CONFIG points to .*nope.yaml, which does not exist/,
    );
  });

  it('reports an unreadable file as CONFIG_INVALID', () => {
    const err = (() => {
      try {
        loadConfig('/nonexistent/workflows.yaml');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(InterlockError);
    expect((err as InterlockError).code).toBe('CONFIG_INVALID');
  });

  it('loads the fixture from disk the same as from a string', () => {
    const fromString = loadConfigFromString(readFileSync(VALID, 'utf8'), VALID);
    expect(fromString).toEqual(loadConfig(VALID));
  });
});

describe('resolveEnvRefs', () => {
  it('replaces every ${env:NAME} reference', () => {
    expect(resolveEnvRefs('Bearer ${env:A}/${env:B_2}', { A: 'x', B_2: 'y' })).toBe('Bearer x/y');
    expect(resolveEnvRefs('no refs', {})).toBe('no refs');
  });

  it('names a missing variable without printing any value', () => {
    let err: unknown;
    try {
      resolveEnvRefs('${env:SET} ${env:MISSING}', { SET: 'top-secret' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InterlockError);
    expect((err as InterlockError).message).toMatch(/environment variable MISSING is not set/);
    expect(JSON.stringify((err as InterlockError).toJSON())).not.toContain('top-secret');
  });
});
