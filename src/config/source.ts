import { type FSWatcher, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';
import { ConfigError, errorMessage, formatIssue } from '../errors.ts';
import { loadConfig } from '../workflows/load.ts';
import type { InterlockConfig } from '../workflows/types.ts';

/** What a reload changed, by name; an empty diff means the file said the same thing. */
export interface ConfigDiff {
  connectors: { added: string[]; removed: string[]; changed: string[] };
  workflows: { added: string[]; removed: string[]; changed: string[] };
  policy: boolean;
  tokens: boolean;
  llm: boolean;
}

export type ConfigListener = (next: InterlockConfig, diff: ConfigDiff, prev: InterlockConfig) => void | Promise<void>;

/**
 * The one owner of the current config in a process. The engine, workers, connector pool and routes
 * read `current` (or subscribe); nothing else keeps a copy. A reload that fails validation throws
 * and leaves `current` as it was. Runs in flight are untouched either way: they pinned their
 * definitions when they started.
 */
export class ConfigSource {
  private config: InterlockConfig;
  private readonly listeners = new Set<ConfigListener>();
  private watcher: FSWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private applying: Promise<unknown> = Promise.resolve();

  private readonly logger: Logger | undefined;

  constructor(config: InterlockConfig, logger?: Logger) {
    this.config = config;
    this.logger = logger;
  }

  get current(): InterlockConfig {
    return this.config;
  }

  /** Called after every change with the new config and what changed; returns the unsubscribe. */
  subscribe(cb: ConfigListener): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  /** Reads the config file again; throws its ConfigError (file:line:col) and changes nothing if invalid. */
  async reload(): Promise<ConfigDiff> {
    let next: InterlockConfig;
    try {
      next = loadConfig(this.config.file);
    } catch (err) {
      this.logger?.error(
        { file: this.config.file, err: describeError(err) },
        'config reload failed; keeping the previous config',
      );
      throw err;
    }
    return this.set(next);
  }

  /**
   * Makes `next` current and tells every subscriber, waiting for each (a pool rebuilding its
   * sessions). Changes apply one at a time: a SIGHUP during a file-watch reload waits its turn.
   */
  set(next: InterlockConfig): Promise<ConfigDiff> {
    const applied = this.applying.then(() => this.apply(next));
    // The caller of set() hears this change's failure; the queue only waits for it to settle.
    this.applying = applied.catch(() => {});
    return applied;
  }

  private async apply(next: InterlockConfig): Promise<ConfigDiff> {
    const prev = this.config;
    const diff = diffConfigs(prev, next);
    this.config = next;
    this.logger?.info({ file: next.file, changes: summarize(diff) }, 'config reloaded');
    for (const cb of this.listeners) {
      try {
        await cb(next, diff, prev);
      } catch (err) {
        this.logger?.warn({ err: errorMessage(err) }, 'a config subscriber failed to apply the new config');
      }
    }
    return diff;
  }

  /**
   * Reloads when the file changes (editors write in bursts, so changes settle for `debounceMs`).
   * Watches the folder, not the file: an editor that saves by rename replaces the file's inode.
   */
  watch(opts: { debounceMs?: number; onResult?: (r: { diff?: ConfigDiff; error?: unknown }) => void } = {}): void {
    if (this.watcher) return;
    const file = this.config.file;
    const name = basename(file);
    this.watcher = watch(dirname(file), (_event, changed) => {
      if (changed !== null && changed !== name) return;
      clearTimeout(this.debounce);
      this.debounce = setTimeout(() => {
        this.reload().then(
          (diff) => opts.onResult?.({ diff }),
          (error: unknown) => opts.onResult?.({ error }),
        );
      }, opts.debounceMs ?? 200);
    });
    this.watcher.unref();
  }

  close(): void {
    clearTimeout(this.debounce);
    this.watcher?.close();
    this.watcher = undefined;
  }
}

/** A ConfigError's issues each as file:line:col: message; anything else as its message. */
export function describeError(err: unknown): string {
  return err instanceof ConfigError ? err.issues.map(formatIssue).join('\n') : errorMessage(err);
}

export function summarize(diff: ConfigDiff): string {
  const parts: string[] = [];
  for (const kind of ['connectors', 'workflows'] as const) {
    for (const how of ['added', 'removed', 'changed'] as const) {
      if (diff[kind][how].length) parts.push(`${kind} ${how}: ${diff[kind][how].join(', ')}`);
    }
  }
  for (const k of ['policy', 'tokens', 'llm'] as const) if (diff[k]) parts.push(`${k} changed`);
  return parts.join('; ') || 'nothing changed';
}

export function diffConfigs(prev: InterlockConfig, next: InterlockConfig): ConfigDiff {
  return {
    connectors: diffMaps(prev.connectors, next.connectors),
    workflows: diffMaps(prev.workflows, next.workflows),
    policy: !same(prev.policy, next.policy),
    tokens: !same(prev.tokens, next.tokens),
    llm: !same(prev.llm, next.llm),
  };
}

function diffMaps(a: Record<string, unknown>, b: Record<string, unknown>): ConfigDiff['connectors'] {
  const added = Object.keys(b).filter((k) => !Object.hasOwn(a, k));
  const removed = Object.keys(a).filter((k) => !Object.hasOwn(b, k));
  const changed = Object.keys(b).filter((k) => Object.hasOwn(a, k) && !same(a[k], b[k]));
  return { added, removed, changed };
}

/** Equal apart from source positions: a line added above a connector does not change it. */
function same(a: unknown, b: unknown): boolean {
  const noPositions = (key: string, v: unknown) => (key === 'pos' || key === 'keyPos' ? undefined : v);
  return JSON.stringify(a, noPositions) === JSON.stringify(b, noPositions);
}
