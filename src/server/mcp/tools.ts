import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { ToolInfo } from '../../connectors/types.ts';
import type { InterlockConfig, WorkflowDef } from '../../workflows/types.ts';

export const RUN_WORKFLOW = 'run_workflow';
export const GET_RUN = 'get_run';
export const LIST_WORKFLOWS = 'list_workflows';
const BUILT_IN = new Set([RUN_WORKFLOW, GET_RUN, LIST_WORKFLOWS]);

/** What a facade tool does when called. */
export type ToolAction = { kind: 'run'; workflow?: string } | { kind: 'get_run' } | { kind: 'list_workflows' };

export interface FacadeTool {
  tool: Tool;
  action: ToolAction;
}

/** A tool from a connector's cached catalog, or undefined when the catalog is not loaded (yet). */
export type CatalogLookup = (connector: string, tool: string) => ToolInfo | undefined;

/** MCP tool names allow [a-zA-Z0-9_-.] up to 128 characters; dots confuse some clients, so they go too. */
export function workflowToolName(workflow: string): string {
  return workflow.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 128);
}

const RUN_STATUSES = [
  'queued',
  'running',
  'awaiting_confirmation',
  'needs_attention',
  'succeeded',
  'failed',
  'denied',
  'cancelled',
];

const ERROR_SCHEMA = {
  type: 'object',
  properties: { code: { type: 'string' }, message: { type: 'string' } },
  required: ['code', 'message'],
};

/** One schema for every answer about a run, so a model learns one shape. */
export const RUN_OUTPUT_SCHEMA: Tool['outputSchema'] = {
  type: 'object',
  properties: {
    runId: { type: 'string', description: 'Id of the run; pass it to get_run to follow it' },
    workflow: { type: 'string' },
    status: { type: 'string', enum: RUN_STATUSES },
    done: { type: 'boolean', description: 'true once the run reached a final status (succeeded, failed, denied, cancelled)' },
    steps: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          call: { type: 'string', description: 'connector.tool this step calls' },
          status: { type: 'string' },
          output: { description: 'what the tool returned (structured content when it gave any)' },
          error: ERROR_SCHEMA,
          note: { type: 'string' },
        },
        required: ['id', 'call', 'status'],
      },
    },
    error: ERROR_SCHEMA,
    confirmation: {
      type: 'object',
      description: 'The write this run waits on: a person must approve these exact arguments',
      properties: {
        id: { type: 'string' },
        status: { type: 'string' },
        connector: { type: 'string' },
        tool: { type: 'string' },
        title: { type: 'string' },
        description: { type: 'string' },
        annotations: { type: 'object' },
        arguments: { type: 'object' },
        argumentsHash: { type: 'string' },
        outputSchema: { type: 'object' },
        expiresAt: { type: 'string' },
        approveUrl: { type: 'string', description: 'page where a person can review and approve or deny it' },
        approveCommand: { type: 'string', description: 'the same from a terminal' },
        policy: {
          type: 'array',
          items: { type: 'string' },
          description: 'the amount in currency, the policy rule that applies and, for a quorum, the approvals so far, in words',
        },
      },
      required: ['id', 'status', 'connector', 'tool', 'arguments', 'argumentsHash', 'approveCommand'],
    },
    next: { type: 'string', description: 'what to do next, in one sentence' },
  },
  required: ['runId', 'workflow', 'status', 'done', 'steps', 'next'],
};

const LIST_OUTPUT_SCHEMA: Tool['outputSchema'] = {
  type: 'object',
  properties: {
    workflows: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          tool: { type: 'string', description: 'its own tool name, when the workflow is exposed as one' },
          description: { type: 'string' },
          version: { type: 'string' },
          inputs: { type: 'object', description: 'JSON Schema of the inputs' },
          steps: {
            type: 'array',
            items: {
              type: 'object',
              properties: { id: { type: 'string' }, call: { type: 'string' }, confirm: { type: 'string' } },
              required: ['id', 'call'],
            },
          },
        },
        required: ['name', 'description', 'inputs', 'steps'],
      },
    },
  },
  required: ['workflows'],
};

