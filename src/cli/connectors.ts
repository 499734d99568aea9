import type { App } from '../app.ts';
import type { AccountSummary } from '../connectors/oauth/credentials.ts';
import { loosenedText } from '../connectors/overrides.ts';
import type { ConnectorPool } from '../connectors/pool.ts';
import { errorMessage } from '../errors.ts';
import type { ConnectorConfig } from '../workflows/types.ts';
import { bold, green, red, yellow } from './format.ts';

/**
 * What `interlock connectors list | tools | refresh` need: the connectors and a pool to reach
 * them. With an OAuth connector that is the app's pool (tokens from Redis, refreshed once across
 * processes) and its logins; without, a pool of its own, so these commands need no Redis.
 */
export interface ConnectorsView {
  connectors: Record<string, ConnectorConfig>;
  pool: ConnectorPool;
  /** each OAuth connector's login, never a token; absent without an app */
  account?: (c: ConnectorConfig) => Promise<AccountSummary | undefined>;
}

export function viewOfApp(a: App): ConnectorsView {
  return { connectors: a.config.connectors, pool: a.pool, account: async (c) => a.oauth.for(c)?.store.account() };
}

/** Whether a command on these connectors needs the app (Redis) for OAuth logins. */
export function needsLogins(connectors: ConnectorConfig[]): boolean {
  return connectors.some((c) => c.auth.type === 'oauth');
}

/** `interlock connectors list`: each connector, its tools or why not, and an OAuth connector's login. */
export async function listConnectors(v: ConnectorsView, say: (line: string) => void = console.log): Promise<void> {
  for (const c of Object.values(v.connectors)) {
    let info: string;
    try {
      const tools = await v.pool.listTools(c.id);
      info = `${green(`${tools.length} tools`)} (${tools.filter((t) => t.write).length} writes)`;
    } catch (err) {
      info = red(`unreachable: ${errorMessage(err)}`);
    }
    say(`${bold(c.id)}  ${c.transport.type}  ${info}`);
    if (c.auth.type === 'oauth') say(`  ${await loginLine(v, c)}`);
  }
}

/** An OAuth connector's login in one line: who, scopes, expiry, or the command that logs in. */
async function loginLine(v: ConnectorsView, c: ConnectorConfig): Promise<string> {
  const grant = c.auth.type === 'oauth' ? c.auth.grant : undefined;
  const account = v.account ? await v.account(c) : undefined;
  if (account?.status !== 'connected') {
    const why = account?.reason ?? 'nobody has logged in yet';
    return yellow(`oauth (${grant}): login required (${why}) — run: interlock connectors login ${c.id}`);
  }
  const parts = [
    account.scopes?.length ? `scopes: ${account.scopes.join(' ')}` : '',
    account.expiresAt ? `token ${expiry(account.expiresAt)}` : '',
  ].filter(Boolean);
  const who = account.subject ? ` as ${account.subject}` : '';
  return green(`oauth (${grant}): connected${who}${parts.length ? ` — ${parts.join(', ')}` : ''}`);
}

function expiry(at: number, now = Date.now()): string {
  const s = Math.round((at - now) / 1000);
  if (s <= 0) return 'expired (refreshed on next use)';
  return `expires in ${s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`}`;
}

/** `interlock connectors tools|refresh <id>`: the tools listed afresh, with their write classification. */
export async function listConnectorTools(
  v: ConnectorsView,
  id: string,
  say: (line: string) => void = console.log,
): Promise<void> {
  const tools = await v.pool.listTools(id, { refresh: true });
  for (const t of tools) {
    const loose = loosenedText(t);
    const parts = [
      t.write ? red('write') : green('read '),
      bold(`${id}.${t.name}`),
      t.title ?? '',
      loose ? yellow(`(${loose})`) : '',
      t.failWhen ? `fail_when: ${t.failWhen.join(' | ')}` : '',
    ];
    say(parts.filter((p) => p !== '').join('  '));
  }
}
