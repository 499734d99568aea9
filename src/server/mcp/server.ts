import { readFileSync } from 'node:fs';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  type CallToolResult,
  type ListToolsResult,
} from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import type { ToolInfo } from '../../connectors/types.ts';
import { InterlockError, errorMessage } from '../../errors.ts';
import { redisUnavailable } from '../../runs/redis-unavailable.ts';
import type { DecisionChannel } from '../../runs/records.ts';
import type { InterlockConfig } from '../../workflows/types.ts';
import type { ServerServices } from '../services.ts';
import { readCatalog } from './catalog.ts';
import { followRun, type Extra } from './follow.ts';
import { getRunResult, toolError, workflowsResult, type Links } from './results.ts';
import { buildTools, listWorkflows, type CatalogLookup } from './tools.ts';

/** What the facade reads and does: runs, their events, the catalog and the config, never the App. */
export type FacadeServices = Pick<
  ServerServices,
  'config' | 'commands' | 'queries' | 'catalog' | 'events' | 'sessions' | 'decideLinks' | 'logger' | 'plans'
>;

export interface FacadeDeps {
  services: FacadeServices;
  /**
   * The run session of this MCP session: runs started here belong to it, and "remember for this
   * conversation" grants live in it and end with it.
   */
  session: string;
  /**
   * Who the person behind this session is when the transport carries no authInfo (stdio, the
   * chat's in-memory link): the local operator, who may decide. Over HTTP the token's name is used.
   */
  principal?: string;
  /** the channel decisions made through elicitation are recorded as; default `mcp-elicitation` */
  channel?: DecisionChannel;
  /** where `interlock serve` is reached, for the approval links; none: answers carry the CLI command only */
  publicUrl?: string;
  /** false: never elicit, even from a client that can; gates then answer with the pending confirmation */
  canElicit?: boolean;
  /** how long a call waits for its run before answering with the status; default 30 s */
  waitMs?: number;
  /**
   * the same when the client gave a progressToken (it hears progress meanwhile); default 50 s,
   * under the 60 s request timeout that SDK clients use unless they reset it on progress
   */
  progressWaitMs?: number;
  /** upper bound on one elicitation; the confirmation's own deadline bounds it too; default 10 min */
  elicitTimeoutMs?: number;
  logger?: Logger;
}

