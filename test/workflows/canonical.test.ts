import { describe, expect, it } from 'vitest';
import { canonicalJson, sha256Hex } from '../../src/workflows/canonical.ts';

describe('canonicalJson', () => {
  it('sorts keys at every level and has no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } })).toBe('{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
  });

  it('gives equal JSON the same string whatever the key order', () => {
    expect(canonicalJson({ amount: 5, charge: 'ch_1' })).toBe(canonicalJson({ charge: 'ch_1', amount: 5 }));
  });

  it('drops undefined members as JSON does, and keeps array positions with null', () => {
    expect(canonicalJson({ a: undefined, b: [undefined, 1] })).toBe('{"b":[null,1]}');
  });

  it('refuses what JSON cannot carry faithfully', () => {
    expect(() => canonicalJson(Number.NaN)).toThrow(TypeError);
    expect(() => canonicalJson({ n: 1n })).toThrow(TypeError);
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    expect(() => canonicalJson(loop)).toThrow(/circular/);
    expect(() => canonicalJson(undefined)).toThrow(TypeError);
  });

  it('escapes strings as JSON does', () => {
    expect(canonicalJson({ 'k"': 'line\nbreak ü' })).toBe('{"k\\"":"line\\nbreak ü"}');
  });
});

describe('sha256Hex', () => {
  it('is the hex SHA-256 of the UTF-8 string', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
