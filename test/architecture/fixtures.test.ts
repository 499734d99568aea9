import { readFileSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// A suite's `extend` must not reuse a fixture name the `test` it extends already has: vitest keeps
// the first definition of a file-scoped fixture, so the suite's own `server` or `openai` would be
// silently ignored and the shared one used instead (its tests then fail far from the cause, or pass
// against the wrong thing). This reads every `.extend<{ … }>` under test/ and names each reuse.

const TEST = resolve(new URL('../', import.meta.url).pathname);

/** What every `test` of test/helpers/fixtures.ts has (`Services`). */
const SERVICES = ['redis', 'sandboxes', 'stripe', 'slack', 'mcpHttp', 'remote', 'openai', 'browser'];
/** What the factories add on top, by the name a suite calls them with. */
const FACTORIES: Record<string, string[]> = {
  appTest: ['app', 'configFile', 'processes', 'server'],
  sandboxAppTest: ['app', 'configFile', 'processes', 'server'],
  serversTest: ['app', 'configFile', 'processes', 'server'],
  childServerTest: ['testServer', 'app', 'processes'],
  refundRigTest: ['proxy', 'app', 'processes', 'workers'],
  witnessTest: ['witness', 'logs', 'seen', 'saw'],
};

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** The top-level keys of the type literal that starts at `text[at]` (a `{`). */
function keysOf(text: string, at: number): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = at; i < text.length; i++) {
    const c = text[i];
    if (c === '{' || c === '(' || c === '[') depth++;
    else if (c === '}' || c === ')' || c === ']') {
      depth--;
      if (depth === 0) break;
    } else if (depth === 1 && /[A-Za-z_]/.test(c) && /[{;,\s]/.test(text[i - 1] ?? '')) {
      const m = /^(\w+)\??\s*:/.exec(text.slice(i));
      if (m) {
        keys.push(m[1]);
        i += m[0].length - 1;
      }
    }
  }
  return keys;
}

/** `file: key` for each key an extend defines that the test it extends already has. */
function reuses(): string[] {
  const found: string[] = [];
  for (const file of files(TEST)) {
    // fixtures.ts builds the chain itself; this file spells an extend in a string
    if (file.endsWith('helpers/fixtures.ts') || file.endsWith('architecture/fixtures.test.ts')) continue;
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/\.extend<\{/g)) {
      const at = m.index ?? 0;
      // the expression being extended: back to the start of its statement
      const start = Math.max(text.lastIndexOf(';', at), text.lastIndexOf('\n\n', at), 0);
      const base = text.slice(start, at);
      const taken = new Set(SERVICES);
      // a call of the factory, not its own definition
      for (const [factory, names] of Object.entries(FACTORIES))
        if (!base.includes(`function ${factory}(`) && (base.includes(`${factory}(`) || base.includes(`${factory}.`)))
          for (const n of names) taken.add(n);
      for (const key of keysOf(text, at + '.extend<'.length)) if (taken.has(key)) found.push(`${relative(TEST, file)}: ${key}`);
    }
  }
  return found;
}

describe('fixture names', () => {
  it('an extend never reuses a name its base test already defines', () => {
    expect(reuses()).toEqual([]);
  });

  it('finds a reuse where there is one', () => {
    const text = 'const it = appTest({ yaml }).extend<{ server: RunningServer; other: number }>({';
    const at = text.indexOf('.extend<') + '.extend<'.length;
    expect(keysOf(text, at)).toEqual(['server', 'other']);
  });
});
