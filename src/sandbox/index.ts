import type { OpenAISandbox } from './openai/index.ts';
import { startSlackSandbox } from './slack/index.ts';
import { startStripeSandbox } from './stripe/index.ts';

export const DEFAULT_STRIPE_PORT = 12111;
export const DEFAULT_SLACK_PORT = 12112;

export interface Sandboxes {
  stripe: Awaited<ReturnType<typeof startStripeSandbox>>;
  slack: Awaited<ReturnType<typeof startSlackSandbox>>;
  /** only when asked for (`openaiPort`); it answers with the demo script */
  openai?: OpenAISandbox;
  /** environment for connectors that should talk to these sandboxes */
  env: Record<string, string>;
  close(): Promise<void>;
}

/** Starts both emulators; port 0 picks free ports (tests), the defaults are fixed (demo, `interlock sandbox`). */
export async function startSandboxes(
  opts: { stripePort?: number; slackPort?: number; openaiPort?: number; host?: string } = {},
): Promise<Sandboxes> {
  const host = opts.host ?? '127.0.0.1';
  const stripe = await startStripeSandbox({ port: opts.stripePort ?? DEFAULT_STRIPE_PORT, host });
  const slack = await startSlackSandbox({ port: opts.slackPort ?? DEFAULT_SLACK_PORT, host }).catch(async (err: unknown) => {
    await stripe.close();
    throw err;
  });
  let openai: OpenAISandbox | undefined;
  if (opts.openaiPort !== undefined) {
    const { startOpenAISandbox, demoScript } = await import('./openai/index.ts');
    openai = await startOpenAISandbox({ port: opts.openaiPort, host, script: demoScript }).catch(async (err: unknown) => {
      await Promise.all([stripe.close(), slack.close()]);
      throw err;
    });
  }
  return {
    stripe,
    slack,
    ...(openai ? { openai } : {}),
    env: {
      INTERLOCK_STRIPE_API_URL: stripe.url,
      INTERLOCK_SLACK_API_URL: slack.url,
      ...(openai ? { OPENAI_BASE_URL: openai.url } : {}),
    },
    close: async () => {
      await Promise.all([stripe.close(), slack.close(), openai?.close()]);
    },
  };
}
