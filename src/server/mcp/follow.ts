import { setTimeout as sleep } from 'node:timers/promises';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { CallToolResult, ElicitResult, ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { InterlockError, errorMessage } from '../../errors.ts';
import type { ConfirmationRecord, DecisionChannel, RunEvent, RunRecord } from '../../runs/records.ts';
import { TERMINAL_RUN_STATUSES } from '../../runs/records.ts';
import type { ServerServices } from '../services.ts';
import { askByUrl } from './ask-url.ts';
import { elicitationParams, readDecision } from './confirm.ts';
import { gatePlan, pendingConfirmation, runResult, runView, type Links } from './results.ts';

export type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

export interface FollowOptions {
  services: Pick<ServerServices, 'commands' | 'queries' | 'events' | 'decideLinks' | 'plans'>;
  server: Server;
  links: Links;
  logger: Logger;
  /** ask at gates through elicitation/create; only when the caller may decide (has `confirm`) */
  elicit: boolean;
  /**
   * `url`: send the person to a one-time page that shows the write in full (clients that declare
   * elicitation.url, when the server knows its public URL); `form`: the flat form. Default form.
   */
  elicitMode?: 'form' | 'url';
  /** said beside a pending write when the client could elicit but its token may not decide */
  notAsked?: string;
  /** whom a decision made through elicitation is recorded as, and on which channel */
  decider: { by: string; channel: DecisionChannel };
  /** how long to wait for the run before answering with its status */
  waitMs: number;
  /** the same when the client asked for progress notifications */
  progressWaitMs: number;
  /** upper bound on how long a person may take to answer one elicitation */
  elicitTimeoutMs: number;
}

/** What happened when the person was asked. `decided` means the run moved on; look again. */
export type AskOutcome = { kind: 'decided' } | { kind: 'unanswered'; note: string };

/** Decisions that lost a race with another decider: the run has moved on, so just look again. */
const RACE_CODES = new Set(['ALREADY_DECIDED', 'HASH_MISMATCH', 'CONFIRMATION_EXPIRED', 'CONFIRMATION_NOT_FOUND']);

/** Progress reports to a client that gave a progressToken; a no-op otherwise. */
function progressReporter(extra: Extra): { enabled: boolean; report(message: string): void } {
  const token = extra._meta?.progressToken;
  let n = 0;
  return {
    enabled: token !== undefined,
    report(message) {
      if (token === undefined) return;
      // The spec wants progress to grow with every notification; a counter does, without guessing a total.
      void extra
        .sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: ++n, message } })
        // A client that went away misses a progress note, nothing more; the run and its answer go on.
        .catch(() => {});
    },
  };
}

function describeEvent(e: RunEvent): string {
  return `${e.type}${e.stepId ? ` (step ${e.stepId})` : ''}`;
}

/**
 * Follows one run for the length of a tool call: answers with the result when it ends in time,
 * asks the person at each gate when the client can elicit (and goes on in the same call),
 * and otherwise answers with what the run waits for. Leaving never touches the run: it goes on
 * in the workers and in Redis whether anyone follows it or not.
 */
export async function followRun(runId: string, extra: Extra, o: FollowOptions): Promise<CallToolResult> {
  const { commands, queries } = o.services;
  const progress = progressReporter(extra);
  const budget = progress.enabled ? o.progressWaitMs : o.waitMs;
  let deadline = Date.now() + budget;
  const seen = new Set<string>();
  const blocking = o.services.events.duplicate();
  // First, so a client that gives up before the answer still has the id to follow.
  progress.report(`run ${runId} started; get_run follows it`);
  const answer = async (run: RunRecord, conf?: ConfirmationRecord, note?: string) =>
    runResult(
      runView(run, conf ?? (await pendingConfirmation(queries, run)), o.links, note, await gatePlan(o.services.plans, run)),
    );
  try {
    for (;;) {
      let fresh = 0;
      const run = await commands.waitFor(runId, {
        blocking,
        // Short slices so progress keeps flowing through quiet stretches and a cancel is noticed.
        timeoutMs: Math.max(0, Math.min(deadline - Date.now(), 10_000)),
        onEvent: (e) => {
          if (seen.has(e.id)) return;
          seen.add(e.id);
          fresh++;
          progress.report(describeEvent(e));
        },
      });
      if (TERMINAL_RUN_STATUSES.has(run.status) || run.status === 'needs_attention') return await answer(run);
      if (extra.signal.aborted)
        return await answer(run, undefined, 'The call was cancelled; the run goes on. Call get_run to follow it.');
      if (run.status === 'awaiting_confirmation') {
        const conf = await pendingConfirmation(queries, run);
        if (!conf) {
          // Decided a moment ago by someone else; the run's status catches up next round.
          await sleep(50);
          continue;
        }
        if (!o.elicit) return await answer(run, conf, o.notAsked);
        progress.report(`asking for approval of ${conf.connector}.${conf.tool}`);
        const asked = await ask(conf, extra, o, run);
        if (asked.kind === 'unanswered') return await answer(await queries.requireRun(runId), undefined, asked.note);
        // The person's time does not count against the run's.
        deadline = Date.now() + budget;
        continue;
      }
      if (Date.now() >= deadline) return await answer(run);
      if (fresh === 0) progress.report(`run ${run.status}`);
    }
  } finally {
    blocking.disconnect();
  }
}

async function ask(conf: ConfirmationRecord, extra: Extra, o: FollowOptions, run: RunRecord): Promise<AskOutcome> {
  if (o.elicitMode === 'url' && o.links.publicUrl) return askByUrl(conf, extra, o, o.links.publicUrl);
  const left = conf.expiresAt - Date.now();
  let result: ElicitResult;
  try {
    result = await o.server.elicitInput(elicitationParams(conf, o.links, await gatePlan(o.services.plans, run)), {
      relatedRequestId: extra.requestId,
      signal: extra.signal,
      timeout: Math.max(1000, Math.min(o.elicitTimeoutMs, left)),
    });
  } catch (err) {
    o.logger.info({ confirmation: conf.id, err: errorMessage(err) }, 'elicitation got no answer; the write stays pending');
    return {
      kind: 'unanswered',
      note:
        `The person was asked but no answer came back (${errorMessage(err)}). The write stays pending: ` +
        'a person can still approve or deny it on the page or with the command shown; call get_run later.',
    };
  }
  const d = readDecision(result);
  if (d.kind === 'unclear') {
    return {
      kind: 'unanswered',
      note: `The answer could not be read as approve or deny (${d.why}); the write stays pending for a person to decide elsewhere.`,
    };
  }
  const opts = { ...o.decider, ...(d.remember ? { remember: d.remember } : {}) };
  try {
    // The hash is the one in the message the person saw, so the approval binds to that payload.
    if (d.kind === 'approve') await o.services.commands.approve(conf.id, conf.argumentsHash, opts);
    else await o.services.commands.deny(conf.id, opts);
  } catch (err) {
    if (!(err instanceof InterlockError) || !RACE_CODES.has(err.code)) throw err;
  }
  return { kind: 'decided' };
}
