import { randomUUID } from 'node:crypto';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { App } from '../app.ts';
import { createLogger } from '../logger.ts';
import { armExitDeadline } from '../worker/worker.ts';
import { reloadOnSignal } from '../config/reload-signal.ts';
import { servicesOf } from './compose.ts';
import { Facade } from './mcp/server.ts';

/**
 * `interlock mcp`: the facade over stdio, for a desktop client that spawns it. The process is the
 * MCP session: runs it starts share one run session (`mcp-stdio-<pid>-<random>`), whose
 * remembered approvals end when the client closes the pipe. Stdout carries only MCP messages;
 * every log and notice goes to stderr.
 *
 * Environment: INTERLOCK_CONFIG, REDIS_URL or REDIS_CLUSTER_NODES (as every command),
 * INTERLOCK_NO_WORKERS=1 to leave the steps to separate `interlock worker` processes,
 * INTERLOCK_PUBLIC_URL for approval links (default http://127.0.0.1:$PORT, where `interlock serve`
 * listens by default).
 * SIGHUP (or, with INTERLOCK_WATCH_CONFIG=1, a change to the file) reloads the config and tells the
 * client when its tools changed.
 */
export async function mcpStdioCommand(env: NodeJS.ProcessEnv = process.env, opts: { watchConfig?: boolean } = {}): Promise<void> {
  const logger = createLogger({ level: env.LOG_LEVEL ?? 'warn', name: 'interlock-mcp' });
  const app = await App.create({ logger, onNotice: (m) => process.stderr.write(`${m}\n`) });
  if (env.INTERLOCK_NO_WORKERS !== '1') await app.startWorkers();

  const facade = new Facade({
    services: servicesOf(app),
    session: `mcp-stdio-${process.pid}-${randomUUID().slice(0, 8)}`,
    publicUrl: env.INTERLOCK_PUBLIC_URL || `http://127.0.0.1:${env.PORT || 3000}`,
    logger,
  });
  const transport = new StdioServerTransport();

  let stopping: Promise<void> | undefined;
  const stop = (why: string): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ why }, 'mcp stdio session ending');
      // A client waits for us to go; a close that hangs (a Redis that went away) must not keep it waiting.
      armExitDeadline((m) => logger.warn(m));
      await facade.end();
      await app.close();
      process.exit(0);
    })();
    return stopping;
  };
  // The client ends a stdio session by closing our stdin (or by a signal, if it is impatient).
  transport.onclose = () => void stop('transport closed');
  process.stdin.once('end', () => void stop('stdin closed'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  app.source.subscribe(() => void facade.refreshTools());
  reloadOnSignal(app, {
    say: (m) => process.stderr.write(`interlock mcp: ${m}\n`),
    env,
    ...(opts.watchConfig ? { watch: true } : {}),
  });

  await facade.server.connect(transport);
  process.stderr.write(
    `interlock mcp: ready on stdio (Redis ${app.redis.describe}; workers ${env.INTERLOCK_NO_WORKERS === '1' ? 'elsewhere' : 'in this process'})\n`,
  );
}
