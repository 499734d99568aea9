import { InterlockError } from '../errors.ts';
import type { WorkflowDef } from '../workflows/types.ts';
import type { Keys } from './keys.ts';
import type { RedisClient } from './redis.ts';

/** How many parsed definitions a process keeps; a long-lived server that keeps loading new versions must not grow without bound. */
const CACHE_LIMIT = 1000;

/**
 * The workflow definitions runs pinned, stored once per version (`il:def:<workflow>@<version>`;
 * the version is a hash of the content, so a stored one never changes) and cached by each process,
 * so a run names its definition instead of carrying a copy and a step never parses one.
 */
export class Definitions {
  private readonly redis: RedisClient;
  private readonly keys: Keys;
  private readonly parsed = new Map<string, WorkflowDef>();
  /** keys this process has seen written: a version is sent to Redis once per process, not per run */
  private readonly stored = new Set<string>();

  constructor(redis: RedisClient, keys: Keys) {
    this.redis = redis;
    this.keys = keys;
  }

  remember(wf: WorkflowDef): void {
    const name = `${wf.name}@${wf.version}`;
    if (this.parsed.has(name)) return;
    if (this.parsed.size >= CACHE_LIMIT) this.parsed.delete(this.parsed.keys().next().value as string);
    this.parsed.set(name, wf);
  }

  /** Writes the definition unless that version is stored already. */
  async store(wf: WorkflowDef): Promise<void> {
    const key = this.keys.definition(wf.name, wf.version);
    if (this.stored.has(key)) return;
    await this.redis.set(key, JSON.stringify(wf), 'NX');
    this.stored.add(key);
  }

  /**
   * The definitions named by run hashes (or `{workflow, version}` pairs): from the cache, else read
   * once from Redis. Runs written before definitions were stored apart carry their own copy.
   */
  async of(hashes: Array<Record<string, string>>): Promise<WorkflowDef[]> {
    const missing = new Map<string, string>();
    for (const h of hashes) {
      const name = `${h.workflow}@${h.version}`;
      if (!h.definition && !this.parsed.has(name)) missing.set(name, this.keys.definition(h.workflow, h.version));
    }
    if (missing.size > 0) {
      // One GET each rather than MGET: on a cluster the keys live in different slots.
      const raw = await Promise.all([...missing.values()].map((k) => this.redis.get(k)));
      [...missing].forEach(([name, key], i) => {
        const json = raw[i];
        if (!json)
          throw new InterlockError(
            'RUN_CORRUPT',
            `The workflow definition ${name} that runs name is missing from Redis (key ${key})`,
          );
        this.remember(JSON.parse(json) as WorkflowDef);
      });
    }
    return hashes.map((h) =>
      h.definition ? (JSON.parse(h.definition) as WorkflowDef) : (this.parsed.get(`${h.workflow}@${h.version}`) as WorkflowDef),
    );
  }
}
