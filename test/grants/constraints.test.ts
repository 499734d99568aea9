import { describe, expect, it } from 'vitest';
import { constraintFor, deriveConstraints, describeConstraint, fieldChoices, satisfies } from '../../src/grants/constraints.ts';
import { type ScopedGrant, buildScope, describeGrant, describeRequest, pickGrant, standing } from '../../src/grants/grant.ts';
import { formatMinor } from '../../src/grants/money.ts';
import { parseRemember, rememberFromFlags } from '../../src/grants/remember.ts';
import { refundGrant } from '../helpers/steps.ts';

const refund = { charge_id: 'ch_1', amount: 1500, metadata: { slack_channel: 'C0CUST002' } };

describe('constraints derived from what a person approved', () => {
  it('holds an amount to "up to" and anything else to equality, in words with the currency', () => {
    expect(constraintFor('amount', 1500, 'usd')).toEqual({ field: 'amount', op: 'lte', max: 1500, currency: 'usd' });
    expect(constraintFor('quantity', 3)).toEqual({ field: 'quantity', op: 'eq', value: 3 });
    expect(constraintFor('channel', '#billing')).toEqual({ field: 'channel', op: 'eq', value: '#billing' });
    expect(fieldChoices(refund, 'usd').map((c) => c.words)).toEqual([
      'charge_id is ch_1',
      'amount up to 15.00 USD',
      'metadata.slack_channel is C0CUST002',
    ]);
  });

  it('shows amounts in the currency’s own minor units', () => {
    expect(formatMinor(1500, 'usd')).toBe('15.00 USD');
    expect(formatMinor(1500, 'jpy')).toBe('1500 JPY');
    expect(formatMinor(123456, 'eur')).toBe('1234.56 EUR');
    expect(describeConstraint({ field: 'amount', op: 'lte', max: 99 })).toBe('amount up to 99');
  });

  it('a missing field, a string for a number, or another value never satisfies', () => {
    const lte = constraintFor('amount', 1500, 'usd');
    expect(satisfies(lte, { amount: 1500 })).toBe(true);
    expect(satisfies(lte, { amount: 1501 })).toBe(false);
    expect(satisfies(lte, {})).toBe(false);
    expect(satisfies(lte, { amount: '10' })).toBe(false);
    const eq = constraintFor('metadata.slack_channel', 'C0CUST002');
    expect(satisfies(eq, { metadata: { slack_channel: 'C0CUST002' } })).toBe(true);
    expect(satisfies(eq, { metadata: { slack_channel: 'C0CUST001' } })).toBe(false);
    expect(satisfies(eq, { 'metadata.slack_channel': 'C0CUST002' })).toBe(false);
  });

  it('refuses a field the approved call does not have', () => {
    expect(deriveConstraints(refund, ['amount', 'nope'])).toEqual({ ok: false, field: 'nope' });
  });
});

describe('which grant covers a call', () => {
  const base = refundGrant({
    scope: 'arguments',
    constraints: [constraintFor('amount', 1500, 'usd')],
    by: 'alice',
    owner: 'alice',
  });
  const call = { connector: 'stripe', tool: 'create_refund', args: { amount: 1000 }, argumentsHash: 'h', owner: 'alice' };

  it('covers inside its constraint, and says why not otherwise', () => {
    expect(standing(base, call, 1)).toBe('covers');
    expect(standing(base, { ...call, args: { amount: 1600 } }, 1)).toBe('outside');
    expect(standing(base, { ...call, tool: 'create_payout' }, 1)).toBe('elsewhere');
    expect(standing(base, { ...call, owner: 'mallory' }, 1)).toBe('not-theirs');
    expect(standing({ ...base, by: 'bob' }, call, 1)).toBe('not-theirs');
    expect(standing({ ...base, revokedAt: 1 }, call, 1)).toBe('revoked');
    expect(standing({ ...base, expiresAt: 10 }, call, 10)).toBe('expired');
    expect(standing({ ...base, maxUses: 2, uses: 2 }, call, 1)).toBe('spent');
    expect(standing({ ...base, scope: 'payload', argumentsHash: 'h' }, call, 1)).toBe('covers');
    expect(standing({ ...base, scope: 'payload', argumentsHash: 'other' }, call, 1)).toBe('outside');
  });

  it('a covering deny wins over an approve', () => {
    const deny: ScopedGrant = { ...base, id: 'g2', decision: 'deny', at: 5 };
    expect(pickGrant([base, deny], call, 6)?.id).toBe('g2');
    expect(pickGrant([base], call, 6)?.id).toBe('g1');
    expect(pickGrant([{ ...base, revokedAt: 1 }], call, 6)).toBeUndefined();
  });

  it('an approve constrained on nothing is refused; a deny may cover the tool', () => {
    expect(buildScope({ scope: 'arguments', fields: [] }, 'approve', refund, 'h').ok).toBe(false);
    expect(buildScope({ scope: 'arguments' }, 'deny', refund, 'h')).toEqual({ ok: true, scope: 'tool' });
    expect(buildScope({ scope: 'payload' }, 'approve', refund, 'h')).toEqual({ ok: true, scope: 'payload', argumentsHash: 'h' });
  });

  it('says what it covers and for how long, in words', () => {
    const g = {
      ...base,
      constraints: [constraintFor('amount', 1500, 'usd'), constraintFor('channel', 'C1')],
      expiresAt: 600_000,
      maxUses: 3,
      uses: 1,
    };
    expect(describeGrant(g, 1000)).toBe(
      'Approves stripe.create_refund with amount up to 15.00 USD and channel is C1 in session s, for 10 minutes (until 1970-01-01T00:10:00.000Z), 2 of 3 uses left',
    );
    expect(
      describeRequest(
        { scope: 'arguments', fields: ['amount'], ttlMs: 3_600_000, uses: 1 },
        'stripe',
        'create_refund',
        refund,
        'usd',
      ),
    ).toBe('stripe.create_refund with amount up to 15.00 USD, for 1 hour, at most 1 use');
  });
});

describe('remember as callers send it', () => {
  it('"session" is the exact payload; objects are checked strictly', () => {
    expect(parseRemember('session')).toEqual({ scope: 'payload' });
    expect(parseRemember({ scope: 'arguments', fields: ['amount'], ttl: '10m', uses: 3 })).toEqual({
      scope: 'arguments',
      fields: ['amount'],
      ttlMs: 600_000,
      uses: 3,
    });
    for (const bad of [
      'forever',
      { scope: 'tool' },
      { scope: 'arguments', feilds: ['x'] },
      { scope: 'payload', fields: ['a'] },
      { scope: 'payload', ttl: 'soon' },
      { scope: 'payload', uses: 0 },
    ])
      expect(() => parseRemember(bad), JSON.stringify(bad)).toThrow(/remember/);
  });

  it('the CLI flags give the same requests', () => {
    expect(rememberFromFlags({})).toBeUndefined();
    expect(rememberFromFlags({ remember: true })).toEqual({ scope: 'payload' });
    expect(rememberFromFlags({ fields: 'amount, metadata.slack_channel', for: '10m' })).toEqual({
      scope: 'arguments',
      fields: ['amount', 'metadata.slack_channel'],
      ttlMs: 600_000,
    });
  });
});
