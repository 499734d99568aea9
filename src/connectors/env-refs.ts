import { InterlockError } from '../errors.ts';

// The `${env:NAME}` syntax of connector settings: the config loader checks it, the connector resolves it at connect time.
const ENV_NAME = '[A-Za-z_][A-Za-z0-9_]*';
export const SOLE_ENV_REF = new RegExp(`^\\$\\{env:(${ENV_NAME})\\}$`);
const ENV_REF = new RegExp(`\\$\\{env:(${ENV_NAME})\\}`, 'g');
export const ENV_REF_AT_START = new RegExp(`^\\$\\{env:${ENV_NAME}\\}`);

/** Names of the `${env:NAME}` references in a config string. */
export function envRefNames(s: string): string[] {
  return [...s.matchAll(ENV_REF)].map((m) => m[1]);
}

/**
 * Replaces `${env:NAME}` references (headers, env values, tokens) at connect time. A missing
 * variable is an error naming the variable; the message never includes any value.
 */
export function resolveEnvRefs(s: string, env: NodeJS.ProcessEnv = process.env): string {
  return s.replace(ENV_REF, (_, name: string) => {
    const v = env[name];
    if (v === undefined)
      throw new InterlockError(
        'CONFIG_INVALID',
        `environment variable ${name} is not set (workflows.yaml refers to it as \${env:${name}})`,
        { variable: name },
      );
    return v;
  });
}