const GATE_NOTE =
  'Every write a workflow makes waits until a person approves its exact arguments; you cannot approve it yourself. ' +
  'When a write waits, the answer holds the pending confirmation: show the user its arguments and where to approve it.';

function runWorkflowTool(): Tool {
  return {
    name: RUN_WORKFLOW,
    title: 'Run an Interlock workflow',
    description:
      'Starts a durable run of one of the workflows that list_workflows shows, with the given inputs, and waits a while for it. ' +
      'Use this when the user asks to carry out such a workflow (for example "refund charge ch_123 and tell the customer"). ' +
      `${GATE_NOTE} ` +
      'Do not use it to check on a run (use get_run) or to find out which workflows exist (use list_workflows). ' +
      "Answers with the run id, its status, each step's output, and any pending confirmation; if the run is still going, call get_run later.",
    inputSchema: {
      type: 'object',
      properties: {
        workflow: {
          type: 'string',
          description: 'Name of the workflow exactly as list_workflows gives it, e.g. "refund-and-notify".',
        },
        inputs: {
          type: 'object',
          description:
            'The workflow\'s inputs as a JSON object matching its input schema from list_workflows, e.g. {"charge": "ch_123", "channel": "#support"}.',
        },
        session: {
          type: 'string',
          description:
            'Optional label (letters, digits, _ . -) that keeps a separate set of "remember for this conversation" approvals inside this conversation. ' +
            "It is always scoped to the current connection and can never reach another conversation's approvals. Usually leave it out.",
        },
      },
      required: ['workflow'],
    },
    outputSchema: RUN_OUTPUT_SCHEMA,
    annotations: {
      title: 'Run an Interlock workflow',
      readOnlyHint: false,
      destructiveHint: true,
      idempotentHint: false,
      openWorldHint: true,
    },
  };
}

function getRunTool(): Tool {
  return {
    name: GET_RUN,
    title: 'Get a workflow run',
    description:
      "Reads the current state of one run: its status, each step's status and output, any error, and the pending confirmation if it waits for a person. " +
      'Use this when a run that run_workflow (or a workflow tool) started was still going, or waited for approval, and you need its result. ' +
      'Read-only; it changes nothing and approves nothing.',
    inputSchema: {
      type: 'object',
      properties: {
        runId: {
          type: 'string',
          description: 'The run id that run_workflow or a workflow tool answered with, e.g. "rlx3k2abcdefghij".',
        },
      },
      required: ['runId'],
    },
    outputSchema: RUN_OUTPUT_SCHEMA,
    annotations: { title: 'Get a workflow run', readOnlyHint: true, openWorldHint: false },
  };
}

function listWorkflowsTool(): Tool {
  return {
    name: LIST_WORKFLOWS,
    title: 'List Interlock workflows',
    description:
      "Lists the workflows Interlock can run: each one's name, what it does, the JSON Schema of its inputs, and its steps (connector.tool). " +
      'Use this when you need to know which workflow fits a request, or which inputs it takes, before calling run_workflow. Read-only; takes no parameters.',
    inputSchema: { type: 'object', properties: {} },
    outputSchema: LIST_OUTPUT_SCHEMA,
    annotations: { title: 'List Interlock workflows', readOnlyHint: true, openWorldHint: false },
  };
}

/**
 * Whether running the workflow may destroy something. A tool whose catalog is not loaded is
 * unknown, and unknown counts as destructive: overstating the risk only costs an extra prompt
 * in the client, understating it could skip one.
 */
export function workflowIsDestructive(wf: WorkflowDef, lookup: CatalogLookup): boolean {
  return wf.steps.some((s) => {
    if (s.kind === 'llm') return false;
    const t = lookup(s.connector, s.tool);
    if (!t) return true;
    return t.write && t.annotations.destructiveHint !== false;
  });
}

