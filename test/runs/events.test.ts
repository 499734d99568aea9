import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RUN_EVENT_TYPES } from '../../src/runs/events.ts';

// The event names are one list (src/runs/events.ts); the Lua transitions spell them again in their
// XADDs, where no compiler sees them. These checks read the scripts as text and hold them to the list.

const SRC = new URL('../../src/', import.meta.url).pathname;
const SCRIPTS = join(SRC, 'runs/scripts');
const NAME = /\b(?:run|step|confirmation)\.[a-z_]+\b/g;
const known = new Set<string>(RUN_EVENT_TYPES);

interface Script {
  file: string;
  /** names written whole: `'type', 'step.started'` */
  literal: string[];
  /** prefixes completed at run time: `'type', 'step.' .. ARGV[2]` */
  prefixes: string[];
  /** the names the script's header lists on its `Events:` line */
  declared: string[];
}

function readScripts(): Script[] {
  const files = [
    ...readdirSync(SCRIPTS).filter((f) => f.endsWith('.lua')),
    ...readdirSync(join(SCRIPTS, 'includes')).map((f) => `includes/${f}`),
  ];
  return files.map((file) => {
    const text = readFileSync(join(SCRIPTS, file), 'utf8');
    const literal = [...text.matchAll(/'type',\s*'([^']*)'\s*,/g)].map((m) => m[1]);
    const prefixes = [...text.matchAll(/'type',\s*'([^']*)'\s*\.\./g)].map((m) => m[1]);
    const events = /^\s*Events:(.*)$/m.exec(text)?.[1] ?? '';
    return { file, literal, prefixes, declared: events.match(NAME) ?? [] };
  });
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('run event names', () => {
  const scripts = readScripts();

  it('finds the XADDs it checks (the patterns still match the scripts)', () => {
    expect(scripts.flatMap((s) => s.literal).length).toBeGreaterThan(10);
    expect(scripts.flatMap((s) => s.prefixes).length).toBeGreaterThan(3);
  });

  it('every name a script writes whole is in RUN_EVENT_TYPES', () => {
    const unknown = scripts.flatMap((s) => s.literal.filter((n) => !known.has(n)).map((n) => `${s.file}: ${n}`));
    expect(unknown).toEqual([]);
  });

  it('every name a script completes at run time is listed in its Events: header, and the header only lists known names', () => {
    for (const s of scripts) {
      for (const p of s.prefixes) {
        expect(
          s.declared.filter((n) => n.startsWith(p)),
          `${s.file}: Events: lists no '${p}…' name for its '${p}' .. XADD`,
        ).not.toEqual([]);
      }
      expect(
        s.declared.filter((n) => !known.has(n)),
        `${s.file}: Events: names outside RUN_EVENT_TYPES`,
      ).toEqual([]);
      // A header that leaves out a name the script writes whole would mislead its reader.
      expect(
        s.literal.filter((n) => !s.declared.includes(n)),
        `${s.file}: written but not in Events:`,
      ).toEqual([]);
    }
  });

  it('every name on the list is written somewhere: by a script or by appendEvent in TypeScript', () => {
    const written = new Set(scripts.flatMap((s) => [...s.literal, ...s.declared]));
    for (const f of sourceFiles(SRC)) {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/appendEvent\([^;]*?'((?:run|step|confirmation)\.[a-z_]+)'/gs)) written.add(m[1]);
    }
    expect(RUN_EVENT_TYPES.filter((n) => !written.has(n))).toEqual([]);
  });

  it('has no name twice', () => {
    expect(new Set(RUN_EVENT_TYPES).size).toBe(RUN_EVENT_TYPES.length);
  });
});
