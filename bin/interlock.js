#!/usr/bin/env node
// The CLI is TypeScript run by Node's type stripping (Node >= 22.18 / 24): no build step.
// The compile cache makes the second start of a process (connectors are child processes) fast.
import module from 'node:module';

module.enableCompileCache?.();
await import('../src/cli.ts');