function describeSteps(wf: WorkflowDef, lookup: CatalogLookup): string {
  return wf.steps
    .map((s) => {
      if (s.kind === 'llm') return `${s.connector}.${s.tool} (a model drafts data; no tool, not a write)`;
      const t = lookup(s.connector, s.tool);
      const kind = !t ? 'asks a person first if it writes' : t.write ? 'a write: asks a person first' : 'a read';
      return `${s.connector}.${s.tool} (${kind})`;
    })
    .join(' → ');
}

function describeInputs(schema: Record<string, unknown>): string {
  const props = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
  const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
  const lines = Object.entries(props).map(([k, p]) => {
    const type =
      typeof p.type === 'string'
        ? p.type
        : Array.isArray(p.enum)
          ? `one of ${p.enum.map((v) => JSON.stringify(v)).join(', ')}`
          : 'any';
    const desc = typeof p.description === 'string' ? `: ${p.description}` : '';
    return `${k} (${type}${required.has(k) ? ', required' : ''})${desc}`;
  });
  return lines.length ? `Inputs: ${lines.join('; ')}.` : 'Takes no inputs.';
}

function workflowTool(name: string, wf: WorkflowDef, lookup: CatalogLookup): Tool {
  const about = wf.description.replace(/\.?\s*$/, '');
  const title = `Run workflow ${wf.name}`;
  const inputSchema = { type: 'object', ...wf.inputs } as Tool['inputSchema'];
  return {
    name,
    title,
    description:
      `${about}. Runs the Interlock workflow "${wf.name}" and waits a while for it. ` +
      `Use this when the user asks for exactly this. Steps: ${describeSteps(wf, lookup)}. ${GATE_NOTE} ${describeInputs(wf.inputs)}`,
    inputSchema,
    outputSchema: RUN_OUTPUT_SCHEMA,
    annotations: {
      title,
      readOnlyHint: false,
      destructiveHint: workflowIsDestructive(wf, lookup),
      idempotentHint: false,
      openWorldHint: true,
    },
  };
}

/**
 * The facade's tools for a config: the three built-ins, then one per exposed workflow. A
 * workflow whose sanitised name collides with another tool is left out (it stays reachable
 * through run_workflow) and reported in `skipped`.
 */
export function buildTools(
  config: InterlockConfig,
  lookup: CatalogLookup,
  opts: { canRun: boolean },
): { tools: Map<string, FacadeTool>; exposed: Map<string, string>; skipped: string[] } {
  const tools = new Map<string, FacadeTool>();
  const exposed = new Map<string, string>();
  const taken = new Set(BUILT_IN);
  const skipped: string[] = [];
  tools.set(LIST_WORKFLOWS, { tool: listWorkflowsTool(), action: { kind: 'list_workflows' } });
  tools.set(GET_RUN, { tool: getRunTool(), action: { kind: 'get_run' } });
  if (opts.canRun) tools.set(RUN_WORKFLOW, { tool: runWorkflowTool(), action: { kind: 'run' } });
  for (const wf of Object.values(config.workflows)) {
    if (!wf.expose) continue;
    const name = workflowToolName(wf.name);
    if (taken.has(name)) {
      skipped.push(wf.name);
      continue;
    }
    taken.add(name);
    exposed.set(wf.name, name);
    if (opts.canRun) tools.set(name, { tool: workflowTool(name, wf, lookup), action: { kind: 'run', workflow: wf.name } });
  }
  return { tools, exposed, skipped };
}

/** `exposed` maps workflow names to their own tool names (from buildTools). */
export function listWorkflows(
  config: InterlockConfig,
  exposed: Map<string, string>,
): { workflows: Array<Record<string, unknown>> } {
  return {
    workflows: Object.values(config.workflows).map((wf) => ({
      name: wf.name,
      ...(exposed.has(wf.name) ? { tool: exposed.get(wf.name) } : {}),
      description: wf.description,
      version: wf.version,
      inputs: wf.inputs,
      steps: wf.steps.map((s) => ({ id: s.id, call: `${s.connector}.${s.tool}`, confirm: s.confirm })),
    })),
  };
}
