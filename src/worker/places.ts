/**
 * A connector's concurrency places in this process: how many of its calls may be under way at once
 * (the connector's `concurrency`). Each job of the connector's own queue holds one while it runs,
 * waiting for it if need be; a job that runs another connector's step in place (chain.ts) takes
 * one of that connector's places too, and only if one is free at once, so it never waits for a
 * place while holding its own (no two jobs can wait on each other). BullMQ's own concurrency bounds
 * the queue's jobs; these places bound the calls, whichever job makes them.
 */
export type Release = () => void;

interface Places {
  size: number;
  used: number;
  waiting: Array<() => void>;
}

export class ConnectorPlaces {
  private readonly places = new Map<string, Places>();

  /** The connector's number of places, at start and after a reload; removed connectors are dropped. */
  resize(sizes: ReadonlyMap<string, number>): void {
    for (const id of this.places.keys()) if (!sizes.has(id)) this.places.delete(id);
    for (const [id, size] of sizes) {
      const p = this.places.get(id);
      if (!p) this.places.set(id, { size: Math.max(1, size), used: 0, waiting: [] });
      else {
        p.size = Math.max(1, size);
        this.wake(p);
      }
    }
  }

  /** Whether this process serves the connector. */
  serves(connector: string): boolean {
    return this.places.has(connector);
  }

  /** Waits for a place of a connector this process serves; at once for one it does not. */
  async acquire(connector: string): Promise<Release> {
    const p = this.places.get(connector);
    if (!p) return () => {};
    if (p.used >= p.size) await new Promise<void>((resolve) => p.waiting.push(resolve));
    else p.used++;
    return this.releaser(p);
  }

  /** A place of the connector if one is free now; never waits. */
  tryAcquire(connector: string): Release | undefined {
    const p = this.places.get(connector);
    if (!p || p.used >= p.size) return undefined;
    p.used++;
    return this.releaser(p);
  }

  /** Whether a job of the connector's own queue waits for one of its places. */
  waited(connector: string): boolean {
    return (this.places.get(connector)?.waiting.length ?? 0) > 0;
  }

  private releaser(p: Places): Release {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      p.used--;
      this.wake(p);
    };
  }

  /** Hands free places to waiting jobs, first come first served (a waiter's place is counted for it). */
  private wake(p: Places): void {
    while (p.used < p.size && p.waiting.length > 0) {
      p.used++;
      p.waiting.shift()?.();
    }
  }
}
