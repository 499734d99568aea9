import { describe, expect, it } from 'vitest';
import { argumentIssues, validateArguments } from '../../src/connectors/arguments.ts';
import { ToolCatalog, toToolInfo, toolFilterVerdict } from '../../src/connectors/catalog.ts';
import { matchesGlob } from '../../src/connectors/glob.ts';
import { resolveEnvString, scrubSecrets } from '../../src/connectors/env.ts';
import type { ToolInfo } from '../../src/connectors/types.ts';
import { InterlockError } from '../../src/errors.ts';

const schema = { type: 'object', properties: {} } as const;

describe('write classification', () => {
  it('treats only an explicit readOnlyHint: true as a read', () => {
    expect(toToolInfo('c', { name: 'a', inputSchema: schema, annotations: { readOnlyHint: true } }).write).toBe(false);
    expect(toToolInfo('c', { name: 'b', inputSchema: schema }).write).toBe(true);
    expect(toToolInfo('c', { name: 'c', inputSchema: schema, annotations: { readOnlyHint: false } }).write).toBe(true);
    expect(toToolInfo('c', { name: 'd', inputSchema: schema, annotations: { destructiveHint: false } }).write).toBe(true);
  });

  it('marks a tool idempotent only with idempotentHint: true', () => {
    expect(toToolInfo('c', { name: 'a', inputSchema: schema, annotations: { idempotentHint: true } }).idempotent).toBe(true);
    expect(toToolInfo('c', { name: 'b', inputSchema: schema }).idempotent).toBe(false);
  });
});

describe('allow/deny globs', () => {
  it('matches * across any characters and ? as one, everything else literally', () => {
    expect(matchesGlob('delete_message', 'delete_*')).toBe(true);
    expect(matchesGlob('list.items', 'list.*')).toBe(true);
    expect(matchesGlob('listXitems', 'list.*')).toBe(false);
    expect(matchesGlob('get_a', 'get_?')).toBe(true);
    expect(matchesGlob('get_ab', 'get_?')).toBe(false);
  });

  it('lets deny win over allow and says which rule disabled a tool', () => {
    const filter = { allow: ['get_*', 'delete_*'], deny: ['delete_*'] };
    expect(toolFilterVerdict('get_x', filter)).toEqual({ enabled: true });
    expect(toolFilterVerdict('delete_x', filter)).toEqual({ enabled: false, reason: 'it matches tools.deny pattern "delete_*"' });
    const notAllowed = toolFilterVerdict('post_x', filter);
    expect(notAllowed.enabled).toBe(false);
    expect(toolFilterVerdict('anything', { allow: [], deny: [] })).toEqual({ enabled: true });
  });

  it('distinguishes a disabled tool from an unknown one', () => {
    const cat = new ToolCatalog('slack', { allow: [], deny: ['delete_*'] });
    cat.set([
      { name: 'delete_message', inputSchema: schema },
      { name: 'post', inputSchema: schema },
    ]);
    expect(cat.enabled().map((t) => t.name)).toEqual(['post']);
    expect(() => cat.require('delete_message')).toThrow(expect.objectContaining({ code: 'TOOL_DISABLED' }));
    expect(() => cat.require('delete_message')).toThrow(
      /slack\.delete_message is disabled: it matches tools\.deny pattern "delete_\*"/,
    );
    expect(() => cat.require('nope')).toThrow(expect.objectContaining({ code: 'TOOL_NOT_FOUND' }));
  });
});

describe('arguments validation', () => {
  const tool: ToolInfo = {
    connector: 'stripe',
    name: 'create_refund',
    inputSchema: {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      properties: {
        charge: { type: 'string', minLength: 3 },
        amount: { type: 'integer', minimum: 1 },
        email: { type: 'string', format: 'email' },
        items: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } },
        reason: { enum: ['duplicate', 'fraudulent'] },
      },
      required: ['charge'],
      additionalProperties: false,
    },
    annotations: {},
    write: true,
    idempotent: false,
  };

  it('accepts valid arguments', () => {
    expect(argumentIssues(tool, { charge: 'ch_1', amount: 5, email: 'a@b.co', items: [{ id: 'x' }] })).toEqual([]);
  });

  it('names each bad field the way a person would write it', () => {
    const issues = argumentIssues(tool, { amount: 'ten', email: 'nope', items: [{}], extra: 1, reason: 'bored' });
    expect(issues).toEqual(
      expect.arrayContaining([
        { field: 'charge', message: 'is required' },
        { field: 'amount', message: 'must be integer' },
        { field: 'email', message: 'must match format "email"' },
        { field: 'items[0].id', message: 'is required' },
        { field: 'extra', message: 'is not allowed' },
        { field: 'reason', message: 'must be one of ["duplicate","fraudulent"]' },
      ]),
    );
  });

  it('throws ARGUMENTS_INVALID with the issues in details and the fields in the message', () => {
    let err: unknown;
    try {
      validateArguments(tool, { charge: 'ch_1', amount: 0 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InterlockError);
    const ie = err as InterlockError;
    expect(ie.code).toBe('ARGUMENTS_INVALID');
    expect(ie.message).toBe('Invalid arguments for stripe.create_refund: amount must be >= 1');
    expect(ie.details).toMatchObject({ issues: [{ field: 'amount', message: 'must be >= 1' }] });
  });

  it('reads draft-07 schemas too and does not block a tool whose schema ajv cannot compile', () => {
    const d7 = { ...tool, inputSchema: { $schema: 'http://json-schema.org/draft-07/schema#', type: 'object', required: ['x'] } };
    expect(argumentIssues(d7, {})).toEqual([{ field: 'x', message: 'is required' }]);
    const broken = { ...tool, inputSchema: { type: 'object', properties: { x: { $ref: '#/nowhere' } } } };
    expect(argumentIssues(broken, { x: 1 })).toEqual([]);
  });
});

describe('env references', () => {
  it('resolves ${env:NAME}, records the value as a secret, and names a missing variable without a value', () => {
    const secrets: string[] = [];
    expect(resolveEnvString('Bearer ${env:TOK}', { TOK: 'abc123' }, 'headers.Authorization', secrets)).toBe('Bearer abc123');
    expect(secrets).toEqual(['abc123']);
    expect(() => resolveEnvString('${env:MISSING}', {}, 'Connector "x" headers.X', [])).toThrow(
      expect.objectContaining({
        code: 'CONNECTOR_UNAVAILABLE',
        message: expect.stringContaining('Connector "x" headers.X: environment variable MISSING is not set'),
      }),
    );
    expect(scrubSecrets('token abc123 leaked', secrets)).toBe('token [redacted] leaked');
  });
});
