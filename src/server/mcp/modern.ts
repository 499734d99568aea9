import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type CallToolResult,
  createMcpHandler,
  type InputRequiredResult,
  inputRequired,
  inputResponse,
  type ListToolsResult,
  type McpHttpHandler,
  ProtocolError,
  ProtocolErrorCode,
  Server,
  type ServerContext,
} from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import { InterlockError } from '../../errors.ts';
import type { ConfirmationRecord } from '../../runs/records.ts';
import { TERMINAL_RUN_STATUSES } from '../../runs/records.ts';
import { redisUnavailable } from '../../runs/redis-unavailable.ts';
import { elicitationParams, readDecision } from './confirm.ts';
import { RequestStateError, type RequestStates } from './request-state.ts';
import {
  gatePlan,
  getRunResult,
  pendingConfirmation,
  runResult,
  runView,
  toolError,
  workflowsResult,
  type Links,
} from './results.ts';
import { readCatalog } from './catalog.ts';
import { type FacadeServices, INSTRUCTIONS, VERSION } from './server.ts';
import { buildTools, listWorkflows, type CatalogLookup } from './tools.ts';

/**
 * The facade for protocol 2026-07-28: stateless, one server instance per HTTP request, no
 * Mcp-Session-Id and no server-to-client requests. A write that reaches a gate answers
 * `input_required` with the same form the older eras elicit, plus a signed `requestState`
 * (request-state.ts); the client's retry carries the person's answer and decides it.
 */

export interface ModernDeps {
  services: FacadeServices;
  states: RequestStates;
  links: Links;
  /** how long a call waits for its run before answering with the status; default 30 s */
  waitMs?: number;
  /** subscriptions/listen streams open at most, in all (http.ts caps them per token too) */
  maxSubscriptions?: number;
}

/**
 * Where "remember for this conversation" lives on 2026-07-28: the client names its conversation
 * in `_meta` (a label it keeps), and the run session is derived from the caller and that label,
 * so one caller's label can never reach another caller's grants. No label: a fresh one per call.
 */
export const CONVERSATION_META = 'io.interlock/conversation';
const LABEL = /^[A-Za-z0-9_.-]{1,64}$/;
const DECISION_KEY = 'decision';

export function conversationSession(principal: string, conversation: string): string {
  const who = createHash('sha256').update(principal).digest('hex').slice(0, 16);
  return `mcp2-${who}-${conversation}`;
}

function conversationOf(ctx: ServerContext): string {
  const named = ctx.mcpReq._meta?.[CONVERSATION_META];
  if (named === undefined) return randomUUID();
  if (typeof named !== 'string' || !LABEL.test(named))
    throw new ProtocolError(
      ProtocolErrorCode.InvalidParams,
      `_meta["${CONVERSATION_META}"] must be 1-64 letters, digits, _ . or -`,
    );
  return named;
}

const scopes = (ctx: ServerContext): string[] | undefined => ctx.http?.authInfo?.scopes;
const canRun = (ctx: ServerContext): boolean => scopes(ctx)?.includes('trigger') ?? true;
const canConfirm = (ctx: ServerContext): boolean => scopes(ctx)?.includes('confirm') ?? true;
const principalOf = (ctx: ServerContext): string => ctx.http?.authInfo?.clientId ?? 'local';

/** Decisions that lost a race with another decider: the run has moved on, so just look again. */
const RACE_CODES = new Set(['ALREADY_DECIDED', 'HASH_MISMATCH', 'CONFIRMATION_EXPIRED', 'CONFIRMATION_NOT_FOUND']);
/** Decisions the engine refuses this caller (a quorum's rules): nothing was decided, and the answer says why. */
const REFUSED_CODES = new Set(['SELF_APPROVAL', 'NOT_IN_GROUP', 'ALREADY_APPROVED', 'BAD_REQUEST']);

/**
 * Why this caller is not asked about a write a quorum (`require`) holds, if it is not: the engine
 * never takes the run's owner as one of its approvers, so asking would only end in a refusal.
 */
function notAskable(conf: ConfirmationRecord, principal: string): string | undefined {
  const q = conf.policy?.kind === 'rule' ? conf.policy.require : undefined;
  if (!q) return undefined;
  if (conf.owner !== principal) return undefined;
  return `Nobody was asked here: this write needs ${q.approvers} approvers from group "${q.group}", and '${principal}' started the run, so cannot be one of them. They decide on the page or with the command shown.`;
}

