import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// Folders are layers: an import between two top-level folders of src/ goes one way only. This reads
// every import under src/ (static, `import type`, re-exports and `import()`), maps each file to its
// top-level folder (each file of src/ itself, such as app.ts or errors.ts, is a node of its own: app.ts
// sits on top of everything and errors.ts beneath it) and fails on any cycle in the folder graph, naming one
// file-level import on each edge so the fix has a place to start.

const SRC = resolve(new URL('../../src/', import.meta.url).pathname);
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : /\.(ts|js)$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

function folderOf(file: string): string {
  const rel = relative(SRC, file).split('/');
  return rel[0];
}

/** folder → folder → one example import `file → target` */
function folderGraph(): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const f of files(SRC)) {
    const from = folderOf(f);
    for (const m of readFileSync(f, 'utf8').matchAll(IMPORT)) {
      const target = resolve(dirname(f), m[1]);
      if (relative(SRC, target).startsWith('..')) continue;
      const to = folderOf(target);
      if (to === from) continue;
      const edges = graph.get(from) ?? new Map<string, string>();
      if (!edges.has(to)) edges.set(to, `${relative(SRC, f)} → ${relative(SRC, target)}`);
      graph.set(from, edges);
    }
  }
  return graph;
}

/** Strongly connected components with more than one folder (Tarjan). */
function cycles(graph: Map<string, Map<string, string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  let n = 0;
  const visit = (v: string) => {
    index.set(v, n);
    low.set(v, n);
    n++;
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

describe('imports between the top-level folders of src/', () => {
  const graph = folderGraph();

  it('sees the imports it checks (the pattern still matches the code)', () => {
    expect(graph.get('server')?.has('runs')).toBe(true);
    expect(graph.get('workflows')?.has('errors.ts')).toBe(true);
  });

  it('form no cycle', () => {
    const found = cycles(graph).map((scc) => {
      const inside = new Set(scc);
      const edges = scc.flatMap((a) =>
        [...(graph.get(a) ?? [])].filter(([b]) => inside.has(b)).map(([b, eg]) => `  ${a} → ${b} (${eg})`),
      );
      return `cycle between ${scc.join(', ')}:\n${edges.join('\n')}`;
    });
    expect(found.join('\n')).toBe('');
  });

  it('src/connectors never imports src/workflows', () => {
    expect(graph.get('connectors')?.get('workflows')).toBeUndefined();
  });

  it('src/runs holds pins and annotations as data: it imports nothing from src/connectors, not even a type', () => {
    expect(
      importsOf('runs')
        .filter((i) => folderOf(i.target) === 'connectors')
        .map(show),
    ).toEqual([]);
  });

  it('only the composition roots know the App: no other file of src/server imports app.ts', () => {
    // server/oauth/setup.ts wires the built-in authorization server to the App at start-up, for serve.ts.
    const roots = new Set([
      'server/serve.ts',
      'server/http.ts',
      'server/mcp-stdio.ts',
      'server/compose.ts',
      'server/oauth/setup.ts',
    ]);
    const app = join(SRC, 'app.ts');
    expect(
      importsOf('server')
        .filter((i) => i.target === app && !roots.has(relative(SRC, i.file)))
        .map(show),
    ).toEqual([]);
    // The roots do, so the check above still matches real imports.
    expect(importsOf('server').some((i) => i.target === app)).toBe(true);
  });

  it('the Engine (the control plane) lives in src/engine, and src/worker does not reach for it', () => {
    const declares = (f: string) => /\bexport\s+class\s+Engine\b/.test(readFileSync(f, 'utf8'));
    expect(
      files(SRC)
        .filter(declares)
        .map((f) => relative(SRC, f)),
    ).toEqual(['engine/engine.ts']);
    expect(
      importsOf('worker')
        .filter((i) => folderOf(i.target) === 'engine')
        .map(show),
    ).toEqual([]);
  });
});

/** Every relative import (any kind) of the files under src/<folder>, each resolved to a file path. */
function importsOf(folder: string): Array<{ file: string; target: string }> {
  return files(join(SRC, folder)).flatMap((file) =>
    [...readFileSync(file, 'utf8').matchAll(IMPORT)].map((m) => ({ file, target: resolve(dirname(file), m[1]) })),
  );
}

function show(i: { file: string; target: string }): string {
  return `${relative(SRC, i.file)} → ${relative(SRC, i.target)}`;
}
