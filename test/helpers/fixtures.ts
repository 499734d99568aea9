/**
 * The things a suite needs, as vitest `test.extend` fixtures: each is started for the first test
 * that names it (`it('…', async ({ app, stripe }) => …)`), kept for the file and stopped after it.
 * A fixture nobody names never starts. See test/README.md for how to write a suite with them.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Browser } from 'playwright-core';
import { test as base } from 'vitest';
import type { App } from '../../src/app.ts';
import { type Sandboxes, startSandboxes } from '../../src/sandbox/index.ts';
import { type OpenAISandbox, startOpenAISandbox } from '../../src/sandbox/openai/index.ts';
import { type SlackSandbox, startSlackSandbox } from '../../src/sandbox/slack/index.ts';
import { type StripeSandbox, startStripeSandbox } from '../../src/sandbox/stripe/index.ts';
import { type RunningServer, type StartServerOptions, startServer } from '../../src/server/serve.ts';
import { startTestServerHttp, type TestServerHttp } from '../fixtures/test-server.ts';
import { makeApp } from './app.ts';
import { type OAuthServerOptions, type TestOAuthServer, startOAuthServer } from './oauth-server.ts';
import { WorkerProcess, startTestServer, stop } from './processes.ts';
import { TestRedis, freePort } from './redis.ts';

type WorkerOptions = Parameters<App['startWorkers']>[0];

export interface OpenAppOptions {
  /** the workflows.yaml text the app loads (see configYaml in ./workflows.ts); written to a temp file */
  yaml?: string;
  /** or a workflows.yaml on disk, loaded as it is (e.g. the shipped one, `join(ROOT, 'workflows.yaml')`) */
  file?: string;
  /** in-process step workers: their options, or false for an app that only triggers and inspects */
  workers?: WorkerOptions | false;
  /** a logger to read from (default: silent) */
  logger?: Logger;
}

/**
 * An App on `redis` under its own key prefix, loaded from `yaml` written to a temp workflows.yaml
 * (`app.config.file`, for child processes and the CLI), with workers unless told otherwise; handed to
 * `use` and closed after. For a suite whose config names a service fixture:
 * `app: [async ({ redis, stripe }, use) => openApp(redis, { yaml: yaml(stripe.url) }, use), { scope: 'file' }]`.
 */
