import { describe, expect, it } from 'vitest';
import { InterlockError } from '../../src/errors.ts';
import { inputValidator, prepareInputs, validateInputs } from '../../src/workflows/inputs.ts';
import { loadConfigFromString } from '../../src/workflows/load.ts';
import { FILE, yaml } from './helpers.ts';

const schema = {
  type: 'object',
  required: ['charge', 'customer'],
  additionalProperties: false,
  properties: {
    charge: { type: 'string', pattern: '^ch_' },
    amount: { type: 'integer', minimum: 1 },
    reason: { enum: ['duplicate', 'fraudulent', 'requested_by_customer'], default: 'requested_by_customer' },
    customer: {
      type: 'object',
      required: ['email'],
      properties: { email: { type: 'string', format: 'email' } },
    },
    items: { type: 'array', items: { type: 'object', properties: { qty: { type: 'integer' } } } },
  },
};

describe('validateInputs', () => {
  it('accepts valid inputs', () => {
    expect(validateInputs(schema, { charge: 'ch_1', customer: { email: 'a@example.com' } })).toEqual([]);
  });

  it('names every bad field by its path, without echoing values', () => {
    const issues = validateInputs(schema, {
      charge: 'py_secret_value',
      amount: 0,
      reason: 'because',
      customer: { email: 'not-an-email' },
      items: [{ qty: 1 }, { qty: 'two' }],
      extra: true,
    });
    expect(issues).toEqual(
      expect.arrayContaining([
        { field: 'charge', message: 'must match pattern "^ch_"' },
        { field: 'amount', message: 'must be >= 1' },
        { field: 'reason', message: 'must be one of "duplicate", "fraudulent", "requested_by_customer"' },
        { field: 'customer.email', message: 'must match format "email"' },
        { field: 'items[1].qty', message: 'must be integer' },
        { field: 'extra', message: 'is not a known field' },
      ]),
    );
    expect(issues).toHaveLength(6);
    expect(JSON.stringify(issues)).not.toContain('py_secret_value');
  });

  it('names missing required fields, nested ones too', () => {
    expect(validateInputs(schema, {})).toEqual([
      { field: 'charge', message: 'is required' },
      { field: 'customer', message: 'is required' },
    ]);
    expect(validateInputs(schema, { charge: 'ch_1', customer: {} })).toEqual([
      { field: 'customer.email', message: 'is required' },
    ]);
  });

  it('takes a whole workflow definition as well as a bare schema', () => {
    const config = loadConfigFromString(
      yaml(
        'connectors:',
        '  s:',
        '    command: x',
        'workflows:',
        '  wf:',
        '    description: d',
        '    inputs: {type: object, required: [n], properties: {n: {type: number}}}',
        '    steps:',
        '      - id: a',
        '        call: s.t',
      ),
      FILE,
    );
    expect(validateInputs(config.workflows.wf, { n: 'x' })).toEqual([{ field: 'n', message: 'must be number' }]);
    expect(validateInputs(config.workflows.wf, { n: 1 })).toEqual([]);
  });

  it('refuses inputs that are not an object', () => {
    expect(validateInputs(schema, ['ch_1'])).toEqual([{ field: 'inputs', message: 'must be an object of named fields' }]);
    expect(validateInputs({ type: 'object' }, undefined)).toEqual([]);
  });

  it('understands draft-07 schemas that say so', () => {
    const draft7 = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      properties: { t: { type: 'array', items: [{ type: 'string' }] } },
    };
    expect(validateInputs(draft7, { t: [1] })).toEqual([{ field: 't[0]', message: 'must be string' }]);
  });
});

describe('prepareInputs', () => {
  it('fills schema defaults on a copy and leaves the caller object alone', () => {
    const given = { charge: 'ch_1', customer: { email: 'a@example.com' } };
    const { inputs, issues } = prepareInputs(schema, given);
    expect(issues).toEqual([]);
    expect(inputs.reason).toBe('requested_by_customer');
    expect(given).not.toHaveProperty('reason');
  });
});

describe('inputValidator', () => {
  it('compiles each distinct schema once, even when it arrives as a new object', () => {
    expect(inputValidator(structuredClone(schema))).toBe(inputValidator(structuredClone(schema)));
  });

  it('lets two schemas share an $id', () => {
    const a = { $id: 'https://example.com/wf.json', type: 'object', properties: { a: { type: 'string' } } };
    const b = { $id: 'https://example.com/wf.json', type: 'object', properties: { a: { type: 'number' } } };
    expect(validateInputs(a, { a: 1 })).toEqual([{ field: 'a', message: 'must be string' }]);
    expect(validateInputs(b, { a: 1 })).toEqual([]);
  });

  it('throws INPUT_INVALID for a schema that does not compile', () => {
    expect(() => inputValidator({ type: 'object', requried: ['a'] })).toThrow(InterlockError);
  });
});
