import { SECRET_ENV_NAMES, registerSecret } from './secrets.ts';
import { envRefNames } from './connectors/env-refs.ts';
import type { InterlockConfig } from './workflows/types.ts';

/** Every secret of the config and the environment: `${env:…}` references, token, auth and OAuth-server variables, SECRET_ENV_NAMES. */
export function registerConfigSecrets(config: InterlockConfig, env: NodeJS.ProcessEnv = process.env): void {
  const names = new Set<string>(SECRET_ENV_NAMES);
  for (const t of config.tokens) names.add(t.env);
  for (const c of Object.values(config.connectors)) {
    if (c.auth.type === 'bearer') names.add(c.auth.tokenEnv);
    const texts =
      c.transport.type === 'stdio'
        ? [c.transport.command, ...c.transport.args, ...Object.values(c.transport.env)]
        : [c.transport.url, ...Object.values(c.transport.headers)];
    for (const t of texts) for (const n of envRefNames(t)) names.add(n);
  }
  for (const wf of Object.values(config.workflows))
    for (const t of wf.triggers ?? []) if (t.kind === 'webhook') names.add(t.verify.secretEnv);
  const oauth = config.server?.auth.oauth;
  if (oauth?.introspection) names.add(oauth.introspection.clientSecretEnv);
  if (oauth?.builtin) {
    names.add(oauth.builtin.secretEnv);
    if (oauth.builtin.signingKeyEnv) names.add(oauth.builtin.signingKeyEnv);
    for (const u of oauth.builtin.users) if (u.passwordEnv) names.add(u.passwordEnv);
  }
  for (const n of names) registerSecret(env[n]);
}
