import { type ConfigSource, describeError, summarize } from './source.ts';

/**
 * What every long-running command (`serve`, `worker`, `mcp`) does about config changes: SIGHUP
 * reloads the file, and so does a change to it when `watch` is set (`--watch-config`) or
 * INTERLOCK_WATCH_CONFIG=1. A reload that fails validation keeps the previous config and says
 * where the problem is (file:line:col).
 */
export function reloadOnSignal(
  app: { source: ConfigSource },
  opts: { say: (msg: string) => void; watch?: boolean; env?: NodeJS.ProcessEnv },
): () => void {
  const report = (r: { diff?: Parameters<typeof summarize>[0]; error?: unknown }) => {
    if (r.diff) opts.say(`config reloaded from ${app.source.current.file}: ${summarize(r.diff)}`);
    else opts.say(`config reload failed, keeping the previous config:\n${describeError(r.error)}`);
  };
  const onHup = () => {
    app.source.reload().then(
      (diff) => report({ diff }),
      (error: unknown) => report({ error }),
    );
  };
  process.on('SIGHUP', onHup);
  if (opts.watch || (opts.env ?? process.env).INTERLOCK_WATCH_CONFIG === '1') app.source.watch({ onResult: report });
  return () => process.off('SIGHUP', onHup);
}
