/**
 * A local OpenAI-compatible endpoint: `new OpenAI({baseURL: sandbox.url})` talks to it unchanged.
 * It speaks `POST /v1/chat/completions` (plain and SSE streaming, tools and tool calls,
 * `response_format: json_schema`) and answers from a script instead of a model.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { replyFor, type ChatRequest, type Script } from './script.ts';
import { WireError, build, checkRequest, chunks, completion } from './wire.ts';

export interface OpenAISandboxOptions {
  /** 0 or unset: a free port */
  port?: number;
  host?: string;
  script: Script;
  /**
   * Refuse every request with 401 "Incorrect API key provided: <key>", echoing the key the
   * caller sent as some OpenAI-compatible servers do: what a leak test needs to be hostile.
   */
  rejectKey?: boolean;
}

export interface RecordedRequest {
  path: string;
  body: ChatRequest;
  /** whether an Authorization header came (its value is never kept) */
  authorized: boolean;
}

export interface OpenAISandbox {
  /** base URL for the SDK's `baseURL` / OPENAI_BASE_URL; ends with `/v1` */
  url: string;
  port: number;
  /** every chat completions request that passed the wire checks, in order */
  requests: RecordedRequest[];
  /** swaps the script for a new conversation: the turn count starts again at 0 and `requests` is emptied */
  setScript(script: Script): void;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 4 * 1024 * 1024;

async function readJson(req: IncomingMessage): Promise<unknown> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new WireError(413, 'Request body too large.');
    parts.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(parts).toString('utf8'));
  } catch {
    throw new WireError(
      400,
      "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly.)",
    );
  }
}

function sendError(res: ServerResponse, err: WireError): void {
  res.writeHead(err.status, { 'content-type': 'application/json', 'x-request-id': `req_sandbox_${Date.now()}` });
  res.end(JSON.stringify({ error: { message: err.message, type: err.type, param: err.param, code: null } }));
}

export async function startOpenAISandbox(opts: OpenAISandboxOptions): Promise<OpenAISandbox> {
  let script = opts.script;
  let turn = 0;
  const requests: RecordedRequest[] = [];

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://sandbox').pathname.replace(/\/+$/, '');
    if (req.method !== 'POST' || path !== '/v1/chat/completions') {
      throw new WireError(
        404,
        `Invalid URL (${req.method ?? 'GET'} ${path}): this sandbox serves POST /v1/chat/completions`,
        null,
        'invalid_request_error',
      );
    }
    const authorized = /^Bearer \S+/.test(req.headers.authorization ?? '');
    if (!authorized)
      throw new WireError(
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
      );
    if (opts.rejectKey) {
      const key = (req.headers.authorization ?? '').replace(/^Bearer\s+/, '');
      throw new WireError(
        401,
        `Incorrect API key provided: ${key}. You can find your API key at https://platform.openai.com/account/api-keys.`,
        null,
        'invalid_request_error',
      );
    }
    const body = checkRequest(await readJson(req));
    requests.push({ path, body, authorized });
    const index = turn++;
    const reply = await replyFor(script, body, index);
    if ('scriptError' in reply)
      throw new WireError(400, `openai sandbox script: ${reply.scriptError}`, null, 'sandbox_script_error');
    if (reply.delayMs) await sleep(reply.delayMs);
    if (reply.error) {
      throw new WireError(
        reply.error.status,
        reply.error.message,
        null,
        reply.error.type ?? (reply.error.status >= 500 ? 'server_error' : 'invalid_request_error'),
      );
    }
    const built = build(reply, body);
    const headers = { 'x-request-id': `req_sandbox_${index}`, 'openai-processing-ms': '1' };
    if (body.stream) {
      res.writeHead(200, {
        ...headers,
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
      });
      for (const c of chunks(body, built)) res.write(`data: ${JSON.stringify(c)}\n\n`);
      res.end('data: [DONE]\n\n');
      return;
    }
    res.writeHead(200, { ...headers, 'content-type': 'application/json' });
    res.end(JSON.stringify(completion(body, built)));
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) return void res.destroy();
      sendError(
        res,
        err instanceof WireError
          ? err
          : new WireError(500, `openai sandbox: ${err instanceof Error ? err.message : String(err)}`, null, 'server_error'),
      );
    });
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}/v1`,
    port,
    requests,
    setScript(s) {
      script = s;
      turn = 0;
      requests.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
