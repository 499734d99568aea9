/**
 * Structure checks for workflows.yaml: connectors, policy and tokens (workflows and steps are in
 * `steps.ts`). Each reader reports problems into the Source and returns what it could read, so
 * one load lists every problem.
 */
import { isScalar } from 'yaml';
import { ENV_REF_AT_START, SOLE_ENV_REF } from '../connectors/env-refs.ts';
import { firstMatch } from '../connectors/glob.ts';
import { OAUTH_KEYS, readOAuthAuth } from './oauth-auth.ts';
import { readOverrides } from './overrides.ts';
import { readRateLimits } from './rate-limit.ts';
import type { ConnectorAuth, ConnectorConfig, ConnectorTransport, TokenConfig } from './types.ts';
import {
  type Field,
  type Source,
  readDuration,
  readEntries,
  readInt,
  readList,
  readMap,
  readString,
  readStringList,
  readText,
  suggest,
} from './source.ts';

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_CONCURRENCY = 5;
export const DEFAULT_CONFIRMATION_TTL_MS = 24 * 3_600_000;

/** Connector ids and workflow names: no dots, because `connector.tool` and `workflow.step` split on the first one. */
export const NAME_RE = /^[A-Za-z0-9_-]+$/;

/**
 * Names written in the file, valid or not. A reference to a connector or workflow that is there but
 * broken is not reported again as unknown: its own problems are already listed.
 */
export interface Declared {
  connectors: Set<string>;
  workflows: Set<string>;
}

export function readConnectors(src: Source, f: Field, declared: Declared): Record<string, ConnectorConfig> {
  const out: Record<string, ConnectorConfig> = {};
  for (const entry of readEntries(src, f, 'connectors') ?? []) {
    declared.connectors.add(entry.key);
    const c = readConnector(src, entry);
    if (c) out[c.id] = c;
  }
  return out;
}

const COMMON_KEYS = ['transport', 'auth', 'tools', 'timeout', 'concurrency', 'rate_limit'];
const STDIO_KEYS = ['command', 'args', 'env', 'cwd'];
const HTTP_KEYS = ['url', 'headers'];
const TRANSPORTS = ['stdio', 'streamable-http', 'sse'];

function readConnector(src: Source, f: Field): ConnectorConfig | undefined {
  const what = `connector "${f.key}"`;
  if (!NAME_RE.test(f.key)) src.add(f.keyPos, f.path, `${what}: a connector id may hold only letters, digits, _ and -`);
  const m = readMap(src, f, what, { optional: [...COMMON_KEYS, ...STDIO_KEYS, ...HTTP_KEYS] });
  if (!m) return undefined;
  let type = m.transport
    ? readString(src, m.transport, `${what} transport`)
    : m.command
      ? 'stdio'
      : m.url
        ? 'streamable-http'
        : undefined;
  if (type === undefined && !m.transport)
    src.add(
      f.keyPos,
      `${f.path}.transport`,
      `${what} is missing required key "transport" (stdio with a command, or streamable-http / sse with a url)`,
    );
  if (type !== undefined && !TRANSPORTS.includes(type)) {
    const hint = suggest(type, TRANSPORTS);
    src.add(
      m.transport?.pos ?? f.pos,
      `${f.path}.transport`,
      `${what} has unknown transport "${type}"${hint ? ` (did you mean "${hint}"?)` : ''}; use stdio, streamable-http or sse`,
    );
    type = undefined;
  }
  if (type === undefined) return undefined;
  const own = type === 'stdio' ? STDIO_KEYS : HTTP_KEYS;
  for (const k of type === 'stdio' ? HTTP_KEYS : STDIO_KEYS) {
    if (m[k]) src.add(m[k].keyPos, m[k].path, `${what}: "${k}" does not apply to transport ${type} (it takes ${own.join(', ')})`);
  }
  const transport = readTransport(src, f, m, type, what);
  const tools: ConnectorConfig['tools'] = { allow: [], deny: [] };
  const t = m.tools && readMap(src, m.tools, `${what} tools`, { optional: ['allow', 'deny', 'overrides'] });
  for (const k of ['allow', 'deny'] as const) {
    const items = t?.[k] && readList(src, t[k], `${what} tools.${k}`);
    for (const item of items ?? []) {
      const g = readString(src, item, `each glob in ${what} tools.${k}`);
      if (g === undefined) continue;
      const problem = globProblem(g);
      if (problem) src.add(item.pos, item.path, `${what} has a bad glob "${g}" in tools.${k}: ${problem}`);
      else tools[k].push(g);
    }
  }
  const overrides = t?.overrides ? readOverrides(src, t.overrides, what) : [];
  if (overrides?.length) tools.overrides = overrides;
  const rateLimits = m.rate_limit ? readRateLimits(src, m.rate_limit, what, tools) : [];
  const timeoutMs = m.timeout ? readDuration(src, m.timeout, `${what} timeout`, { positive: true }) : DEFAULT_TIMEOUT_MS;
  const concurrency = m.concurrency ? readInt(src, m.concurrency, `${what} concurrency`, 1) : DEFAULT_CONCURRENCY;
  const auth = m.auth ? readAuth(src, m.auth, what, type) : { type: 'none' as const };
  if (!transport || !auth || timeoutMs === undefined || concurrency === undefined || !rateLimits || !overrides) return undefined;
  return {
    id: f.key,
    transport,
    auth,
    tools,
    timeoutMs,
    concurrency,
    ...(rateLimits.length ? { rateLimits } : {}),
    pos: f.keyPos,
  };
}

