/**
 * Builds the WebClient the Slack connector uses. Two choices matter for Interlock:
 * - a 429 is waited out for its Retry-After and retried (Slack rate limits are normal, not failures);
 * - nothing else is retried inside the SDK, because a post whose answer was lost must not be sent blind a
 *   second time: the connector's idempotency lookup decides that, not a transport retry.
 */
import { ErrorCode, LogLevel, WebClient, WebClientEvent, type Logger, type RetryOptions } from '@slack/web-api';

export const SANDBOX_BOT_TOKEN = 'xoxb-interlock-sandbox';
export const DEFAULT_SANDBOX_API_URL = 'http://127.0.0.1:12112/api/';

export interface SlackClientOptions {
  token: string;
  /** unset: the real Slack API */
  slackApiUrl?: string;
  /** per HTTP request; 0 disables */
  timeoutMs?: number;
  /** how many 429s in a row one call sits out before it fails */
  maxRateLimitRetries?: number;
  /** where the SDK's and the connector's diagnostics go; stderr by default (stdout may be an MCP transport) */
  log?: (line: string) => void;
}

const TOKEN_PATTERN = /xox[a-z]-[A-Za-z0-9-]+/g;

/** Removes anything shaped like a Slack token, whatever else the text says. */
export function redactSecrets(text: string, ...secrets: Array<string | undefined>): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('[redacted]');
  return out.replace(TOKEN_PATTERN, '[redacted]');
}

/**
 * The SDK signals "rate-limited, already waited, try again" by throwing a plain error that it wraps as a
 * request error; that message is the only thing telling it apart from a lost connection.
 */
export function isRateLimitRetry(err: unknown): boolean {
  if (!(err instanceof Error) || !('code' in err) || err.code !== ErrorCode.RequestError) return false;
  const original = 'original' in err ? err.original : undefined;
  return original instanceof Error && original.message.startsWith('A rate limit was exceeded');
}

function stderrLogger(write: (line: string) => void): Logger {
  const rank: Record<string, number> = { debug: 0, info: 1, warn: 2, error: 3 };
  let level: LogLevel = LogLevel.WARN;
  let name = 'slack';
  const emit = (at: LogLevel, msg: unknown[]): void => {
    if (rank[at] < rank[level]) return;
    const text = msg.map((m) => (typeof m === 'string' ? m : m instanceof Error ? m.message : JSON.stringify(m))).join(' ');
    write(`[${name}] ${at}: ${redactSecrets(text)}`);
  };
  return {
    debug: (...msg: unknown[]) => emit(LogLevel.DEBUG, msg),
    info: (...msg: unknown[]) => emit(LogLevel.INFO, msg),
    warn: (...msg: unknown[]) => emit(LogLevel.WARN, msg),
    error: (...msg: unknown[]) => emit(LogLevel.ERROR, msg),
    setLevel: (l: LogLevel) => void (level = l),
    getLevel: () => level,
    setName: (n: string) => void (name = n),
  };
}

export function createSlackWebClient(options: SlackClientOptions): WebClient {
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const retryConfig: RetryOptions & { onFailedAttempt: (err: unknown) => void } = {
    retries: options.maxRateLimitRetries ?? 10,
    // The SDK has already slept for Retry-After before this policy is consulted, so add no backoff on top.
    minTimeout: 0,
    factor: 1,
    randomize: false,
    onFailedAttempt: (err) => {
      if (!isRateLimitRetry(err)) throw err;
    },
  };
  const client = new WebClient(options.token, {
    ...(options.slackApiUrl ? { slackApiUrl: options.slackApiUrl } : {}),
    retryConfig,
    rejectRateLimitedCalls: false,
    timeout: options.timeoutMs ?? 30_000,
    logger: stderrLogger(log),
  });
  client.on(WebClientEvent.RATE_LIMITED, (retryAfterSec: number, { url }: { url: string }) => {
    const method = url.slice(url.lastIndexOf('/') + 1);
    log(`[slack] ${method} rate-limited; retrying in ${retryAfterSec}s`);
  });
  return client;
}

export interface SlackEnvironment {
  token: string;
  slackApiUrl?: string;
  sandbox: boolean;
}

/**
 * An explicit INTERLOCK_SLACK_API_URL always wins, token or not: a real-looking token pointed at
 * an emulator or a proxy must never be sent to slack.com instead. Otherwise SLACK_BOT_TOKEN set →
 * real Slack; unset → the sandbox with the sandbox token.
 */
export function slackEnvironment(env: NodeJS.ProcessEnv = process.env): SlackEnvironment {
  const token = env.SLACK_BOT_TOKEN?.trim();
  const explicitUrl = env.INTERLOCK_SLACK_API_URL?.trim() || undefined;
  if (token) return { token, ...(explicitUrl ? { slackApiUrl: explicitUrl } : {}), sandbox: false };
  return { token: SANDBOX_BOT_TOKEN, slackApiUrl: explicitUrl ?? DEFAULT_SANDBOX_API_URL, sandbox: true };
}
