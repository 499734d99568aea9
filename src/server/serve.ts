import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import type { Logger } from 'pino';
import { App } from '../app.ts';
import { reloadOnSignal } from '../config/reload-signal.ts';
import { InterlockError, errorMessage } from '../errors.ts';
import { createLogger } from '../logger.ts';
import { armExitDeadline } from '../worker/worker.ts';
import { Authenticator } from './auth.ts';
import { type HttpApp, createHttpApp } from './http.ts';
import { type McpRouteHandle, createMcpRoute } from './mcp/http.ts';
import { Metrics } from './metrics.ts';
import { isLoopbackHost } from './origin.ts';

export interface StartServerOptions {
  host?: string;
  port?: number;
  /** start this process's step workers, with step metrics (default true: `serve` is all in one) */
  workers?: boolean;
  /** the URL people use, when a proxy sits in front; default http://host:port */
  publicUrl?: string;
  allowedHosts?: string[];
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** where start-up notices go (default: the logger) */
  onNotice?: (msg: string) => void;
}

export interface RunningServer {
  url: string;
  port: number;
  http: HttpApp;
  server: ServerType;
  /** the /mcp facade; it follows app.source by itself */
  mcp: McpRouteHandle;
  close(): Promise<void>;
}

/**
 * Listens on host:port (defaults 127.0.0.1:3000) and serves everything. Without tokens in the
 * config the server is open to whoever can connect, so it only binds to loopback then, and
 * refuses any other address.
 */
export async function startServer(app: App, opts: StartServerOptions = {}): Promise<RunningServer> {
  const host = opts.host ?? '127.0.0.1';
  const logger = opts.logger ?? app.logger;
  const notice = opts.onNotice ?? ((m: string) => logger.info(m));
  const auth = Authenticator.fromConfig(app.config.tokens, opts.env ?? process.env);
  if (auth.open && !isLoopbackHost(host)) {
    throw new InterlockError(
      'CONFIG_INVALID',
      `Refusing to listen on ${host} without tokens: anyone who can reach it could trigger and approve writes. ` +
        'Add tokens (name, token: "${env:NAME}", scopes) to the config, or listen on 127.0.0.1.',
    );
  }
  if (auth.open)
    notice(
      'No tokens configured: the API, pages and dashboards are open to local users, so the server listens on loopback only.',
    );
  for (const name of auth.missing) notice(`Token '${name}' has no value in the environment and admits nobody.`);

  const metrics = new Metrics(app);
  if (opts.workers !== false) await app.startWorkers({ onStepFinished: metrics.onStepFinished });

  // Listen first: with port 0 the URL, which the MCP facade puts into approval links, is known
  // only then. The placeholder handler cannot really be reached (the app is set right after).
  let handler: (req: Request, env: unknown) => Response | Promise<Response> = () =>
    Response.json(new InterlockError('INTERNAL', 'Starting up; try again in a moment').toJSON(), { status: 503 });
  let server: ServerType | undefined;
  const addr = await new Promise<AddressInfo>((resolve, reject) => {
    server = serve({ fetch: (req, env) => handler(req, env), hostname: host, port: opts.port ?? 3000 }, resolve);
    server.once('error', reject);
  });
  const srv = server as ServerType;
  const url = opts.publicUrl ?? `http://${urlHost(host)}:${addr.port}`;
  app.oauth.serverListening(url);
  let http: HttpApp;
  let mcp: McpRouteHandle;
  try {
    mcp = createMcpRoute({ app, auth, publicUrl: url, ...(opts.allowedHosts ? { allowedHosts: opts.allowedHosts } : {}) });
    http = createHttpApp(app, {
      bindHost: host,
      publicUrl: url,
      auth,
      metrics,
      logger,
      ...(opts.allowedHosts ? { allowedHosts: opts.allowedHosts } : {}),
      mcp,
    });
  } catch (err) {
    await new Promise<void>((resolve) => srv.close(() => resolve()));
    throw err;
  }
  handler = http.fetch;
  let closing: Promise<void> | undefined;
  return {
    url,
    port: addr.port,
    http,
    server: srv,
    mcp,
    close: () => {
      closing ??= (async () => {
        const done = new Promise<void>((resolve) => srv.close(() => resolve()));
        await http.close();
        // Event streams and idle keep-alive sockets would hold close() open.
        if ('closeAllConnections' in srv) srv.closeAllConnections();
        await done;
      })();
      return closing;
    },
  };
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/** `interlock serve`: App from INTERLOCK_CONFIG / REDIS_URL (or REDIS_CLUSTER_NODES), HOST and PORT from the environment. */
export async function serveCommand(opts: { watchConfig?: boolean } = {}): Promise<void> {
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'info' });
  const say = (m: string) => console.error(m);
  const app = await App.create({ logger, onNotice: say });
  let running: RunningServer;
  try {
    running = await startServer(app, {
      host: process.env.HOST || '127.0.0.1',
      port: Number(process.env.PORT || 3000),
      logger,
      onNotice: say,
      ...(process.env.INTERLOCK_PUBLIC_URL ? { publicUrl: process.env.INTERLOCK_PUBLIC_URL } : {}),
      ...(process.env.INTERLOCK_ALLOWED_HOSTS
        ? {
            allowedHosts: process.env.INTERLOCK_ALLOWED_HOSTS.split(',')
              .map((s) => s.trim())
              .filter(Boolean),
          }
        : {}),
    });
  } catch (err) {
    await app.close();
    throw err;
  }
  const u = running.url;
  say(
    [
      `Interlock serving on ${u} (Redis: ${app.redis.describe}; workers for ${Object.keys(app.config.connectors).join(', ') || 'no connectors'})`,
      `  API        ${u}/api/v1   (OpenAPI: ${u}/api/v1/openapi.json)`,
      `  pages      ${u}/ui`,
      `  queues     ${u}/admin/queues`,
      `  metrics    ${u}/metrics`,
      `  MCP        ${u}/mcp`,
    ].join('\n'),
  );
  let stopping = false;
  const stop = async (sig: string) => {
    if (stopping) return;
    stopping = true;
    armExitDeadline(say);
    say(`${sig}: closing the server and finishing in-flight steps…`);
    try {
      await running.close();
      await app.close();
      process.exit(0);
    } catch (err) {
      say(`error while stopping: ${errorMessage(err)}`);
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  reloadOnSignal(app, { say, ...(opts.watchConfig ? { watch: true } : {}) });
}