function readTransport(
  src: Source,
  f: Field,
  m: Record<string, Field>,
  type: string,
  what: string,
): ConnectorTransport | undefined {
  if (type === 'stdio') {
    if (!m.command) {
      src.add(f.keyPos, `${f.path}.command`, `${what} is missing required key "command" (transport stdio)`);
      return undefined;
    }
    // `command: interlock` is kept as written: the pool resolves it to this Interlock binary.
    const command = readString(src, m.command, `${what} command`);
    const args = m.args ? readStringList(src, m.args, `${what} args`, true) : [];
    const env = m.env ? readStringMap(src, m.env, `${what} env`, false) : {};
    const cwd = m.cwd ? readString(src, m.cwd, `${what} cwd`) : undefined;
    if (command === undefined || !args || !env || (m.cwd && cwd === undefined)) return undefined;
    return { type: 'stdio', command, args, env, ...(cwd !== undefined ? { cwd } : {}) };
  }
  if (!m.url) {
    src.add(f.keyPos, `${f.path}.url`, `${what} is missing required key "url" (transport ${type})`);
    return undefined;
  }
  const url = readString(src, m.url, `${what} url`);
  if (url !== undefined) {
    checkEnvRefs(src, m.url, url, `${what} url`);
    if (!/^https?:\/\//.test(url) && !url.startsWith('${env:'))
      src.add(m.url.pos, m.url.path, `${what} url must start with http:// or https://`);
  }
  const headers = m.headers ? readStringMap(src, m.headers, `${what} headers`, true) : {};
  if (url === undefined || !headers) return undefined;
  return type === 'sse' ? { type: 'sse', url, headers } : { type: 'streamable-http', url, headers };
}

const SECRET_HEADER = /^(authorization|proxy-authorization|cookie)$|api[-_]?key|token|secret|password/i;

function readStringMap(src: Source, f: Field, what: string, headers: boolean): Record<string, string> | undefined {
  const entries = readEntries(src, f, what);
  if (!entries) return undefined;
  const out: Record<string, string> = {};
  let ok = true;
  for (const e of entries) {
    const v = readText(src, e, `${what} "${e.key}"`);
    if (v === undefined) {
      ok = false;
      continue;
    }
    checkEnvRefs(src, e, v, `${what} "${e.key}"`);
    if (headers && SECRET_HEADER.test(e.key) && !v.includes('${env:')) {
      src.add(
        e.pos,
        e.path,
        `${what} "${e.key}" holds a literal value; secrets only come from the environment: write "\${env:NAME}" (or "Bearer \${env:NAME}")`,
      );
    }
    out[e.key] = v;
  }
  return ok ? out : undefined;
}

function readAuth(src: Source, f: Field, what: string, transport: string): ConnectorAuth | undefined {
  const node = src.deref(f.node);
  const bearerHint = 'auth: {type: bearer, token: "${env:NAME}"}';
  if (isScalar(node)) {
    if (node.value === 'none') return { type: 'none' };
    if (node.value === 'bearer')
      src.add(f.pos, f.path, `${what}: bearer auth needs a token from the environment: write ${bearerHint}`);
    else if (node.value === 'oauth') return readOAuthAuth(src, { type: f }, what, transport);
    else src.add(f.pos, f.path, `${what} has unknown auth ${JSON.stringify(node.value)}; use none, oauth or ${bearerHint}`);
    return undefined;
  }
  const m = readMap(src, f, `${what} auth`, { required: ['type'], optional: ['token', ...OAUTH_KEYS] });
  const type = m?.type && readString(src, m.type, `${what} auth type`);
  if (!m || type === undefined) return undefined;
  if (type === 'none') {
    if (m.token) src.add(m.token.keyPos, m.token.path, `${what}: auth type none takes no token`);
    return { type: 'none' };
  }
  if (type === 'oauth') return readOAuthAuth(src, m, what, transport);
  for (const k of OAUTH_KEYS) if (m[k]) src.add(m[k].keyPos, m[k].path, `${what}: "${k}" applies to auth type oauth only`);
  if (type !== 'bearer') {
    src.add(m.type.pos, m.type.path, `${what} has unknown auth type "${type}"; use none, bearer or oauth`);
    return undefined;
  }
  if (!m.token) {
    src.add(m.type.keyPos, `${f.path}.token`, `${what}: bearer auth is missing required key "token": write ${bearerHint}`);
    return undefined;
  }
  const tokenEnv = readSecretRef(src, m.token, `${what} auth token`);
  return tokenEnv === undefined ? undefined : { type: 'bearer', tokenEnv };
}

/** A secret must be exactly `${env:NAME}`; returns NAME. The literal is never repeated in a message. */
export function readSecretRef(src: Source, f: Field, what: string): string | undefined {
  const v = isScalar(src.deref(f.node)) ? (src.deref(f.node) as { value: unknown }).value : undefined;
  const m = typeof v === 'string' ? SOLE_ENV_REF.exec(v) : null;
  if (m) return m[1];
  src.add(f.pos, f.path, `${what} must be "\${env:NAME}": secrets only come from the environment, never from the config file`);
  return undefined;
}

function checkEnvRefs(src: Source, f: Field, v: string, what: string): void {
  for (let at = v.indexOf('${env:'); at >= 0; at = v.indexOf('${env:', at + 1)) {
    if (ENV_REF_AT_START.test(v.slice(at))) continue;
    // Only the part up to the name is shown: what follows could be a default holding a secret.
    const shown = /^\$\{env:[A-Za-z0-9_]*/.exec(v.slice(at))?.[0] ?? '${env:';
    const isDefault = /^\$\{env:[A-Za-z0-9_]+:-/.test(v.slice(at));
    src.add(
      f.pos,
      f.path,
      `${what} has a malformed environment reference "${shown}…": ` +
        `write \${env:NAME} with NAME made of letters, digits and _${isDefault ? ' (defaults such as :- are not supported; an unset variable is an error at connect time)' : ''}`,
    );
  }
}

/**
 * Why a tool glob is unusable, or undefined if it is fine. Matching is the pool's
 * (`src/connectors/glob.ts`): `*` and `?` are the only wildcards, so brackets and braces, which
 * readers may take for classes or alternatives, are refused rather than matched literally.
 */
export function globProblem(glob: string): string | undefined {
  if (glob.trim() === '') return 'a glob cannot be empty';
  for (const c of glob) {
    if ('[]{}!'.includes(c)) return `"${c}" is not glob syntax here: only * and ? are wildcards`;
    if (!/[A-Za-z0-9_.\-/:@*?]/.test(c)) return `${JSON.stringify(c)} cannot appear in a tool name`;
  }
  return undefined;
}

/** Whether a connector's allow/deny globs let a tool through: empty allow means all, deny wins. */
export function toolAllowed(tools: { allow: string[]; deny: string[] }, name: string): boolean {
  return (tools.allow.length === 0 || firstMatch(name, tools.allow) !== undefined) && firstMatch(name, tools.deny) === undefined;
}

export const SCOPES = ['read', 'trigger', 'confirm', 'admin', 'audit'] as const;
type Scope = (typeof SCOPES)[number];

export function readTokens(src: Source, f: Field): TokenConfig[] {
  const out: TokenConfig[] = [];
  const names = new Set<string>();
  for (const item of readList(src, f, 'tokens') ?? []) {
    const m = readMap(src, item, 'token', { required: ['name', 'token', 'scopes'], optional: ['groups'] });
    if (!m) continue;
    const name = m.name && readString(src, m.name, 'token name');
    if (name !== undefined && m.name && names.has(name)) src.add(m.name.pos, m.name.path, `duplicate token name "${name}"`);
    // Runs that schedules and webhooks start are owned by `schedule:<id>` / `webhook:<id>`; a token
    // by such a name could act as their owner (remember a decision for their session).
    if (name !== undefined && m.name && /^(schedule|webhook):/.test(name))
      src.add(
        m.name.pos,
        m.name.path,
        `token name "${name}" is reserved: names starting schedule: or webhook: belong to triggers`,
      );
    if (name !== undefined) names.add(name);
    const env = m.token && readSecretRef(src, m.token, `token "${name ?? '?'}"`);
    const scopes = m.scopes ? readScopes(src, m.scopes, 'token scopes') : undefined;
    const groups = m.groups ? readStringList(src, m.groups, `token "${name ?? '?'}" groups`) : [];
    if (name !== undefined && env !== undefined && scopes && groups)
      out.push({ name, env, scopes, ...(groups.length ? { groups } : {}) });
  }
  return out;
}

/** A non-empty list of Interlock scopes; undefined (with the problems reported) when any item is wrong. */
export function readScopes(src: Source, f: Field, what: string): Scope[] | undefined {
  const list = readList(src, f, what);
  if (!list) return undefined;
  if (list.length === 0) src.add(f.pos, f.path, `${what} must name at least one of read, trigger, confirm, admin, audit`);
  const scopes: Scope[] = [];
  for (const s of list) {
    const scope = readString(src, s, `each of ${what}`);
    if (scope === undefined) continue;
    if ((SCOPES as readonly string[]).includes(scope)) scopes.push(scope as Scope);
    else {
      const hint = suggest(scope, SCOPES);
      src.add(
        s.pos,
        s.path,
        `unknown scope "${scope}"${hint ? ` (did you mean "${hint}"?)` : ''}; use read, trigger, confirm, admin or audit`,
      );
    }
  }
  return scopes.length === list.length && list.length > 0 ? scopes : undefined;
}
