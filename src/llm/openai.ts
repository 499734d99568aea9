/**
 * The official OpenAI SDK client, set up from workflows.yaml's `llm` section and the environment,
 * and the SDK's errors turned into Interlock's. llm steps and `interlock chat` both come here.
 */
import type OpenAI from 'openai';
import { InterlockError, errorMessage } from '../errors.ts';
import { registerSecret } from '../secrets.ts';
import type { LlmConfig } from '../workflows/types.ts';

export interface OpenAISettings {
  baseURL?: string;
  apiKey: string;
}

/**
 * OPENAI_BASE_URL wins over `llm.base_url`, so one config serves the real API and a local
 * endpoint (the sandbox, a proxy) alike. The key only ever comes from OPENAI_API_KEY; a custom
 * endpoint may need none, since many OpenAI-compatible servers ignore it.
 */
export function openAISettings(config: LlmConfig | undefined, env: NodeJS.ProcessEnv = process.env): OpenAISettings {
  const baseURL = env.OPENAI_BASE_URL || config?.baseUrl;
  const apiKey = env.OPENAI_API_KEY;
  registerSecret(apiKey);
  if (!apiKey && !baseURL) {
    throw new InterlockError(
      'LLM_ERROR',
      'OPENAI_API_KEY is not set: set it to call OpenAI, or set OPENAI_BASE_URL (or llm.base_url in workflows.yaml) to an OpenAI-compatible endpoint',
    );
  }
  return { ...(baseURL ? { baseURL } : {}), apiKey: apiKey || 'no-key' };
}

type Sdk = typeof import('openai');
// Loaded on first use: the SDK costs ~150 ms to import, and most commands never ask a model.
let sdk: Sdk | undefined;

/**
 * BullMQ decides retries for steps (src/worker/retry.ts), and the chat reports a failure to the
 * person right away, so the SDK's own retries are off.
 */
export async function createOpenAI(settings: OpenAISettings, opts: { timeoutMs?: number } = {}): Promise<OpenAI> {
  sdk ??= await import('openai');
  return new sdk.OpenAI({ ...settings, maxRetries: 0, ...(opts.timeoutMs ? { timeout: opts.timeoutMs } : {}) });
}

/**
 * Transient trouble (no connection, a timeout, 429, 5xx) maps to the codes retry.ts retries;
 * anything else the endpoint said (bad request, unknown model, bad key) is final.
 */
export function llmError(err: unknown, what: string, endpoint: string): InterlockError {
  if (err instanceof InterlockError) return err;
  if (!sdk) return new InterlockError('LLM_ERROR', `${what}: ${errorMessage(err)}`, undefined, { cause: err });
  const { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } = sdk;
  if (err instanceof APIConnectionTimeoutError)
    return new InterlockError('STEP_TIMEOUT', `${what}: no answer from ${endpoint} in time`, undefined, { cause: err });
  if (err instanceof APIUserAbortError)
    return new InterlockError('STEP_TIMEOUT', `${what}: the request was cancelled`, undefined, { cause: err });
  if (err instanceof APIConnectionError)
    return new InterlockError(
      'CONNECTOR_UNAVAILABLE',
      `${what}: cannot reach ${endpoint} (${errorMessage(err.cause ?? err)})`,
      undefined,
      { cause: err },
    );
  if (err instanceof APIError) {
    const status = err.status ?? 0;
    const said = apiMessage(err);
    if (status === 429 || status >= 500)
      return new InterlockError(
        'CONNECTOR_UNAVAILABLE',
        `${what}: ${endpoint} answered ${status}: ${said}`,
        { status },
        { cause: err },
      );
    return new InterlockError(
      'LLM_ERROR',
      `${what}: ${endpoint} refused the request (${status}): ${said}`,
      { status },
      { cause: err },
    );
  }
  return new InterlockError('LLM_ERROR', `${what}: ${errorMessage(err)}`, undefined, { cause: err });
}

function apiMessage(err: InstanceType<Sdk['APIError']>): string {
  const e = err.error as { message?: unknown } | undefined;
  return typeof e?.message === 'string' ? e.message : err.message;
}
