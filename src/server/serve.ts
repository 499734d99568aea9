import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import type { Logger } from 'pino';
import { App } from '../app.ts';
import { createSlackApprovals } from '../approvals/slack/index.ts';
import { reloadOnSignal } from '../config/reload-signal.ts';
import { InterlockError, errorMessage } from '../errors.ts';
import { createLogger } from '../logger.ts';
import { armExitDeadline } from '../worker/worker.ts';
import { Authenticator } from './auth.ts';
import { servicesOf } from './compose.ts';
import { type HttpApp, createHttpApp } from './http.ts';
import { type McpRouteHandle, createMcpRoute } from './mcp/http.ts';
import { createRequestStates } from './mcp/request-state.ts';
import { Metrics } from './metrics.ts';
import { createBuiltinServer } from './oauth/builtin/server.ts';
import { type OAuthSetup, setUpOAuth } from './oauth/setup.ts';
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
  /** how often Slack approvals sweep for cards to post or close (default 2 s) */
  slackSweepMs?: number;
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
  const env = opts.env ?? process.env;
  const oauthConfig = app.config.server?.auth.oauth;
  const auth = Authenticator.fromConfig(app.config.tokens, env, { oauth: !!oauthConfig });
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

  const services = servicesOf(app);
  const metrics = new Metrics(services);
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
  const slack = createSlackApprovals({
    redis: app.redis.client,
    keys: app.store.keys,
    config: () => app.config,
    confirmations: app.store,
    decisions: app.engine,
    publicUrl: url,
    logger,
    ...(opts.env ? { env: opts.env } : {}),
    ...(opts.slackSweepMs ? { everyMs: opts.slackSweepMs } : {}),
  });
  let oauth: OAuthSetup | undefined;
  try {
    oauth = oauthConfig
      ? await setUpOAuth({ app, config: oauthConfig, tokens: auth, publicUrl: url, env, builtin: createBuiltinServer })
      : undefined;
    if (oauth) notice(`OAuth: /mcp accepts tokens from ${oauth.resource.issuer} for ${oauth.resource.resource}`);
    const stateKey = env.INTERLOCK_MCP_STATE_KEY;
    const states = createRequestStates({
      redis: app.redis.client,
      keys: app.store.keys,
      ...(stateKey ? { key: stateKey } : {}),
    });
    mcp = createMcpRoute({
      services,
      auth: oauth?.bearer ?? auth,
      ...(oauth ? { challenger: oauth.bearer } : {}),
      publicUrl: url,
      states,
      ...(opts.allowedHosts ? { allowedHosts: opts.allowedHosts } : {}),
    });
    http = createHttpApp(app, {
      ...(oauth ? { oauth } : {}),
      bindHost: host,
      publicUrl: url,
      auth,
      metrics,
      logger,
      ...(opts.allowedHosts ? { allowedHosts: opts.allowedHosts } : {}),
      mcp,
      slack,
    });
  } catch (err) {
    await oauth?.close();
    await new Promise<void>((resolve) => srv.close(() => resolve()));
    throw err;
  }
  handler = http.fetch;
  // It sweeps only while approvals.slack is configured, so it follows a reload by itself.
  slack.notifier.start();
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
        await slack.close();
        await http.close();
        await oauth?.close();
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
