import { InterlockError, errorMessage } from '../errors.ts';
import { registerSecret } from '../secrets.ts';
import { envRefNames, resolveEnvRefs } from './env-refs.ts';

/**
 * `${env:NAME}` references in connector headers, stdio env and args, resolved at connect time so
 * a rotated secret is picked up on the next reconnect. The syntax is the config loader's
 * (`resolveEnvRefs`); what this adds is that every resolved value is reported back as a secret:
 * the caller scrubs them from anything it logs or rethrows, because a value worth keeping out of
 * the config file is worth keeping out of error messages.
 */
export function resolveEnvString(text: string, env: NodeJS.ProcessEnv, where: string, secrets: string[]): string {
  let out: string;
  try {
    out = resolveEnvRefs(text, env);
  } catch (err) {
    // Unreachable settings are the connector's problem at connect time, whatever the loader calls them.
    const variable = err instanceof InterlockError ? (err.details as { variable?: string } | undefined)?.variable : undefined;
    throw new InterlockError('CONNECTOR_UNAVAILABLE', `${where}: ${errorMessage(err)}`, { reason: 'config', variable });
  }
  for (const name of envRefNames(text)) {
    const value = env[name];
    if (value) {
      secrets.push(value);
      registerSecret(value);
    }
  }
  return out;
}

export function resolveEnvRecord(
  record: Record<string, string>,
  env: NodeJS.ProcessEnv,
  where: string,
  secrets: string[],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(record)) out[k] = resolveEnvString(v, env, `${where}.${k}`, secrets);
  return out;
}

/** Replaces every secret in `text`; longest first so a secret containing another is fully hidden. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) {
    if (s) out = out.split(s).join('[redacted]');
  }
  return out;
}
