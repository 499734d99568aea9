import { InterlockError } from '../errors.ts';

/**
 * How many long-lived things (event streams, live page feeds) each principal holds, with a cap per
 * principal: one token filling the server must not lock the others out.
 */
export class PerPrincipalLimit {
  private readonly held = new Map<string, number>();
  readonly max: number;
  private readonly what: string;

  constructor(max: number, what: string) {
    this.max = max;
    this.what = what;
  }

  /** Takes a place for `who`, or throws 429 TOO_MANY_REQUESTS; the returned function gives it back (once). */
  take(who: string): () => void {
    const n = this.held.get(who) ?? 0;
    if (n >= this.max) {
      throw new InterlockError(
        'TOO_MANY_REQUESTS',
        `Token '${who}' already holds ${n} open ${this.what}, the most one token may; close some and try again`,
        { limit: this.max },
      );
    }
    this.held.set(who, n + 1);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      const left = (this.held.get(who) ?? 1) - 1;
      if (left > 0) this.held.set(who, left);
      else this.held.delete(who);
    };
  }
}
