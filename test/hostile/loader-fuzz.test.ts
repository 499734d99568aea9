import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, InterlockError } from '../../src/errors.ts';
import { loadConfigFromString } from '../../src/workflows/load.ts';
import { ROOT } from '../helpers/app.ts';
import { rng } from '../helpers/rng.ts';

// Small valid documents to bend (compiling input schemas dominates the loader's time, so few of them).
const SEEDS = [
  readFileSync(join(ROOT, 'test/fixtures/workflows/valid.yaml'), 'utf8'),
  `connectors:
  stripe:
    transport: stdio
    command: interlock
    args: [connector, stripe]
    timeout: 30s
    concurrency: 4
    auth: { type: bearer, token: "\${env:STRIPE_TOKEN}" }
policy:
  allow_unconfirmed: [refund.give]
  confirmation_ttl: 2h
tokens:
  - { name: ops, token: "\${env:OPS_TOKEN}", scopes: [read, confirm] }
workflows:
  refund:
    description: look a charge up, refund it
    expose: true
    inputs: { type: object, required: [charge], properties: { charge: { type: string, pattern: "^ch_" } } }
    steps:
      - id: look
        call: stripe.retrieve_charge
        with: { charge_id: "\${{ inputs.charge }}" }
      - id: give
        call: stripe.create_refund
        if: \${{ steps.look.output.amount > 0 }}
        confirm: never
        retry: { attempts: 3, backoff: 1s }
        timeout: 20s
        with:
          charge_id: \${{ steps.look.output.id }}
          amount: \${{ steps.look.output.amount }}
`,
];
const NASTY = [
  ':',
  '- ',
  '{',
  '}',
  '[',
  ']',
  '&a',
  '*a',
  '!!binary',
  '!!js/function',
  '? ',
  '|',
  '>',
  '#',
  '"',
  "'",
  '\t',
  '%YAML 1.1\n',
  '---\n',
  '...\n',
  '${{',
  '}}',
  '${{ $eval("1") }}',
  '${{ inputs }}',
  'null',
  '~',
  '0x1F',
  '1e309',
  '-.inf',
  '.nan',
  'true',
  '<<: *a',
  '\u0000',
  '\ufeff',
  '\u202e',
  'constructor',
  '__proto__',
  'prototype',
  'x'.repeat(5000),
  '😀',
  '\r\n',
  '\\',
  '@',
  '`',
  '%',
];
const KEYS = [
  'connectors',
  'workflows',
  'policy',
  'tokens',
  'steps',
  'call',
  'with',
  'if',
  'confirm',
  'retry',
  'timeout',
  'inputs',
  'transport',
  'command',
  'args',
  'url',
  'auth',
  'tools',
  'concurrency',
  'rate_limit',
  'allow_unconfirmed',
  'confirmation_ttl',
  'scopes',
  'expose',
  '__proto__',
];

/** One hostile document: a valid file bent by a few random edits, or something built from scratch. */
function mutate(r: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const kind = r();
  if (kind < 0.08) {
    // Deep nesting and alias bombs.
    const depth = 50 + Math.floor(r() * 2000);
    if (r() < 0.5) return `workflows: ${'['.repeat(depth)}${']'.repeat(r() < 0.5 ? depth : Math.floor(depth / 2))}`;
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 0; i < 12; i++)
      lines.push(
        `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`,
      );
    return `${lines.join('\n')}\nworkflows: *m\n`;
  }
  if (kind < 0.14) {
    // Right shape, wrong types everywhere.
    const values = ['1', '-1', '[]', '{}', 'null', '"x"', 'true', '[1, {a: 2}]', '3.5', '"1h"', '"ch_"'];
    const line = () => `${'  '.repeat(Math.floor(r() * 4))}${pick(KEYS)}: ${pick(values)}`;
    return `workflows:\n  wf:\n${Array.from({ length: 3 + Math.floor(r() * 15) }, line).join('\n')}\n`;
  }
  let text = pick(SEEDS);
  const edits = 1 + Math.floor(r() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(r() * (text.length + 1));
    const op = r();
    if (op < 0.3) text = text.slice(0, at) + pick(NASTY) + text.slice(at);
    else if (op < 0.5) text = text.slice(0, at) + text.slice(at + 1 + Math.floor(r() * 40));
    else if (op < 0.65) {
      const lines = text.split('\n');
      const i = Math.floor(r() * lines.length);
      lines[i] = r() < 0.5 ? ` ${lines[i]}` : lines[i].replace(/^ {1,2}/, '');
      text = lines.join('\n');
    } else if (op < 0.8) {
      const lines = text.split('\n');
      const i = Math.floor(r() * lines.length);
      lines.splice(i, 0, lines[Math.floor(r() * lines.length)]);
      text = lines.join('\n');
    } else {
      text = text.replace(new RegExp(`\\b${pick(KEYS)}\\b`), `${pick(KEYS)}${r() < 0.3 ? 'x' : ''}`);
    }
  }
  return text;
}

describe('workflow loader under hostile YAML', () => {
  it('starts from documents that are valid', () => {
    for (const seed of SEEDS) expect(() => loadConfigFromString(seed, '/fuzz/seed.yaml')).not.toThrow();
  });

  it('answers thousands of generated bad documents with ConfigErrors that name file:line:col and the problem, and never crashes', async () => {
    const file = '/fuzz/workflows.yaml';
    const counts = { valid: 0, rejected: 0, issues: 0 };
    const N = 2500;
    for (let seed = 1; seed <= N; seed++) {
      // Let the test runner's own messages through; a long synchronous loop makes its RPC time out.
      if (seed % 25 === 0) await new Promise((r) => setImmediate(r));
      const text = mutate(rng(seed));
      const lineCount = text.split(/\r?\n/).length;
      let err: unknown;
      try {
        loadConfigFromString(text, file);
        counts.valid++;
        continue;
      } catch (e) {
        err = e;
      }
      if (!(err instanceof ConfigError)) {
        const what =
          err instanceof InterlockError ? `${err.code}: ${err.message}` : String(err instanceof Error ? err.stack : err);
        throw new Error(
          `seed ${seed}: the loader threw something other than a ConfigError: ${what}\n--- document ---\n${text.slice(0, 2000)}`,
        );
      }
      counts.rejected++;
      expect(err.issues.length, `seed ${seed}`).toBeGreaterThan(0);
      for (const i of err.issues) {
        counts.issues++;
        const where = `seed ${seed}: ${JSON.stringify(i)}`;
        expect(i.file, where).toBe(file);
        expect(Number.isInteger(i.line) && i.line >= 1 && i.line <= lineCount + 1, where).toBe(true);
        expect(Number.isInteger(i.col) && i.col >= 1, where).toBe(true);
        expect(i.message.trim().length, where).toBeGreaterThan(8);
        expect(i.message, where).not.toMatch(/undefined|\[object Object\]|NaN|call stack/);
      }
      expect(err.message.split('\n')[0], `seed ${seed}`).toMatch(/^\/fuzz\/workflows\.yaml:\d+:\d+: /);
    }
    console.log(
      `loader fuzz: ${N} documents, ${counts.rejected} rejected with ${counts.issues} issues, ${counts.valid} still valid`,
    );
    expect(counts.rejected).toBeGreaterThan(N * 0.7);
  }, 300_000);
});
