/**
 * Tool-name globs for a connector's `tools.allow` / `tools.deny`: `*` is any run of characters,
 * `?` exactly one, everything else literal. Tool names are flat (no path segments), so `*`
 * crosses `.`, `/` and `_` alike.
 */
const cache = new Map<string, RegExp>();

export function globToRegExp(glob: string): RegExp {
  let re = cache.get(glob);
  if (!re) {
    const body = glob
      .split('')
      .map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
      .join('');
    re = new RegExp(`^${body}$`);
    cache.set(glob, re);
  }
  return re;
}

export function matchesGlob(name: string, glob: string): boolean {
  return globToRegExp(glob).test(name);
}

/** The first pattern that matches `name`, so a message can say which rule applied. */
export function firstMatch(name: string, globs: readonly string[]): string | undefined {
  return globs.find((g) => matchesGlob(name, g));
}
