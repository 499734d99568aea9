import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ElicitResult } from '@modelcontextprotocol/sdk/types.js';
import { InterlockError, errorMessage } from '../../errors.ts';
import type { ConfirmationRecord } from '../../runs/records.ts';
import { decideUrl } from '../ui/decide.ts';
import type { AskOutcome, Extra, FollowOptions } from './follow.ts';

const POLL_MS = 200;

/**
 * URL-mode elicitation: the person is sent to a one-time page that renders the write in full
 * (a form elicitation can only carry it as text) and decides there. Accepting the elicitation
 * only means they went to the page; the decision is the page's, and once it is made the client
 * is told with notifications/elicitation/complete. Declining or cancelling denies the write, as
 * in form mode: the person was asked and did not say yes.
 */
export async function askByUrl(conf: ConfirmationRecord, extra: Extra, o: FollowOptions, publicUrl: string): Promise<AskOutcome> {
  const timeout = Math.max(1000, Math.min(o.elicitTimeoutMs, conf.expiresAt - Date.now()));
  const links = o.services.decideLinks;
  const token = await links.mint({
    confirmationId: conf.id,
    by: o.decider.by,
    channel: 'mcp-url',
    // Remembering is for the run's own principal only (see Engine.approve).
    mayRemember: conf.owner === undefined || conf.owner === o.decider.by,
    expiresAt: Date.now() + timeout,
  });
  const elicitationId = randomUUID();
  let result: ElicitResult;
  try {
    result = await o.server.elicitInput(
      {
        mode: 'url',
        elicitationId,
        url: decideUrl(publicUrl, token),
        message: `Interlock asks before a write: workflow "${conf.workflow}" (run ${conf.runId}) wants to call ${conf.connector}.${conf.tool}. Open the page to see the exact JSON it will send (argumentsHash ${conf.argumentsHash}) and approve or deny it.`,
      },
      { relatedRequestId: extra.requestId, signal: extra.signal, timeout },
    );
  } catch (err) {
    await links.revoke(token);
    o.logger.info({ confirmation: conf.id, err: errorMessage(err) }, 'URL elicitation got no answer; the write stays pending');
    return {
      kind: 'unanswered',
      note: `The person was sent to a confirmation page but the client did not answer (${errorMessage(err)}). The write stays pending: decide it on the Interlock pages or with the command shown; call get_run later.`,
    };
  }
  if (result.action !== 'accept') {
    await links.revoke(token);
    await o.services.commands.deny(conf.id, o.decider).catch((err: unknown) => {
      if (!(err instanceof InterlockError)) throw err;
    });
    return { kind: 'decided' };
  }
  const decided = await waitForDecision(o, conf.id, Date.now() + timeout, extra.signal);
  if (!decided) {
    await links.revoke(token);
    return {
      kind: 'unanswered',
      note: 'The confirmation page was opened but nothing was decided in time. The write stays pending: decide it on the Interlock pages or with the command shown; call get_run later.',
    };
  }
  await o.server
    .createElicitationCompletionNotifier(elicitationId)()
    .catch((err: unknown) => o.logger.info({ err: errorMessage(err) }, 'could not send elicitation/complete'));
  return { kind: 'decided' };
}

/** Whether the confirmation left `pending` (decided on the page or anywhere else) before `until`. */
async function waitForDecision(o: FollowOptions, cid: string, until: number, signal: AbortSignal): Promise<boolean> {
  while (Date.now() < until && !signal.aborted) {
    const c = await o.services.queries.getConfirmation(cid);
    if (!c || c.status !== 'pending') return true;
    await sleep(POLL_MS);
  }
  return false;
}