export class ModernFacade {
  private readonly log: Logger;
  private readonly deps: ModernDeps;
  constructor(deps: ModernDeps) {
    this.deps = deps;
    this.log = deps.services.logger.child({ component: 'mcp', era: '2026-07-28' });
  }

  private async lookup(): Promise<CatalogLookup> {
    const catalog = await readCatalog(this.deps.services.catalog.pool, this.log);
    return (connector, tool) => catalog.get(connector)?.get(tool);
  }

  /** One server instance, for one request. */
  server(): Server {
    const server = new Server(
      { name: 'interlock', title: 'Interlock', version: VERSION },
      { capabilities: { tools: { listChanged: true } }, instructions: INSTRUCTIONS },
    );
    server.setRequestHandler('tools/list', (_req, ctx) => this.listTools(ctx));
    server.setRequestHandler('tools/call', async (req, ctx) => {
      try {
        return await this.callTool(req.params.name, req.params.arguments ?? {}, ctx);
      } catch (err) {
        if (err instanceof RequestStateError)
          throw new ProtocolError(ProtocolErrorCode.InvalidParams, err.message, { reason: err.fault });
        const unavailable = redisUnavailable(err);
        if (unavailable) return toolError(unavailable.message);
        throw err;
      }
    });
    return server;
  }

  async listTools(ctx: ServerContext): Promise<ListToolsResult> {
    const built = buildTools(this.deps.services.config(), await this.lookup(), { canRun: canRun(ctx) });
    return { tools: [...built.tools.values()].map((t) => t.tool) } as ListToolsResult;
  }

  private async callTool(
    name: string,
    args: Record<string, unknown>,
    ctx: ServerContext,
  ): Promise<CallToolResult | InputRequiredResult> {
    const state = ctx.mcpReq.requestState<unknown>();
    if (typeof state === 'string') return this.resume(state, ctx);
    const config = this.deps.services.config();
    const built = buildTools(config, await this.lookup(), { canRun: true });
    const action = built.tools.get(name)?.action;
    if (!action) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown tool: ${name}`);
    if (action.kind === 'list_workflows') {
      return workflowsResult(listWorkflows(config, built.exposed));
    }
    if (action.kind === 'get_run') {
      if (typeof args.runId !== 'string' || !args.runId)
        throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'get_run needs runId (a string)');
      return getRunResult(this.deps.services, this.deps.links, args.runId);
    }
    return this.start(action.workflow, args, ctx);
  }

  /** run_workflow or a workflow's own tool: starts the run in the caller's conversation and follows it. */
  private async start(
    named: string | undefined,
    args: Record<string, unknown>,
    ctx: ServerContext,
  ): Promise<CallToolResult | InputRequiredResult> {
    if (!canRun(ctx)) {
      return toolError(
        "This connection's token may list workflows and read runs but not start them: it lacks the 'trigger' scope. Nothing was run.",
      );
    }
    let workflow = named;
    let inputs: unknown = args;
    let label: string | undefined;
    if (workflow === undefined) {
      if (typeof args.workflow !== 'string' || !args.workflow)
        throw new ProtocolError(
          ProtocolErrorCode.InvalidParams,
          'run_workflow needs workflow (a workflow name from list_workflows)',
        );
      workflow = args.workflow;
      inputs = args.inputs ?? {};
      if (args.session !== undefined) {
        if (typeof args.session !== 'string' || !LABEL.test(args.session))
          throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'session must be 1-64 letters, digits, _ . or -');
        label = args.session;
      }
    }
    const principal = principalOf(ctx);
    const conversation = conversationOf(ctx);
    let runId: string;
    try {
      runId = (
        await this.deps.services.commands.trigger(workflow, inputs, {
          // As on the older revisions, run_workflow's `session` is only a label inside the conversation.
          session: `${conversationSession(principal, conversation)}${label ? `:${label}` : ''}`,
          principal,
          trustedSession: true,
          ...(label ? { label } : {}),
        })
      ).run.id;
    } catch (err) {
      if (err instanceof InterlockError) return toolError(`${err.message}. Nothing was run.`);
      throw err;
    }
    return this.follow(runId, conversation, ctx);
  }

  /** The retry: the person's answer decides the write named by the signed state, then the run is followed again. */
  private async resume(state: string, ctx: ServerContext): Promise<CallToolResult | InputRequiredResult> {
    const view = inputResponse(ctx.mcpReq.inputResponses, DECISION_KEY);
    // Read before the state is spent, so a retry without an answer can be sent again.
    if (view.kind !== 'elicit')
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `The retry carries no answer to "${DECISION_KEY}": send inputResponses.${DECISION_KEY} (an elicitation result) with the requestState. Nothing was decided.`,
      );
    const principal = principalOf(ctx);
    if (!canConfirm(ctx))
      return toolError(`This connection's token ('${principal}') lacks the 'confirm' scope; nothing was decided.`);
    const s = await this.deps.states.redeem(state, principal);
    const d = readDecision({ action: view.action, ...(view.content ? { content: view.content as never } : {}) });
    if (d.kind === 'unclear') {
      const run = await this.deps.services.queries.requireRun(s.runId);
      return runResult(
        runView(
          run,
          await pendingConfirmation(this.deps.services.queries, run),
          this.deps.links,
          `Nothing was decided: ${d.why}.`,
        ),
      );
    }
    // Remember (the exact payload, or fields held to what was approved) lands in the state's conversation.
    const opts = { by: principal, channel: 'mcp-elicitation' as const, ...(d.remember ? { remember: d.remember } : {}) };
    try {
      // The hash is the one the signed state carries: the one in the message the person saw.
      if (d.kind === 'approve') await this.deps.services.commands.approve(s.cid, s.hash, opts);
      else await this.deps.services.commands.deny(s.cid, opts);
    } catch (err) {
      if (!(err instanceof InterlockError)) throw err;
      if (REFUSED_CODES.has(err.code)) {
        const run = await this.deps.services.queries.requireRun(s.runId);
        const conf = await pendingConfirmation(this.deps.services.queries, run);
        return runResult(runView(run, conf, this.deps.links, `Nothing was decided: ${err.message}`));
      }
      if (!RACE_CODES.has(err.code)) throw err;
    }
    return this.follow(s.runId, s.conversation, ctx);
  }

