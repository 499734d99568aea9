import { InterlockError } from '../../errors.ts';

/** The error of a call that cannot reach its connector until a person logs in; the run pauses on it. */
export function loginRequired(connector: string, reason: string, details: Record<string, unknown> = {}): InterlockError {
  return new InterlockError(
    'CONNECTOR_LOGIN_REQUIRED',
    `Connector "${connector}" needs a login: ${reason}. Log in with \`interlock connectors login ${connector}\` or the Connect button on /ui/connectors; paused runs continue then.`,
    { connector, reason, ...details },
  );
}

export function isLoginRequired(err: unknown): err is InterlockError {
  return err instanceof InterlockError && err.code === 'CONNECTOR_LOGIN_REQUIRED';
}
