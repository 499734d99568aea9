/**
 * `interlock chat` in a real terminal (tmux) on the file's Redis, the Stripe and Slack emulators and
 * a scripted model on the OpenAI emulator, for a config written to a temp file:
 * `it('…', async ({ openai, tmux, startChat, sandboxes }) => …)`.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/app.ts';
import { test } from '../helpers/fixtures.ts';
import { Tmux } from './tmux.ts';

export function chatTest(configText: string) {
  const configFile = join(mkdtempSync(join(tmpdir(), 'interlock-chat-')), 'workflows.yaml');
  writeFileSync(configFile, configText);
  return test.extend<{
    tmux: Tmux;
    /** `interlock chat` in a tmux window of that name */
    startChat: (name: string) => void;
  }>({
    tmux: [
      // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from its first parameter's pattern
      async ({}, use) => {
        const tmux = new Tmux();
        try {
          await use(tmux);
        } finally {
          tmux.kill();
        }
      },
      { scope: 'file' },
    ],
    startChat: async ({ tmux, redis, openai, sandboxes }, use) =>
      use((name) =>
        tmux.start(
          name,
          [process.execPath, 'src/cli.ts', 'chat'],
          {
            PATH: process.env.PATH ?? '/usr/bin:/bin',
            HOME: process.env.HOME ?? '/tmp',
            NO_COLOR: '1',
            INTERLOCK_CONFIG: configFile,
            REDIS_URL: redis.url,
            OPENAI_BASE_URL: openai.url,
            OPENAI_API_KEY: 'sk-test',
            ...sandboxes.env,
          },
          ROOT,
        ),
      ),
  });
}
