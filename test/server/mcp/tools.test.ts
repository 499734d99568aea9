import { describe, expect, it } from 'vitest';
import type { ToolInfo } from '../../../src/connectors/types.ts';
import {
  buildTools,
  listWorkflows,
  workflowIsDestructive,
  workflowToolName,
  type CatalogLookup,
} from '../../../src/server/mcp/tools.ts';
import type { CallStep, InterlockConfig, WorkflowDef } from '../../../src/workflows/types.ts';

const step = (id: string, connector: string, tool: string): CallStep => ({
  kind: 'call',
  id,
  connector,
  tool,
  with: {},
  confirm: 'auto',
  retry: { attempts: 1, backoffMs: 10 },
  pos: { line: 1, col: 1 },
  keyPos: {},
});
const wf = (name: string, steps: CallStep[], expose = true): WorkflowDef => ({
  name,
  description: `Does ${name}`,
  inputs: { type: 'object', properties: { id: { type: 'string', description: 'the thing' } }, required: ['id'] },
  steps,
  expose,
  version: 'v1',
  pos: { line: 1, col: 1 },
});
const info = (connector: string, name: string, annotations: ToolInfo['annotations']): ToolInfo => ({
  connector,
  name,
  inputSchema: {},
  annotations,
  write: annotations.readOnlyHint !== true,
  idempotent: false,
});
const catalog =
  (...tools: ToolInfo[]): CatalogLookup =>
  (c, t) =>
    tools.find((x) => x.connector === c && x.name === t);
const config = (...wfs: WorkflowDef[]): InterlockConfig => ({
  file: 'x.yaml',
  connectors: {},
  workflows: Object.fromEntries(wfs.map((w) => [w.name, w])),
  policy: { allowUnconfirmed: [], confirmationTtlMs: 1000 },
  tokens: [],
});

describe('facade tool definitions', () => {
  const read = info('s', 'get', { readOnlyHint: true });
  const refund = info('s', 'refund', { destructiveHint: true });
  const post = info('chat', 'post', { destructiveHint: false });

  it('calls a workflow destructive when a write may destroy, or when a tool is not known yet', () => {
    expect(workflowIsDestructive(wf('a', [step('1', 's', 'get')]), catalog(read))).toBe(false);
    expect(workflowIsDestructive(wf('a', [step('1', 's', 'get'), step('2', 'chat', 'post')]), catalog(read, post))).toBe(false);
    expect(workflowIsDestructive(wf('a', [step('1', 's', 'get'), step('2', 's', 'refund')]), catalog(read, refund))).toBe(true);
    expect(workflowIsDestructive(wf('a', [step('1', 's', 'get'), step('2', 'chat', 'post')]), catalog(read))).toBe(true);
    // A write without destructiveHint: the MCP default for a non-read-only tool is destructive.
    expect(workflowIsDestructive(wf('a', [step('1', 'x', 'w')]), catalog(info('x', 'w', {})))).toBe(true);
  });

  it('lists run tools only for a connection that may run, and never a tool named like a built-in', () => {
    const cfg = config(
      wf('refund-and-notify', [step('1', 's', 'refund')]),
      wf('get_run', [step('1', 's', 'get')]),
      wf('quiet', [step('1', 's', 'get')], false),
    );
    const full = buildTools(cfg, catalog(read, refund), { canRun: true });
    expect([...full.tools.keys()]).toEqual(['list_workflows', 'get_run', 'run_workflow', 'refund-and-notify']);
    expect(full.skipped).toEqual(['get_run']);
    expect(full.tools.get('refund-and-notify')?.tool.description).toContain('id (string, required): the thing');
    expect(full.tools.get('refund-and-notify')?.tool.description).toMatch(
      /^Does refund-and-notify\. Runs the Interlock workflow/,
    );
    const readOnly = buildTools(cfg, catalog(), { canRun: false });
    expect([...readOnly.tools.keys()]).toEqual(['list_workflows', 'get_run']);
    expect(listWorkflows(cfg, full.exposed).workflows.map((w) => w.tool)).toEqual(['refund-and-notify', undefined, undefined]);
  });

  it('makes a valid MCP tool name of any workflow name', () => {
    expect(workflowToolName('refund-and-notify')).toBe('refund-and-notify');
    expect(workflowToolName('a.b c/d')).toBe('a_b_c_d');
    expect(workflowToolName('x'.repeat(200))).toHaveLength(128);
  });
});
