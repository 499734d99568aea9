import type { McpHttpHandler } from '@modelcontextprotocol/server';

/**
 * The `subscriptions/listen` streams of protocol 2026-07-28, counted per principal. A listen stream
 * stays open as long as the client likes, and the v2 handler caps them only in all, so without a
 * count of its own one token could hold every slot and shut the others out of list_changed: the
 * same reason MCP sessions are capped per principal (http.ts).
 */

/** A JSON-RPC body (or batch) that opens a listen stream. */
export function opensListen(body: unknown): boolean {
  const one = (m: unknown) =>
    typeof m === 'object' && m !== null && (m as { method?: unknown }).method === 'subscriptions/listen';
  return Array.isArray(body) ? body.some(one) : one(body);
}

export class ListenSlots {
  private readonly held = new Map<string, number>();
  private readonly perPrincipal: number;

  constructor(perPrincipal: number) {
    this.perPrincipal = perPrincipal;
  }

  /** How many listen streams `principal` holds open now. */
  count(principal: string): number {
    return this.held.get(principal) ?? 0;
  }

  /** A slot for `principal`, and the function that gives it back (once); none when it holds its share. */
  take(principal: string): (() => void) | undefined {
    const n = this.count(principal);
    if (n >= this.perPrincipal) return undefined;
    this.held.set(principal, n + 1);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      const left = this.count(principal) - 1;
      if (left > 0) this.held.set(principal, left);
      else this.held.delete(principal);
    };
  }
}

/**
 * The same response, whose body gives the slot back when it ends: the server closed the stream,
 * the client went away (the body is cancelled), or it failed. A response without a body (a
 * refusal answered as JSON) gives it back at once.
 */
export function releaseWhenDone(res: Response, release: () => void): Response {
  if (!res.body) {
    release();
    return res;
  }
  const reader = res.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          release();
          controller.close();
        } else controller.enqueue(value);
      } catch (err) {
        release();
        controller.error(err);
      }
    },
    cancel(reason) {
      release();
      return reader.cancel(reason);
    },
  });
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}

type AuthInfo = { token: string; clientId: string; scopes: string[] };

/**
 * The 2026-07-28 leg of `/mcp` with listen streams counted: a request that opens one takes a slot
 * of its token's (given back when the stream ends), and a token holding `perPrincipal` of them is
 * answered with `refuse(message)`. Every other request goes straight to the handler.
 */
export function listenCapped(
  handler: Pick<McpHttpHandler, 'fetch'>,
  perPrincipal: number,
  refuse: (message: string) => Response,
): (req: Request, body: unknown, authInfo: AuthInfo) => Promise<Response> {
  const slots = new ListenSlots(perPrincipal);
  return async (req, body, authInfo) => {
    if (!opensListen(body)) return handler.fetch(req, { authInfo, parsedBody: body });
    const release = slots.take(authInfo.clientId);
    if (!release)
      return refuse(
        `Token '${authInfo.clientId}' already holds ${slots.count(authInfo.clientId)} open subscriptions/listen streams, the most one token may; close some, then try again`,
      );
    try {
      return releaseWhenDone(await handler.fetch(req, { authInfo, parsedBody: body }), release);
    } catch (err) {
      release();
      throw err;
    }
  };
}
