import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * An HTTP proxy in front of the Stripe sandbox that holds each matching request before passing it
 * on and holds its answer before returning it. A worker killed meanwhile has either not reached
 * Stripe yet or reached it and lost the answer: the two cases a crash mid-write can leave.
 */
export async function startSlowProxy(
  target: string,
  opts: { match: (method: string, path: string) => boolean; maxDelayMs: number },
): Promise<{ url: string; close(): Promise<void>; held: () => number }> {
  const to = new URL(target);
  let held = 0;
  const server: Server = createServer((req, res) => {
    const slow = opts.match(req.method ?? 'GET', req.url ?? '/');
    const wait = () => (slow ? sleep(Math.random() * opts.maxDelayMs) : Promise.resolve());
    void (async () => {
      if (slow) held++;
      await wait();
      const up = request(
        { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers },
        (upRes) => {
          const chunks: Buffer[] = [];
          upRes.on('data', (c: Buffer) => chunks.push(c));
          upRes.on('end', () => {
            void wait().then(() => {
              if (slow) held--;
              res.writeHead(upRes.statusCode ?? 502, upRes.headers);
              res.end(Buffer.concat(chunks));
            });
          });
        },
      );
      up.on('error', () => {
        if (slow) held--;
        res.destroy();
      });
      req.pipe(up);
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    held: () => held,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
