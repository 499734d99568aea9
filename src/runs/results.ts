import { InterlockError } from '../errors.ts';
import type { ScriptName } from './scripts.ts';

/**
 * What the transition scripts answer, checked on the way in. Each script's header states its
 * answer (a status text, or a list whose first item is a tag); these decoders hold the answer to
 * that shape and turn anything else (an edited script, a proxy's reply) into an INTERNAL error
 * that names the script, instead of a cast that lets a wrong shape travel on.
 */

function wrongShape(script: ScriptName, v: unknown, expected: string): never {
  throw new InterlockError('INTERNAL', `Script ${script} answered ${JSON.stringify(v)}; expected ${expected}`);
}

/** A status text: `'ok'`, `'run:<status>'`, …; `allowed` narrows it when the script has a fixed set. */
export function textResult(script: ScriptName, v: unknown): string;
export function textResult<const T extends string>(script: ScriptName, v: unknown, allowed: readonly T[]): T;
export function textResult(script: ScriptName, v: unknown, allowed?: readonly string[]): string {
  if (typeof v !== 'string' || v === '') wrongShape(script, v, allowed ? allowed.join(' | ') : 'a status text');
  if (allowed && !allowed.includes(v)) wrongShape(script, v, allowed.join(' | '));
  return v;
}

/**
 * A tagged list `{tag, ...items}` whose tag is one of `tags` and whose items are texts or integers
 * (Redis answers a Lua number as an integer) or nil, read as '' (an HMGET field the hash lacks);
 * `min` is how many items after the tag it must have.
 */
export function taggedResult<const T extends string>(
  script: ScriptName,
  v: unknown,
  tags: readonly T[],
  min = 0,
): { tag: T; items: string[] } {
  const expected = `[${tags.join(' | ')}, …${min} more]`;
  if (!Array.isArray(v) || v.length < 1 + min) wrongShape(script, v, expected);
  const [tag, ...rest] = v as unknown[];
  if (typeof tag !== 'string' || !(tags as readonly string[]).includes(tag)) wrongShape(script, v, expected);
  const items = rest.map((x) =>
    typeof x === 'string'
      ? x
      : x === null
        ? ''
        : typeof x === 'number' && Number.isInteger(x)
          ? String(x)
          : wrongShape(script, v, expected),
  );
  return { tag: tag as T, items };
}

/**
 * loadStep-3.lua: the run hash and the session's grants hash as flat field/value lists, then the
 * toggle (nil → null); commitStep-n.lua answers the same after its 'ok' when it commits in place.
 */
export function loadStepResult(
  v: unknown,
  script: ScriptName = 'loadStep',
): {
  hash: Record<string, string>;
  grants: Record<string, string>;
  toggle: string | null;
} {
  const expected = '[flat run hash, flat grants hash, toggle or nil]';
  if (!Array.isArray(v) || v.length !== 3) wrongShape(script, v, expected);
  const [flat, grants, toggle] = v as unknown[];
  const hashOf = (x: unknown): Record<string, string> => {
    if (!Array.isArray(x) || x.length % 2 !== 0 || !x.every((y) => typeof y === 'string')) wrongShape(script, v, expected);
    const h: Record<string, string> = {};
    for (let i = 0; i < x.length; i += 2) h[x[i] as string] = x[i + 1] as string;
    return h;
  };
  if (!(toggle === null || typeof toggle === 'string')) wrongShape(script, v, expected);
  return { hash: hashOf(flat), grants: hashOf(grants), toggle };
}
