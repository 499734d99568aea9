import { readFileSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// The step path (trigger to next enqueue: the engine, the worker's planning and execution, control
// flow, llm steps) reads top to bottom in short functions. This parses each file with TypeScript and
// names every function, method or arrow longer than 60 lines, so a long one is split where it grows.

const SRC = resolve(new URL('../../src/', import.meta.url).pathname);
const STEP_PATH = ['engine', 'worker', 'llm'];
const MAX_LINES = 60;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

function longFunctions(file: string): string[] {
  const src = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isFunctionLike(n) && 'body' in n && n.body) {
      const start = src.getLineAndCharacterOfPosition(n.getStart(src)).line;
      const end = src.getLineAndCharacterOfPosition(n.getEnd()).line;
      const name = n.name && ts.isIdentifier(n.name) ? n.name.text : '(anonymous)';
      if (end - start + 1 > MAX_LINES) found.push(`${relative(SRC, file)}:${start + 1} ${name} (${end - start + 1} lines)`);
    }
    ts.forEachChild(n, visit);
  };
  visit(src);
  return found;
}

describe('the step path', () => {
  it(`has no function over ${MAX_LINES} lines`, () => {
    const all = STEP_PATH.flatMap((d) => files(join(SRC, d)));
    expect(all.length).toBeGreaterThan(20);
    expect(all.flatMap(longFunctions)).toEqual([]);
  });
});
