/**
 * Loading workflows.yaml. The loader is the only producer of InterlockConfig; it either returns a
 * complete, checked config or throws one ConfigError listing every problem with file:line:col.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { LineCounter, isMap, parseDocument } from 'yaml';
import { type ConfigIssue, ConfigError, InterlockError, errorMessage } from '../errors.ts';
import { type GroupRef, groupProblems, readPolicy } from './policy.ts';
import { readConnectors, readTokens } from './schema.ts';
import { readServer } from './server-auth.ts';
import { Source, readMap } from './source.ts';
import { readApprovals } from './approvals.ts';
import { readLlmConfig } from './llm-step.ts';
import { readWorkflows } from './steps.ts';
import { checkHooks } from './triggers.ts';
import type { InterlockConfig } from './types.ts';

export { envRefNames, resolveEnvRefs } from '../connectors/env-refs.ts';
export { toolAllowed, globProblem } from './schema.ts';
export { workflowVersion } from './steps.ts';

export const DEFAULT_CONFIG_FILE = 'workflows.yaml';
const MAX_SYNTAX_ISSUES = 5;

/** `INTERLOCK_CONFIG`, else `./workflows.yaml`; an absolute path, or a clear error if it is not there. */
export function findConfigFile(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  const fromEnv = env.INTERLOCK_CONFIG;
  const file = resolve(cwd, fromEnv || DEFAULT_CONFIG_FILE);
  if (!existsSync(file)) {
    const how = fromEnv ? `INTERLOCK_CONFIG points to ${file}, which does not exist` : `no ${DEFAULT_CONFIG_FILE} in ${cwd}`;
    throw new InterlockError('CONFIG_INVALID', `${how}: create it, or set INTERLOCK_CONFIG to the path of your workflows file`, {
      file,
    });
  }
  return file;
}

export function loadConfig(file: string): InterlockConfig {
  const abs = resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    throw new InterlockError('CONFIG_INVALID', `cannot read ${abs}: ${errorMessage(err)}`, { file: abs });
  }
  return loadConfigFromString(text, abs);
}

/** `file` only labels positions in messages; nothing is read from disk. */
export function loadConfigFromString(text: string, file: string): InterlockConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { keepSourceTokens: true, lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  const src = new Source(file, text, doc, lines);
  if (doc.errors.length > 0) {
    // After a syntax error the tree is a guess; checking its structure would mostly report noise.
    for (const e of doc.errors) {
      const [pos] = e.linePos ?? [{ line: 1, col: 1 }];
      // The parser recurses per nesting level; a hostile file can exhaust the stack, which it reports as-is.
      const what = /call stack/i.test(e.message)
        ? 'the document nests too deeply (lists or maps inside each other thousands of levels down)'
        : e.message.split(' at line ')[0];
      src.issues.push({ file, line: pos.line, col: pos.col, path: '', message: `YAML syntax error: ${what}` });
    }
    // One mistake makes the parser stumble on every line after it; the first per line, and the
    // first few lines, hold the cause.
    const issues = sortIssues(src.issues).filter((i, n, all) => n === 0 || all[n - 1].line !== i.line);
    const shown = issues.slice(0, MAX_SYNTAX_ISSUES);
    if (issues.length > shown.length)
      shown[shown.length - 1].message +=
        ` (and errors on ${issues.length - shown.length} more lines, likely caused by the ones above)`;
    // `{` starts a flow map and ": " or " #" end a plain scalar, so unquoted templates often trip YAML.
    const lineTexts = text.split(/\r?\n/);
    const tripped = shown.find((i) => lineTexts[i.line - 1]?.includes('${{'));
    if (tripped) tripped.message += '; a template inside {…} or […], or holding ": " or " #", must be quoted: "${{ … }}"';
    throw new ConfigError(shown);
  }
  const root = src.deref(doc.contents);
  const start = { line: 1, col: 1 };
  if (!isMap(root)) {
    src.add(
      src.posOf(root, start),
      '',
      root === null
        ? 'the config file is empty: it needs at least a workflows map'
        : 'the config file must be a map with connectors, workflows, policy and tokens',
    );
    throw new ConfigError(src.issues);
  }
  const top =
    readMap(src, { key: '', path: '', keyPos: start, node: root, pos: start }, 'the config file', {
      required: ['workflows'],
      optional: ['connectors', 'policy', 'tokens', 'llm', 'approvals', 'server'],
    }) ?? {};
  const declared = { connectors: new Set<string>(), workflows: new Set<string>() };
  const connectors = top.connectors ? readConnectors(src, top.connectors, declared) : {};
  const llm = top.llm ? readLlmConfig(src, top.llm) : undefined;
  const workflows = top.workflows ? readWorkflows(src, top.workflows, connectors, declared, llm) : {};
  const groups: GroupRef[] = [];
  checkHooks(src, workflows);
  const policy = readPolicy(src, top.policy, declared, workflows, groups);
  const tokens = top.tokens ? readTokens(src, top.tokens) : [];
  const approvals = top.approvals ? readApprovals(src, top.approvals) : undefined;
  groupProblems(src, groups, tokens, policy.groups ?? {});
  const server = top.server ? readServer(src, top.server, new Set(tokens.map((t) => t.name))) : undefined;
  if (src.issues.length > 0) throw new ConfigError(sortIssues(src.issues));
  return {
    file,
    connectors,
    workflows,
    policy,
    tokens,
    ...(llm ? { llm } : {}),
    ...(approvals?.slack ? { approvals } : {}),
    ...(server ? { server } : {}),
  };
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return [...issues].sort((a, b) => a.line - b.line || a.col - b.col);
}
