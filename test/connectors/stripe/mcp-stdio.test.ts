import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { describe, expect, it } from 'vitest';
import { type Connect, defineToolSuite } from './tool-suite.ts';

const ENTRY = fileURLToPath(new URL('../../../src/connectors/stripe/stdio-entry.ts', import.meta.url));

/** Only what the child needs: in particular no STRIPE_SECRET_KEY from the developer's shell. */
function childEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', ...extra };
  if (process.env.HOME) env.HOME = process.env.HOME;
  return env;
}

const connectStdio: Connect = async ({ apiUrl }) => {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [ENTRY],
    env: childEnv({ INTERLOCK_STRIPE_API_URL: apiUrl }),
    stderr: 'pipe',
  });
  const client = new Client({ name: 'interlock-test', version: '0.0.0' });
  await client.connect(transport);
  return { client, close: () => client.close() };
};

defineToolSuite('stdio', connectStdio);

describe('Stripe connector process', () => {
  it('refuses a live key unless INTERLOCK_ALLOW_LIVE_STRIPE=1, without echoing the key', async () => {
    const key = 'sk_live_51SecretLiveKeyDoNotPrint';
    const child = spawn(process.execPath, [ENTRY], {
      env: childEnv({ STRIPE_SECRET_KEY: key }),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toContain('live-mode key');
    expect(stderr).toContain('INTERLOCK_ALLOW_LIVE_STRIPE=1');
    expect(stderr + stdout).not.toContain(key);
  });
});
