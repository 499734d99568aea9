import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { registerSecret } from '../secrets.ts';
import { InterlockError } from '../errors.ts';
import type { ConnectorConfig } from './config.ts';
import { resolveEnvRecord, resolveEnvString } from './env.ts';
import { BatchingStdioTransport } from './stdio-batch.ts';
import type { FetchLike } from './oauth/connector-auth.ts';

/** How to start this Interlock binary, for stdio connectors configured as `command: interlock`. */
export interface InterlockCommand {
  command: string;
  args: string[];
}

export function defaultInterlockCommand(): InterlockCommand {
  return { command: process.execPath, args: [fileURLToPath(new URL('../../bin/interlock.js', import.meta.url))] };
}

export interface BuiltTransport {
  transport: Transport;
  /** values that must never reach a log line or an error message */
  secrets: string[];
  /** the stdio child's stderr, piped so it goes to the logger instead of our terminal */
  stderr: Readable | null;
}

function bearerToken(config: ConnectorConfig, env: NodeJS.ProcessEnv): string | undefined {
  if (config.auth.type !== 'bearer') return undefined;
  const token = env[config.auth.tokenEnv];
  if (!token) {
    throw new InterlockError(
      'CONNECTOR_UNAVAILABLE',
      `Connector "${config.id}": auth.tokenEnv ${config.auth.tokenEnv} is not set`,
      { connector: config.id, reason: 'config', variable: config.auth.tokenEnv },
    );
  }
  registerSecret(token);
  return token;
}

/**
 * A fresh transport for one connection attempt. Environment references and the bearer token are
 * read now, not when the pool was built, so rotating a secret only needs a reconnect.
 */
export function buildTransport(
  config: ConnectorConfig,
  env: NodeJS.ProcessEnv,
  interlock: InterlockCommand,
  oauthFetch?: FetchLike,
): BuiltTransport {
  const secrets: string[] = [];
  const where = `Connector "${config.id}"`;
  const token = bearerToken(config, env);
  if (token) secrets.push(token);
  const t = config.transport;

  if (t.type === 'stdio') {
    const args = t.args.map((a, i) => resolveEnvString(a, env, `${where} args[${i}]`, secrets));
    const own = t.command === 'interlock';
    // Our own binary needs the whole environment (Redis URL, config path); a third-party server
    // gets only the SDK's safe defaults plus what its config names, so unrelated keys stay ours.
    const childEnv: Record<string, string> = {};
    if (own) for (const [k, v] of Object.entries(env)) if (v !== undefined) childEnv[k] = v;
    if (token && config.auth.type === 'bearer') childEnv[config.auth.tokenEnv] = token;
    Object.assign(childEnv, resolveEnvRecord(t.env, env, `${where} env`, secrets));
    const transport = new BatchingStdioTransport({
      command: own ? interlock.command : t.command,
      args: own ? [...interlock.args, ...args] : args,
      env: childEnv,
      stderr: 'pipe',
      ...(t.cwd === undefined ? {} : { cwd: t.cwd }),
    });
    // stderr: 'pipe' makes the SDK hand out a PassThrough at once, so no early line is lost.
    return { transport, secrets, stderr: transport.stderr as Readable | null };
  }

  const url = new URL(resolveEnvString(t.url, env, `${where} url`, secrets));
  const headers = resolveEnvRecord(t.headers, env, `${where} headers`, secrets);
  if (token) headers.Authorization = `Bearer ${token}`;
  const requestInit: RequestInit = { headers };
  if (config.auth.type === 'oauth' && !oauthFetch) {
    throw new InterlockError(
      'CONNECTOR_UNAVAILABLE',
      `Connector "${config.id}" uses OAuth, which this process was built without`,
      {
        connector: config.id,
        reason: 'config',
      },
    );
  }
  // An OAuth connector's fetch puts the access token on and refreshes it once across processes
  // (oauth/connector-auth.ts), rather than the transports' authProvider, whose 401 handling
  // would refresh in every process at once.
  const fetchOpt = oauthFetch ? { fetch: oauthFetch } : {};
  const transport =
    t.type === 'streamable-http'
      ? new StreamableHTTPClientTransport(url, { requestInit, ...fetchOpt })
      : new SSEClientTransport(url, { requestInit, ...fetchOpt });
  return { transport, secrets, stderr: null };
}
