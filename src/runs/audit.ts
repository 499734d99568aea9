/**
 * The audit: every decision that let a write go or stopped it, append-only, in one Redis stream
 * per deployment (`<prefix>:audit`). An entry names its source — a person (with the channel), a
 * policy rule, a grant or an approved plan — the argumentsHash it was bound to, the confirmation,
 * run and step, and when. A person's decision is appended by the decide script itself on a single
 * Redis (scripts/decide-n.lua), so the decision and its entry are one write; a decision the worker
 * makes (rule, grant, plan) is appended before the write it lets through is sent. Entries older
 * than the configured retention are trimmed on every append (XADD MINID ~).
 */
import { DEFAULT_AUDIT_RETENTION_MS, type Money, type Quorum } from '../policy/types.ts';
import { InterlockError } from '../errors.ts';
import { scrub } from '../secrets.ts';
import type { Keys } from './keys.ts';
import type { DecisionChannel } from './records.ts';
import type { RedisClient } from './redis.ts';

/** Who or what decided. */
export type DecisionSource =
  | { kind: 'person'; by: string; channel?: DecisionChannel }
  | { kind: 'rule'; rule: string }
  | { kind: 'grant'; grant?: string; by?: string }
  | { kind: 'plan'; planHash: string };

/**
 * `approve` and `deny` let a write go or stop it; `expire` is the deadline passing; `approval` is
 * one approval toward a quorum that is not complete yet.
 */
export type AuditDecision = 'approve' | 'deny' | 'expire' | 'approval';

export interface AuditEntry {
  /** the stream id; entries are in this order */
  id: string;
  decision: AuditDecision;
  source: DecisionSource;
  argumentsHash: string;
  runId: string;
  stepId: string;
  /** the item of a loop or parallel step (`3`, `3.refund`, `branch.step`) the decision was for */
  item?: string;
  workflow?: string;
  connector?: string;
  tool?: string;
  confirmationId?: string;
  /** when the decision was made (ms) */
  at: number;
  money?: Money;
  /** a quorum's requirement and how many approvals it had with this entry */
  quorum?: Quorum & { count?: number };
}

export type AuditDraft = Omit<AuditEntry, 'id' | 'decision'>;

/** The stream id below which entries are trimmed: now minus the retention. */
export function auditMinId(retentionMs: number, now = Date.now()): string {
  return `${Math.max(now - retentionMs, 0)}-0`;
}

/** An entry as the decide script takes it: JSON without `decision`, which the script puts in front. */
export function auditDraftJson(d: AuditDraft): string {
  return scrub(JSON.stringify(d));
}

export interface AuditQuery {
  /** ms since the epoch, or a stream id: entries at or after it */
  since?: number | string;
  /** only this run's entries */
  run?: string;
  limit?: number;
}

export class AuditLog {
  private readonly redis: RedisClient;
  private readonly keys: Keys;
  /** how long entries are kept; the app points it at the config (policy.audit_retention), reloads included */
  retention: () => number = () => DEFAULT_AUDIT_RETENTION_MS;

  get retentionMs(): number {
    return this.retention();
  }

  constructor(redis: RedisClient, keys: Keys) {
    this.redis = redis;
    this.keys = keys;
  }

  /**
   * Appends one decision. The worker calls this for what it decides itself (rule, grant, plan) before
   * it sends the write; the store calls it for a person's decision on a cluster, where the decide
   * script cannot reach the stream.
   */
  async append(decision: AuditDecision, draft: AuditDraft): Promise<string> {
    const json = `{"decision":${JSON.stringify(decision)},${auditDraftJson(draft).slice(1)}`;
    const id = await this.redis.xadd(this.keys.audit(), 'MINID', '~', auditMinId(this.retentionMs), '*', 'e', json);
    return id ?? '';
  }

  /**
   * Entries oldest first, from `since`; `nextSince` continues after the last one returned. An entry
   * older than the retention is never returned, even before a trim (appends trim whole stream nodes
   * only, `MINID ~`) has removed it: what the audit keeps is exactly the configured time.
   */
  async list(q: AuditQuery = {}, now = Date.now()): Promise<{ entries: AuditEntry[]; nextSince?: string }> {
    const limit = Math.min(Math.max(q.limit ?? 1000, 1), 10_000);
    const out: AuditEntry[] = [];
    const asked = q.since === undefined ? '-' : typeof q.since === 'number' ? `${q.since}-0` : q.since;
    const kept = auditMinId(this.retentionMs, now);
    let start = asked === '-' || streamIdBefore(asked, kept) ? kept : asked;
    for (;;) {
      const rows = await this.redis.xrange(this.keys.audit(), start, '+', 'COUNT', Math.max(limit, 200));
      for (const [id, fields] of rows) {
        const e = parseEntry(id, fields);
        if (!e || (q.run && e.runId !== q.run)) continue;
        out.push(e);
        if (out.length === limit) return { entries: out, nextSince: `(${id}` };
      }
      if (rows.length < Math.max(limit, 200)) return { entries: out };
      start = `(${rows[rows.length - 1][0]}`;
    }
  }

  /** Drops every entry older than the retention, exactly (appends trim as they go, by whole stream nodes). */
  async trim(now = Date.now()): Promise<number> {
    return this.redis.xtrim(this.keys.audit(), 'MINID', auditMinId(this.retentionMs, now));
  }
}

/** Whether stream id `a` (`ms-seq`, or `(ms-seq` for "after") sorts before `b` (`ms-seq`). */
function streamIdBefore(a: string, b: string): boolean {
  const [am, as] = a.replace(/^\(/, '').split('-').map(Number);
  const [bm, bs] = b.split('-').map(Number);
  return am < bm || (am === bm && (as ?? 0) < (bs ?? 0));
}

function parseEntry(id: string, fields: string[]): AuditEntry | undefined {
  const i = fields.indexOf('e');
  if (i < 0 || i + 1 >= fields.length) return undefined;
  try {
    return { id, ...(JSON.parse(fields[i + 1]) as Omit<AuditEntry, 'id'>) };
  } catch {
    return undefined;
  }
}

/** `since`: ms since the epoch, an ISO time, or a stream id (`1764614863000-0`) to continue from. */
export function parseSince(v: string | undefined): number | string | undefined {
  if (v === undefined || v === '') return undefined;
  if (/^\d+$/.test(v)) return Number(v);
  if (/^\(?\d+-\d+$/.test(v)) return v;
  const t = Date.parse(v);
  if (Number.isNaN(t))
    throw new InterlockError('BAD_REQUEST', `since must be milliseconds, an ISO time or an audit entry id, not "${v}"`);
  return t;
}
