import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Listens and resolves with the port taken (port 0 picks a free one) and the origin to reach it,
 * with IPv6 hosts in brackets. A bind error (port in use) rejects instead of being thrown later.
 */
export async function listen(server: Server, port: number, host: string): Promise<{ port: number; origin: string }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const taken = (server.address() as AddressInfo).port;
  return { port: taken, origin: `http://${host.includes(':') ? `[${host}]` : host}:${taken}` };
}
