import { readFileSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// Setup is a fixture (test/helpers/fixtures.ts, test.extend), never a hook: a hook-based setup was
// copied from suite to suite, ran for tests that did not need it, and leaked when a describe failed
// half-way. This names every file under test/ that calls a vitest lifecycle hook.

const TEST = resolve(new URL('../', import.meta.url).pathname);
const HOOK = /\b(beforeAll|afterAll|beforeEach|afterEach)\s*\(/;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('test setup', () => {
  it('is a fixture in every suite: no file under test/ calls beforeAll, afterAll, beforeEach or afterEach', () => {
    const self = new URL(import.meta.url).pathname;
    const hooked = files(TEST)
      .filter((file) => file !== self)
      .flatMap((file) =>
        readFileSync(file, 'utf8')
          .split('\n')
          .flatMap((line, i) => (HOOK.test(line) && !line.trim().startsWith('*') ? [`${relative(TEST, file)}:${i + 1}`] : [])),
      );
    expect(hooked).toEqual([]);
  });
});