  /** Waits for the run; at a gate the caller may decide, answers input_required with a fresh state. */
  private async follow(runId: string, conversation: string, ctx: ServerContext): Promise<CallToolResult | InputRequiredResult> {
    const { commands, queries, events } = this.deps.services;
    const deadline = Date.now() + (this.deps.waitMs ?? 30_000);
    const blocking = events.duplicate();
    try {
      for (;;) {
        const run = await commands.waitFor(runId, { blocking, timeoutMs: Math.max(0, Math.min(deadline - Date.now(), 10_000)) });
        const conf = await pendingConfirmation(queries, run);
        // Decided a moment ago (by this retry or someone else): the run's status catches up next round.
        if (run.status === 'awaiting_confirmation' && !conf && Date.now() < deadline) {
          await sleep(50);
          continue;
        }
        const why = conf ? notAskable(conf, principalOf(ctx)) : undefined;
        if (run.status === 'awaiting_confirmation' && conf && canConfirm(ctx) && !why) return this.ask(conf, conversation, ctx);
        const settled = TERMINAL_RUN_STATUSES.has(run.status) || run.status === 'needs_attention';
        if (settled || run.status === 'awaiting_confirmation' || Date.now() >= deadline || ctx.mcpReq.signal.aborted)
          return runResult(runView(run, conf, this.deps.links, why, await gatePlan(this.deps.services.plans, run)));
      }
    } finally {
      blocking.disconnect();
    }
  }

  private async ask(conf: ConfirmationRecord, conversation: string, ctx: ServerContext): Promise<InputRequiredResult> {
    const requestState = await this.deps.states.mint(
      { cid: conf.id, hash: conf.argumentsHash, runId: conf.runId, conversation },
      principalOf(ctx),
    );
    // The plan in words, as the older eras show it (one wording: plans/words.ts).
    const run = await this.deps.services.queries.requireRun(conf.runId);
    const plan = await gatePlan(this.deps.services.plans, run);
    return inputRequired({
      inputRequests: { [DECISION_KEY]: inputRequired.elicit(elicitationParams(conf, this.deps.links, plan)) },
      requestState,
    });
  }
}

/** The 2026-07-28 leg of `/mcp`; older eras never reach it (http.ts routes them to the sessionful facade). */
export function createModernHandler(deps: ModernDeps): McpHttpHandler {
  const facade = new ModernFacade(deps);
  return createMcpHandler(() => facade.server(), {
    legacy: 'reject',
    ...(deps.maxSubscriptions !== undefined ? { maxSubscriptions: deps.maxSubscriptions } : {}),
    onerror: (err) => deps.services.logger.debug({ err: err.message }, 'MCP 2026-07-28 request refused'),
  });
}
