/**
 * Reading a parsed YAML document with positions. Every reader records a problem and returns
 * undefined instead of throwing, so one pass over the file finds every problem in it.
 */
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { ConfigIssue } from '../errors.ts';
import type { SourcePos } from './types.ts';

export class Source {
  readonly file: string;
  readonly text: string;
  readonly doc: Document;
  readonly issues: ConfigIssue[] = [];
  private readonly lines: LineCounter;

  constructor(file: string, text: string, doc: Document, lines: LineCounter) {
    this.file = file;
    this.text = text;
    this.doc = doc;
    this.lines = lines;
  }

  at(offset: number): SourcePos {
    const { line, col } = this.lines.linePos(Math.max(0, Math.min(offset, this.text.length)));
    return { line, col };
  }

  posOf(node: Node | null | undefined, fallback: SourcePos): SourcePos {
    return node?.range ? this.at(node.range[0]) : fallback;
  }

  add(pos: SourcePos, path: string, message: string): void {
    this.issues.push({ file: this.file, line: pos.line, col: pos.col, path, message });
  }

  /** Follows `*alias` to its anchored node; YAML anchors are handy for shared connector settings. */
  deref(node: unknown): Node | null {
    if (isAlias(node)) return (node.resolve(this.doc) as Node | undefined) ?? null;
    return (node as Node | null | undefined) ?? null;
  }
}

/** A value found under a key or at a list index. */
export interface Field {
  key: string;
  path: string;
  /** where the key (or list item) starts; missing-key problems point at the parent's key */
  keyPos: SourcePos;
  node: Node | null;
  /** where the value starts, or the key when the value is empty */
  pos: SourcePos;
}

export function joinPath(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

export function typeName(node: Node | null): string {
  if (node === null) return 'nothing';
  if (isMap(node)) return 'a map';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const v = node.value;
    if (v === null || v === undefined) return 'nothing';
    if (typeof v === 'string') return 'a string';
    if (typeof v === 'number') return 'a number';
    if (typeof v === 'boolean') return v ? 'true' : 'false';
  }
  return 'something else';
}

/** Entries of a map whose keys the user chooses (connector ids, workflow names, header names). */
export function readEntries(src: Source, f: Field, what: string): Field[] | undefined {
  const node = src.deref(f.node);
  if (!isMap(node)) {
    src.add(f.pos, f.path, `${what} must be a map, not ${typeName(node)}`);
    return undefined;
  }
  const out: Field[] = [];
  for (const pair of node.items) {
    const keyNode = src.deref(pair.key);
    const keyPos = src.posOf(keyNode, f.pos);
    if (!isScalar(keyNode) || (typeof keyNode.value !== 'string' && typeof keyNode.value !== 'number')) {
      src.add(keyPos, f.path, `keys in ${what} must be strings`);
      continue;
    }
    const key = String(keyNode.value);
    const value = src.deref(pair.value);
    out.push({
      key,
      path: joinPath(f.path, key),
      keyPos,
      node: value,
      pos: emptyValue(value) ? keyPos : src.posOf(value, keyPos),
    });
  }
  return out;
}

/** A map with fixed keys: reports unknown keys (with a suggestion) and missing required ones. */
export function readMap(
  src: Source,
  f: Field,
  what: string,
  keys: { required?: readonly string[]; optional?: readonly string[] },
): Record<string, Field> | undefined {
  const entries = readEntries(src, f, what);
  if (!entries) return undefined;
  const required = keys.required ?? [];
  const allowed = [...required, ...(keys.optional ?? [])];
  const out: Record<string, Field> = {};
  for (const e of entries) {
    if (!allowed.includes(e.key)) {
      const hint = suggest(e.key, allowed);
      src.add(
        e.keyPos,
        e.path,
        `unknown key "${e.key}" in ${what}${hint ? ` (did you mean "${hint}"?)` : ''}; allowed: ${allowed.join(', ')}`,
      );
      continue;
    }
    out[e.key] = e;
  }
  for (const k of required) {
    if (!(k in out)) src.add(f.keyPos, joinPath(f.path, k), `${what} is missing required key "${k}"`);
  }
  return out;
}

