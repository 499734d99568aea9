#!/usr/bin/env node
// The CLI is TypeScript run by Node's type stripping (Node >= 22.18 / 24): no build step.
// A Node without it (a system Node 20 running this file directly) hands the command over to the
// project's own Node, the `node` dev dependency, instead of failing on the first .ts import; that
// Node runs the code, and `interlock` says nothing about it. Without one, it says what is needed.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import module from 'node:module';
import { fileURLToPath } from 'node:url';

if (typeof process.features.typescript === 'string') {
  // The compile cache makes the second start of a process (connectors are child processes) fast.
  module.enableCompileCache?.();
  await import('../src/cli.ts');
} else {
  const own = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));
  if (!existsSync(own)) {
    process.stderr.write(`interlock needs Node >= 22.18 (it runs TypeScript by type stripping); this is Node ${process.version} ` +
      `(${process.execPath}). Install Node 24, or run \`npm ci\` in the project to get its own.\n`);
    process.exit(1);
  }
  const child = spawn(own, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  // A terminal's Ctrl-C reaches both processes; a signal sent to this pid alone is passed on.
  const forward = (signal) => child.kill(signal);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, forward);
  child.on('error', (err) => {
    process.stderr.write(`interlock: could not start ${own}: ${err.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.off(s, forward);
      process.kill(process.pid, signal);
    } else {
      process.exit(code ?? 1);
    }
  });
}
