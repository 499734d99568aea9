/**
 * The person's side of `interlock chat`: the facade's elicitation answered at the terminal. The
 * write is shown from its record (the way `interlock run` shows it) with the plan in words, and the
 * person approves, remembers, scopes, approves the whole plan once, or denies.
 */
import type { Interface } from 'node:readline/promises';
import type { ElicitRequest, ElicitResult } from '@modelcontextprotocol/sdk/types.js';
import type { App } from '../app.ts';
import { approvePlan } from '../engine/plans.ts';
import { errorMessage } from '../errors.ts';
import { currencyOf, fieldChoices } from '../grants/constraints.ts';
import { bold, formatConfirmation, formatPlanAtGate, green, red, yellow } from './format.ts';
import { planAtGate } from './grants.ts';

/**
 * Answers the facade's elicitation by asking the person. The confirmation is shown from the
 * record the facade asked about (found by the id and hash in its message), the way `interlock
 * run` shows it; the answer goes back to the facade, which approves exactly that hash.
 */
export async function confirmAtTerminal(
  app: App,
  rl: Interface,
  say: (s: string) => void,
  req: ElicitRequest,
): Promise<ElicitResult> {
  const p = req.params;
  if (p.mode === 'url') return { action: 'decline' };
  const id = /npx interlock approve (\S+?)`/.exec(p.message)?.[1];
  const hash = /argumentsHash: ([0-9a-f]{64})/.exec(p.message)?.[1];
  // Without the record (Redis away) the facade's own message, which holds the same payload, is shown.
  const conf = id ? await app.store.getConfirmation(id).catch(() => undefined) : undefined;
  say('');
  const plan = conf && conf.argumentsHash === hash ? await planAtGate(app, conf.runId) : undefined;
  const offersPlan = plan !== undefined && !plan.approved?.current && plan.plan.items.some((i) => i.status === 'planned');
  if (conf && conf.argumentsHash === hash) {
    say(formatConfirmation(conf));
    if (plan) say(formatPlanAtGate(plan, conf.runId));
  } else say(p.message);
  for (;;) {
    let a: string;
    try {
      a = (
        await ask(
          rl,
          bold(
            `Approve this call? [a]pprove / [r]emember: approve, and this exact call again without asking / [s]cope: approve and remember for fields you pick /${offersPlan ? ' [p]lan: approve the whole plan shown once /' : ''} [d]eny: `,
          ),
        )
      )
        .trim()
        .toLowerCase();
    } catch {
      // The terminal closed mid-question: nobody decided, so the write stays pending.
      return { action: 'cancel' };
    }
    if (a === 'a' || a === 'approve' || a === 'y' || a === 'yes') return decided(say, 'approve', false);
    if (a === 'r' || a === 'remember') return decided(say, 'approve', true);
    if ((a === 's' || a === 'scope') && conf) {
      for (const f of fieldChoices(conf.arguments, currencyOf(conf.arguments, conf.currency)))
        say(`  ${f.field.padEnd(24)} → ${f.words}`);
      try {
        const fields = (await ask(rl, bold('Fields to hold to what you approve (comma separated): '))).trim();
        const ttl = (await ask(rl, bold('For how long (10m, 1h; empty: until the chat ends): '))).trim();
        return decided(say, 'approve', true, {
          ...(fields ? { remember_fields: fields } : {}),
          ...(ttl ? { remember_for: ttl } : {}),
        });
      } catch {
        return { action: 'cancel' };
      }
    }
    if ((a === 'p' || a === 'plan') && conf && plan && offersPlan) {
      const done = await approvePlanHere(app, say, conf.runId, plan.plan.planHash);
      // The plan approved the write asked about: the facade's own approval then finds it decided.
      if (done) return { action: 'accept', content: { decision: 'approve', remember: false } };
      continue;
    }
    if (a === 'd' || a === 'deny' || a === 'n' || a === 'no') return decided(say, 'deny', false);
  }
}

/**
 * Approves the plan the person saw, bound to its hash, as the chat's person. True when the write
 * asked about was approved with it; false (said why) when the plan changed or did not cover it.
 */
async function approvePlanHere(app: App, say: (s: string) => void, runId: string, planHash: string): Promise<boolean> {
  try {
    const r = await approvePlan(app.engine, (c, t) => app.pool.getTool(c, t), runId, planHash, { by: 'local', channel: 'chat' });
    if (r.confirmation) {
      say(
        green(
          `plan approved: ${r.confirmation.connector}.${r.confirmation.tool} and the writes after it run while they match it`,
        ),
      );
      return true;
    }
    say(yellow('plan approved for the writes after this one; this write still needs your decision'));
  } catch (err) {
    say(red(`the plan was not approved: ${errorMessage(err)}`));
  }
  return false;
}

/** A question that gives up when the chat closes (Ctrl-C, Ctrl-D); readline leaves it pending otherwise. */
export function ask(rl: Interface, prompt: string): Promise<string> {
  const ac = new AbortController();
  const onClose = () => ac.abort();
  rl.once('close', onClose);
  return rl.question(prompt, { signal: ac.signal }).finally(() => rl.off('close', onClose));
}

function decided(
  say: (s: string) => void,
  decision: 'approve' | 'deny',
  remember: boolean,
  scope: { remember_fields?: string; remember_for?: string } = {},
): ElicitResult {
  const what = scope.remember_fields
    ? `for ${scope.remember_fields}${scope.remember_for ? `, ${scope.remember_for}` : ''}`
    : 'for this exact call';
  say(
    decision === 'approve'
      ? green(`approved${remember ? `, and remembered ${what} in this conversation` : ''}`)
      : red('denied: the tool will not be called'),
  );
  return { action: 'accept', content: { decision, remember, ...scope } };
}