export function readList(src: Source, f: Field, what: string): Field[] | undefined {
  const node = src.deref(f.node);
  if (!isSeq(node)) {
    src.add(f.pos, f.path, `${what} must be a list, not ${typeName(node)}`);
    return undefined;
  }
  return node.items.map((item, i) => {
    const n = src.deref(item);
    const pos = src.posOf(n, f.pos);
    return { key: String(i), path: `${f.path}[${i}]`, keyPos: pos, node: n, pos };
  });
}

function emptyValue(node: Node | null): boolean {
  return node === null || (isScalar(node) && node.value == null && node.range != null && node.range[0] === node.range[1]);
}

function scalar(src: Source, f: Field): unknown {
  const node = src.deref(f.node);
  return isScalar(node) ? node.value : node === null ? null : undefined;
}

export function readString(src: Source, f: Field, what: string): string | undefined {
  const v = scalar(src, f);
  if (typeof v === 'string') return v;
  src.add(f.pos, f.path, `${what} must be a string, not ${typeName(src.deref(f.node))}`);
  return undefined;
}

/** A string, accepting numbers and booleans as their text (env values, args: `PORT: 3000`). */
export function readText(src: Source, f: Field, what: string): string | undefined {
  const v = scalar(src, f);
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  src.add(f.pos, f.path, `${what} must be a string, not ${typeName(src.deref(f.node))}`);
  return undefined;
}

export function readBool(src: Source, f: Field, what: string): boolean | undefined {
  const v = scalar(src, f);
  if (typeof v === 'boolean') return v;
  src.add(f.pos, f.path, `${what} must be true or false, not ${typeName(src.deref(f.node))}`);
  return undefined;
}

export function readInt(src: Source, f: Field, what: string, min: number): number | undefined {
  const v = scalar(src, f);
  if (typeof v === 'number' && Number.isInteger(v) && v >= min) return v;
  src.add(
    f.pos,
    f.path,
    `${what} must be a whole number of at least ${min}, not ${typeof v === 'number' ? v : typeName(src.deref(f.node))}`,
  );
  return undefined;
}

export function readStringList(src: Source, f: Field, what: string, text = false): string[] | undefined {
  const items = readList(src, f, what);
  if (!items) return undefined;
  const out: string[] = [];
  for (const item of items) {
    const s = text ? readText(src, item, `each item of ${what}`) : readString(src, item, `each item of ${what}`);
    if (s !== undefined) out.push(s);
  }
  return out;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;

/** `500ms`, `30s`, `2m`, `1h30m`, `1d`, or a number of milliseconds; undefined when malformed. */
export function parseDuration(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? Math.round(v) : undefined;
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  if (!DURATION.test(s)) return undefined;
  let ms = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) ms += Number(m[1]) * UNIT_MS[m[2]];
  return Math.round(ms);
}

export function readDuration(src: Source, f: Field, what: string, opts: { positive: boolean }): number | undefined {
  const v = scalar(src, f);
  const ms = parseDuration(v);
  if (ms === undefined || (opts.positive && ms === 0)) {
    const shown = typeof v === 'string' || typeof v === 'number' ? `"${v}"` : typeName(src.deref(f.node));
    src.add(
      f.pos,
      f.path,
      `${what} has a bad duration ${shown}: write a number of milliseconds or a number with ms, s, m, h or d (500ms, 30s, 2m, 1h)${opts.positive ? ', more than zero' : ''}`,
    );
    return undefined;
  }
  return ms;
}

/** The closest candidate within a small edit distance, for "did you mean" hints. */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(w, c.toLowerCase());
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  const limit = Math.max(1, Math.min(3, Math.floor(word.length / 3)));
  return best !== undefined && bestD <= limit ? best : undefined;
}

// Edit distance counting a swap of neighbours as one edit: "stdoi" is one slip from "stdio".
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}