export const VERSION = (
  JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export const INSTRUCTIONS =
  'Interlock runs named workflows that chain tool calls across services (payments, chat, …) as durable runs. ' +
  "Call list_workflows to see what exists, run_workflow (or a workflow's own tool) to start one, get_run to follow it. " +
  'Every write waits until a person approves its exact arguments; you cannot approve writes. When a run waits, show the user the ' +
  'pending confirmation and where to approve it. Only say a write happened when its step succeeded.';

/** `run_workflow`'s `session` argument: a label inside this MCP session, never a way out of it. */
const SESSION_LABEL = /^[A-Za-z0-9_.-]{1,64}$/;

/** The scope that lets a connection start runs (HTTP only; stdio is the local user's own process). */
function canRun(extra: { authInfo?: { scopes: string[] } }): boolean {
  return !extra.authInfo || extra.authInfo.scopes.includes('trigger');
}

/**
 * Whether an elicitation answer on this connection may decide a write: only a token with
 * `confirm` (over stdio or the chat's in-memory link the person is the local operator). A chat
 * client's token has no `confirm`, so whatever its client answers, the write waits for an approver.
 */
function canConfirm(extra: { authInfo?: { scopes: string[] } }): boolean {
  return !extra.authInfo || extra.authInfo.scopes.includes('confirm');
}

/**
 * Interlock's MCP facade for one MCP session. Tools are built from the workflow config on every
 * tools/list rather than registered once, because their schemas are the workflows' own JSON
 * Schemas (McpServer.registerTool only takes zod) and the config can be reloaded.
 */
export class Facade {
  readonly server: McpServer;
  readonly deps: FacadeDeps;
  /** run sessions this MCP session used: its own plus any `session` labels; all end with it */
  readonly sessions = new Set<string>();
  private readonly log: Logger;
  private readonly catalog = new Map<string, Map<string, ToolInfo>>();
  private lastSignature: string;
  private calls = 0;
  private ended = false;
  private readonly unsubscribe: () => void;

  constructor(deps: FacadeDeps) {
    this.deps = deps;
    this.log = (deps.logger ?? deps.services.logger).child({ component: 'mcp', session: deps.session });
    this.sessions.add(deps.session);
    this.server = new McpServer({ name: 'interlock', title: 'Interlock', version: VERSION }, { instructions: INSTRUCTIONS });
    this.server.server.registerCapabilities({ tools: { listChanged: true } });
    this.server.server.setRequestHandler(ListToolsRequestSchema, (_req, extra) => this.listTools(extra));
    this.server.server.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
      this.calls++;
      try {
        return await this.callTool(req.params.name, req.params.arguments ?? {}, extra);
      } catch (err) {
        // Redis away is the tool's failure to report, not a protocol error (-32603) or a hang.
        const unavailable = redisUnavailable(err);
        if (unavailable) return toolError(unavailable.message);
        throw err;
      } finally {
        this.calls--;
      }
    });
    this.lastSignature = this.signature();
    // A connector's catalog arriving or changing may change what the workflow tools say about themselves.
    this.unsubscribe = deps.services.catalog.pool.onToolsChanged(() => void this.refreshTools());
  }

  /** A tool call is in flight (an idle sweep must not end the session under it). */
  get busy(): boolean {
    return this.calls > 0;
  }

  private config(): InterlockConfig {
    return this.deps.services.config();
  }

  private get links(): Links {
    return this.deps.publicUrl ? { publicUrl: this.deps.publicUrl } : {};
  }

  private lookup: CatalogLookup = (connector, tool) => this.catalog.get(connector)?.get(tool);

  /**
   * Copies what the pool already knows about the connectors' tools. It never connects to a
   * connector just to describe a tool: a catalog not loaded yet stays unknown, and unknown
   * tools count as destructive.
   */
  private async loadCatalog(): Promise<void> {
    const fresh = await readCatalog(this.deps.services.catalog.pool, this.log);
    this.catalog.clear();
    for (const [id, tools] of fresh) this.catalog.set(id, tools);
  }

  private signature(): string {
    return JSON.stringify([...buildTools(this.config(), this.lookup, { canRun: true }).tools.values()].map((t) => t.tool));
  }

  /** Re-reads config and catalogs; tells the client when its tool list is no longer what it got. */
  async refreshTools(): Promise<boolean> {
    if (this.ended) return false;
    await this.loadCatalog();
    const sig = this.signature();
    if (sig === this.lastSignature) return false;
    this.lastSignature = sig;
    if (this.server.isConnected()) {
      try {
        await this.server.server.sendToolListChanged();
      } catch (err) {
        this.log.debug({ err: errorMessage(err) }, 'tools/list_changed not delivered');
      }
    }
    return true;
  }

  private async listTools(extra: Extra): Promise<ListToolsResult> {
    await this.loadCatalog();
    const built = buildTools(this.config(), this.lookup, { canRun: canRun(extra) });
    for (const wf of built.skipped)
      this.log.warn({ workflow: wf }, 'exposed workflow not listed: its tool name collides with another tool');
    this.lastSignature = this.signature();
    return { tools: [...built.tools.values()].map((t) => t.tool) };
  }

  private async callTool(name: string, args: Record<string, unknown>, extra: Extra): Promise<CallToolResult> {
    const config = this.config();
    const built = buildTools(config, this.lookup, { canRun: true });
    const entry = built.tools.get(name);
    if (!entry) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);
    const action = entry.action;
    if (action.kind === 'list_workflows') {
      return workflowsResult(listWorkflows(config, built.exposed));
    }
    if (action.kind === 'get_run') {
      if (typeof args.runId !== 'string' || !args.runId)
        throw new McpError(ErrorCode.InvalidParams, 'get_run needs runId (a string)');
      return getRunResult(this.deps.services, this.links, args.runId);
    }
    if (!canRun(extra)) {
      return toolError(
        "This connection's token may list workflows and read runs but not start them: it lacks the 'trigger' scope. Nothing was run.",
      );
    }
    let workflow = action.workflow;
    let inputs: unknown = args;
    let session = this.deps.session;
    if (workflow === undefined) {
      if (typeof args.workflow !== 'string' || !args.workflow)
        throw new McpError(ErrorCode.InvalidParams, 'run_workflow needs workflow (a workflow name from list_workflows)');
      workflow = args.workflow;
      inputs = args.inputs ?? {};
      if (args.session !== undefined) session = this.sessionFor(args.session);
    }
    this.sessions.add(session);
    const principal = extra.authInfo?.clientId ?? this.deps.principal ?? 'local';
    let runId: string;
    try {
      runId = (
        await this.deps.services.commands.trigger(workflow, inputs, {
          session,
          principal,
          trustedSession: true,
          ...(typeof args.session === 'string' && action.workflow === undefined ? { label: args.session } : {}),
        })
      ).run.id;
    } catch (err) {
      if (err instanceof InterlockError) return toolError(`${err.message}. Nothing was run.`);
      throw err;
    }
    const asks = this.server.server.getClientCapabilities()?.elicitation;
    // A page shows the write in full where a form can only carry it as text; it needs a URL people reach.
    const elicitMode = asks?.url && this.links.publicUrl ? 'url' : asks?.form ? 'form' : undefined;
    const elicits = this.deps.canElicit !== false && elicitMode !== undefined;
    const following = followRun(runId, extra, {
      services: this.deps.services,
      server: this.server.server,
      links: this.links,
      logger: this.log,
      elicit: elicits && canConfirm(extra),
      ...(elicitMode ? { elicitMode } : {}),
      ...(elicits && !canConfirm(extra)
        ? {
            notAsked:
              `This connection's token ('${principal}') lacks the 'confirm' scope, so nobody was asked here: ` +
              `a person with 'confirm' must approve the write on the page or with the command shown.`,
          }
        : {}),
      decider: { by: principal, channel: this.deps.channel ?? 'mcp-elicitation' },
      waitMs: this.deps.waitMs ?? 30_000,
      progressWaitMs: this.deps.progressWaitMs ?? 50_000,
      elicitTimeoutMs: this.deps.elicitTimeoutMs ?? 600_000,
    });
    return following.catch((err: unknown) => {
      const unavailable = redisUnavailable(err);
      if (!unavailable) throw err;
      return toolError(
        `Run ${runId} started, but Redis became unavailable while it was followed. The run goes on when Redis is back; call get_run with runId ${runId} then.`,
      );
    });
  }

  /**
   * A label only ever extends this MCP session's own id, so no value a model sends can name
   * another conversation's session and borrow its remembered approvals.
   */
  private sessionFor(label: unknown): string {
    if (typeof label !== 'string' || !SESSION_LABEL.test(label)) {
      throw new McpError(ErrorCode.InvalidParams, 'session must be 1-64 letters, digits, _ . or -');
    }
    return `${this.deps.session}:${label}`;
  }

  /** Ends the session: its remembered approvals go, and the MCP connection closes. */
  async end(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.unsubscribe();
    for (const s of this.sessions) {
      await this.deps.services.sessions
        .endSession(s)
        .catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'could not end session grants'));
    }
    await this.server
      .close()
      .catch((err: unknown) => this.log.debug({ err: errorMessage(err) }, 'MCP server did not close cleanly'));
  }
}
