/**
 * `node src/connectors/stripe/stdio-entry.ts [--http [--port N] [--host H]]`: the Stripe connector as
 * a process. Over stdio by default (stdout carries MCP, so anything human goes to stderr).
 */
import { errorMessage } from '../../errors.ts';
import { runStripeConnector } from './main.ts';

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

try {
  const http = process.argv.includes('--http');
  const handle = await runStripeConnector(
    // No PORT/HOST fallback: those name Interlock's own server, which a child would otherwise collide with.
    http ? { transport: 'http', port: Number(flag('--port') ?? 0), host: flag('--host') } : { transport: 'stdio' },
  );
  if (handle.url) process.stderr.write(`Stripe MCP connector listening on ${handle.url}\n`);
  const stop = (): void => {
    void handle.close().finally(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // stdio: the client closing our stdin is the end of the session.
  if (!http) process.stdin.once('end', stop);
} catch (err) {
  process.stderr.write(`interlock stripe connector: ${errorMessage(err)}\n`);
  process.exit(1);
}
