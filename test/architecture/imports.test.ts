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

  it('src/connectors never imports src/workflows; src/runs holds pins as data, with no runtime import of src/connectors', () => {
    expect(graph.get('connectors')?.get('workflows')).toBeUndefined();
    const runtime = files(join(SRC, 'runs')).flatMap((f) =>
      [...readFileSync(f, 'utf8').matchAll(/^import\s+(?!type\b)[^;]*?from\s+'([^']+)'/gm)]
        .filter((m) => folderOf(resolve(dirname(f), m[1])) === 'connectors')
        .map((m) => `${relative(SRC, f)} → ${m[1]}`),
    );
    expect(runtime).toEqual([]);
    expect(readFileSync(join(SRC, 'runs/pins.ts'), 'utf8')).not.toContain('../connectors/');
  });
});