export async function openApp(redis: TestRedis, opts: OpenAppOptions, use: (app: App) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'interlock-config-'));
  const file = opts.file ?? join(dir, 'workflows.yaml');
  const yaml = opts.yaml ?? readFileSync(file, 'utf8');
  if (!opts.file) writeFileSync(file, yaml);
  const app = await makeApp(yaml, redis.url, file, opts.logger);
  try {
    await useApp(app, opts.workers, use);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `interlock worker` (or `serve`) children on the file's Redis, config and key prefix; SIGKILLed after the file. */
export interface WorkerProcesses {
  /** starts `n` children (env on top of the app's) and waits until each is ready */
  start(n?: number, opts?: { env?: Record<string, string>; command?: 'worker' | 'serve' }): Promise<WorkerProcess[]>;
  /** the environment a child gets: REDIS_URL, INTERLOCK_CONFIG and INTERLOCK_PREFIX of the app */
  readonly env: Record<string, string>;
  /** SIGKILLs every child started so far (a suite calls it between tests when each test starts its own) */
  killAll(): Promise<void>;
}

/** The MCP test server over streamable HTTP on a port of its own, which a test can stop and start again. */
export interface RestartableServer {
  readonly port: number;
  /** the server now running; undefined while stopped */
  readonly server: TestServerHttp | undefined;
  /** stops it, as a crash of its process would */
  stop(): Promise<void>;
  /** a new server on the same port: fresh state, no memory of the old MCP sessions */
  start(): Promise<TestServerHttp>;
}

async function startRestartable(): Promise<RestartableServer> {
  const port = await freePort();
  const r = {
    port,
    server: undefined as TestServerHttp | undefined,
    async stop() {
      await r.server?.close();
      r.server = undefined;
    },
    async start() {
      r.server = await startTestServerHttp({ mode: 'streamable', port });
      return r.server;
    },
  };
  await r.start();
  return r;
}

/** What every suite can ask for. */
export interface Services {
  /** a private redis-server on a free port (append-only, so it can be killed and restarted), removed after the file */
  redis: TestRedis;
  /** the Stripe and Slack emulators on free ports, their URLs also put in process.env (INTERLOCK_STRIPE_API_URL, …) */
  sandboxes: Sandboxes;
  /** the Stripe emulator alone, on a free port */
  stripe: StripeSandbox;
  /** the Slack emulator alone, on a free port */
  slack: SlackSandbox;
  /** the project's MCP test server in this process over streamable HTTP (its calls and sessions readable) */
  mcpHttp: TestServerHttp;
  /** the same server on a port that stays the same when a test stops it and starts it again */
  remote: RestartableServer;
  /** the OpenAI emulator with an empty script (a test sets one with `openai.setScript`) */
  openai: OpenAISandbox;
  /** headless Chromium (fails, never skips, when it is missing; see ./browser.ts) */
  browser: Browser;
}

/** A file-scoped fixture as `extend` takes it: a function of the fixtures it names, and its scope. */
export type FileFixture<T, Deps> = [(deps: Deps, use: (value: T) => Promise<void>) => Promise<void>, { scope: 'file' }];

/** A service as a file-scoped fixture: started when first named, closed after the file. */
function service<T>(start: () => Promise<T>, close: (value: T) => Promise<void>): FileFixture<T, object> {
  return [
    // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from its first parameter's pattern
    async ({}, use: (value: T) => Promise<void>) => {
      const value = await start();
      try {
        await use(value);
      } finally {
        await close(value);
      }
    },
    { scope: 'file' },
  ];
}

const closeIt = (s: { close(): Promise<void> }) => s.close();

/** The base `test`: every service of `Services`, none started until named. */
export const test = base.extend<Services>({
  redis: service(
    () => new TestRedis().start(),
    (r) => r.stop(),
  ),
  sandboxes: service(async () => {
    const sandboxes = await startSandboxes({ stripePort: 0, slackPort: 0 });
    Object.assign(process.env, sandboxes.env);
    return sandboxes;
  }, closeIt),
  stripe: service(() => startStripeSandbox({ port: 0 }), closeIt),
  slack: service(() => startSlackSandbox({ port: 0 }), closeIt),
  mcpHttp: service(() => startTestServerHttp({ mode: 'streamable' }), closeIt),
  remote: service(startRestartable, (r) => r.stop()),
  openai: service(() => startOpenAISandbox({ script: [] }), closeIt),
  // imported when named, so suites without a browser do not load playwright
  browser: service(
    async () => (await import('./browser.ts')).launchChromium(),
    (b) => b.close(),
  ),
});

/**
 * The test authorization server with its OAuth-protected MCP server (./oauth-server.ts), with the
 * options given, as a file fixture: `as: oauthServer({ staticClient })` in an extend.
 */
export function oauthServer(opts: OAuthServerOptions = {}): FileFixture<TestOAuthServer, object> {
  return service(() => startOAuthServer(opts), closeIt);
}

/**
 * A multi-process suite: the project's MCP test server as a child process over HTTP (logging its
 * calls to `log`), an app for `yaml(its url)` that triggers and inspects (no workers), and the
 * `processes` fixture for the `interlock worker` children that do the work.
 */
export function childServerTest(yaml: (serverUrl: string) => string, log: string) {
  return test.extend<{ testServer: { url: string }; app: App; processes: WorkerProcesses }>({
    testServer: [
      // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from its first parameter's pattern
      async ({}, use) => {
        const s = await startTestServer(log);
        try {
          await use({ url: s.url });
        } finally {
          await stop(s.proc);
        }
      },
      { scope: 'file' },
    ],
    app: [
      async ({ redis, testServer }, use) => openApp(redis, { yaml: yaml(testServer.url), workers: false }, use),
      { scope: 'file' },
    ],
    processes: workerProcesses,
  });
}

/** Kept for the suites that asked only for a Redis: the same `test`. */
export const redisTest = test;

/**
 * The `workers` fixture value: add it as `processes: workerProcesses` in an extend that has `app`
 * and `redis`. Children run the same binary users run, so a test can SIGKILL one as a crash would.
 */
export const workerProcesses: FileFixture<WorkerProcesses, { app: App; redis: TestRedis }> = [
  async ({ app, redis }, use) => {
    const started: WorkerProcess[] = [];
    const env = { REDIS_URL: redis.url, INTERLOCK_CONFIG: app.config.file, INTERLOCK_PREFIX: app.prefix };
    const killAll = async () => {
      await Promise.all(started.map((w) => w.kill()));
      started.length = 0;
    };
    try {
      await use({
        env,
        killAll,
        async start(n = 1, opts = {}) {
          const more = Array.from({ length: n }, () => new WorkerProcess({ ...env, ...opts.env }, opts.command));
          started.push(...more);
          await Promise.all(more.map((w) => w.start()));
          return more;
        },
      });
    } finally {
      await killAll();
    }
  },
  { scope: 'file' },
];

/**
 * `interlock serve`'s HTTP server for `app` on a free loopback port (options as startServer takes
 * them), handed to `use` and closed after: `server: [async ({ app }, use) => openServer(app, {…}, use), { scope: 'file' }]`.
 */
export async function openServer(app: App, opts: StartServerOptions, use: (s: RunningServer) => Promise<void>): Promise<void> {
  const server = await startServer(app, { host: '127.0.0.1', port: 0, onNotice: () => {}, ...opts });
  try {
    await use(server);
  } finally {
    await server.close();
  }
}

export interface AppFixtureOptions extends OpenAppOptions {
  /**
   * start the Stripe and Slack emulators before the app, their URLs in process.env, for a config
   * whose connectors read them (the shipped workflows.yaml does)
   */
  sandboxes?: boolean;
  /**
   * variables put into process.env before the app loads, for the config's `${env:…}` references
   * (undefined removes one); restored after the file
   */
  env?: Record<string, string | undefined>;
  /** how the `server` fixture starts `interlock serve`'s HTTP server for the app (loopback, a free port) */
  server?: StartServerOptions;
}

/** What appTest adds to `test`. */
export interface FileFixtures extends Services {
  /** the config's temp workflows.yaml, for child processes (`INTERLOCK_CONFIG`) and the CLI */
  configFile: string;
  /** an App on `redis` under its own key prefix, loaded from `configFile`, with workers unless told otherwise */
  app: App;
  /** `interlock worker` children on the app's Redis, config and prefix */
  processes: WorkerProcesses;
  /** `interlock serve`'s HTTP server (API, pages, /mcp) for `app`; it starts the app's workers unless `server.workers` is false */
  server: RunningServer;
}

function setEnv(vars: Record<string, string | undefined>): void {
  for (const [k, v] of Object.entries(vars)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
}

/** Runs `fn` with `vars` in process.env (undefined removes one) and puts the old values back after. */
export async function withEnv(vars: Record<string, string | undefined>, fn: () => Promise<void>): Promise<void> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  setEnv(vars);
  try {
    await fn();
  } finally {
    setEnv(saved);
  }
}

/** The shipped workflows.yaml, which the showcase, policy and LLM suites run on the sandboxes. */
export const SHIPPED_CONFIG = join(import.meta.dirname, '../../workflows.yaml');

/**
 * A `test` whose context holds `app` for one fixed config (plus every service of `test`): the setup and
 * teardown each suite used to copy into beforeAll/afterAll. Tests are written `it('…', async ({ app }) => …)`.
 */
export function appTest(opts: AppFixtureOptions) {
  const open = (redis: TestRedis, use: (app: App) => Promise<void>) => withEnv(opts.env ?? {}, () => openApp(redis, opts, use));
  // vitest starts what a fixture's first parameter names, so the emulators come up before the config loads
  const app: FileFixture<App, { redis: TestRedis; sandboxes: Sandboxes }> = opts.sandboxes
    ? [async ({ redis, sandboxes: _first }, use) => open(redis, use), { scope: 'file' }]
    : [async ({ redis }, use) => open(redis, use), { scope: 'file' }];
  return test.extend<{ app: App }>({ app }).extend<{ configFile: string; processes: WorkerProcesses; server: RunningServer }>({
    configFile: [async ({ app }, use) => use(app.config.file), { scope: 'file' }],
    processes: workerProcesses,
    server: [async ({ app }, use) => openServer(app, opts.server ?? {}, use), { scope: 'file' }],
  });
}

/**
 * Hands `app` to `use` with its in-process workers started as `workers` says (false: none), and
 * closes it after: the end of openApp, and of openClusterApp (./cluster.ts).
 */
export async function useApp(
  app: App,
  workers: WorkerOptions | false | undefined,
  use: (app: App) => Promise<void>,
): Promise<void> {
  try {
    if (workers !== false) await app.startWorkers(workers ?? {});
    await use(app);
  } finally {
    await app.close();
  }
}

/** Hands back what it is given, to be closed when the fixture that handed it out is torn down. */
export type Keep = <C extends { close(): Promise<unknown> }>(thing: C) => C;

/**
 * The body of a fixture that closes what a test (or a file) opens: `keep: async ({}, use) => keeping(use)`.
 * Closed in reverse order; a close that fails (the test closed it itself) is ignored.
 */
export async function keeping(use: (keep: Keep) => Promise<void>): Promise<void> {
  const kept: { close(): Promise<unknown> }[] = [];
  try {
    await use((thing) => {
      kept.push(thing);
      return thing;
    });
  } finally {
    for (const thing of kept.reverse()) await thing.close().catch(() => {});
  }
}
