import { Command, Option } from 'commander';
import { App } from './app.ts';
import type { ConnectorPool } from './connectors/pool.ts';
import { formatConfirmation, green, red, yellow } from './cli/format.ts';
import { overrideWarnings } from './connectors/overrides.ts';
import type { ToolInfo } from './connectors/types.ts';
import type { ExplainOptions } from './cli/policy.ts';
import { runCommand } from './cli/run.ts';
import { confirmationPolicyLines } from './policy/words.ts';
import { ConfigError, InterlockError, errorMessage, formatIssue } from './errors.ts';
import { createLogger } from './logger.ts';
import { redisUnavailable } from './runs/redis-unavailable.ts';
import { findConfigFile, loadConfig } from './workflows/load.ts';
import type { InterlockConfig } from './workflows/types.ts';

const program = new Command('interlock')
  .description('Durable workflows of MCP tool calls, with a confirmation before every write')
  .option('-c, --config <file>', 'workflows.yaml (default: $INTERLOCK_CONFIG or ./workflows.yaml)')
  .showHelpAfterError();

const configFile = (): string => (program.opts().config as string | undefined) ?? findConfigFile();
const app = (): Promise<App> =>
  App.create({
    configFile: configFile(),
    logger: createLogger({ level: process.env.LOG_LEVEL ?? 'warn' }),
    onNotice: (m) => console.error(m),
  });

async function withApp<T>(fn: (a: App) => Promise<T>): Promise<T> {
  const a = await app();
  try {
    return await fn(a);
  } finally {
    await a.close();
  }
}

/** A connector pool for one command, logging nothing, closed when the command is done. */
async function withPool<T>(config: InterlockConfig, fn: (pool: ConnectorPool) => Promise<T>): Promise<T> {
  const { ConnectorPool } = await import('./connectors/pool.ts');
  const pool = new ConnectorPool(config.connectors, { logger: createLogger({ level: 'silent' }) });
  try {
    return await fn(pool);
  } finally {
    await pool.close();
  }
}

program
  .command('validate [file]')
  .description(
    'check workflows.yaml: structure, templates, overrides, and (unless --offline) tools against the connectors; warns about overrides that loosen annotations',
  )
  .option('--offline', 'skip checks that need to connect to the connectors')
  .action(async (file: string | undefined, o: { offline?: boolean }) => {
    const path = file ?? configFile();
    const config = loadConfig(path);
    const listed: Record<string, ToolInfo[] | undefined> = {};
    if (!o.offline) {
      const { validateAgainstCatalog } = await import('./workflows/validate.ts');
      await withPool(config, async (pool) => {
        const unreachable = new Set<string>();
        const issues = await validateAgainstCatalog(config, async (connector, tool) => {
          if (unreachable.has(connector)) return undefined;
          if (config.connectors[connector]?.auth.type === 'oauth') {
            // Its login lives in Redis, which validate does not need; `connectors tools` uses it.
            unreachable.add(connector);
            console.error(
              yellow(
                `warning: connector '${connector}' uses OAuth, so its tools are not checked here; \`interlock connectors tools ${connector}\` lists them with its login`,
              ),
            );
            return undefined;
          }
          try {
            return (listed[connector] = await pool.listTools(connector)).find((t) => t.name === tool);
          } catch (err) {
            unreachable.add(connector);
            console.error(red(`warning: could not list tools of connector '${connector}': ${errorMessage(err)}`));
            return undefined;
          }
        });
        // Steps on a connector that did not answer were not checked (the warning said so); what the
        // catalog check says about them is not a finding.
        const unchecked = Object.values(config.workflows)
          .flatMap((wf) =>
            wf.steps.flatMap((st, i) =>
              st.kind === 'call' && unreachable.has(st.connector) ? [`workflows.${wf.name}.steps[${i}].`] : [],
            ),
          )
          .concat([...unreachable].map((id) => `connectors.${id}.`));
        const real = issues.filter((i) => !unchecked.some((prefix) => i.path.startsWith(prefix)));
        if (real.length) throw new ConfigError(real);
        // Connectors no step calls are listed only to check their overrides.
        for (const c of Object.values(config.connectors)) {
          if (c.tools.overrides && !listed[c.id] && !unreachable.has(c.id))
            // One that does not answer keeps its overrides unchecked, as its steps are (see the warning above).
            listed[c.id] = await pool.listTools(c.id).catch(() => undefined);
        }
      });
    }
    for (const w of overrideWarnings(config.connectors, listed))
      console.error(yellow(`${config.file}:${w.pos.line}:${w.pos.col}: warning: ${w.message}`));
    const n = Object.keys(config.workflows).length;
    console.log(
      green(`✓ ${path}: ${n} workflow${n === 1 ? '' : 's'}, ${Object.keys(config.connectors).length} connectors — valid`),
    );
  });

program
  .command('run <workflow>')
  .description('start a run; with --wait follow it and show confirmations as they come')
  .option(
    '-i, --input <key=value>',
    'an input (repeatable); JSON values are parsed',
    (v: string, acc: string[]) => [...acc, v],
    [] as string[],
  )
  .option('--inputs-json <json>', 'all inputs as one JSON object')
  .option('-s, --session <id>', 'the session (conversation) this run belongs to')
  .option('-w, --wait', 'follow the run until it ends or pauses')
  .option('--timeout <seconds>', 'stop waiting after this long')
  .option('--no-interactive', 'never prompt, even in a terminal')
  .action(
    async (
      workflow: string,
      o: { input: string[]; inputsJson?: string; session?: string; wait?: boolean; timeout?: string; interactive: boolean },
    ) => {
      await withApp(async (a) => {
        const run = await runCommand(a, workflow, o);
        if (o.wait && !['succeeded', 'awaiting_confirmation'].includes(run.status)) process.exitCode = 1;
      });
    },
  );

program
  .command('approve <confirmationId>')
  .description('approve a pending write (bound to the payload shown)')
  .option('--remember', 'also approve this exact payload again in this session')
  .option(
    '--fields <a,b>',
    'remember for this tool with these fields held to what you approve (amounts: up to it; others: equal)',
  )
  .option('--for <duration>', 'the remembered approval ends after this long (e.g. 10m, 1h)')
  .option('--uses <n>', 'the remembered approval lets at most n writes through')
  .option('--hash <argumentsHash>', 'the argumentsHash you reviewed (default: the one shown now)')
  .option('--as <identity>', 'the approver this is, for a rule that needs approvers from a group (default: cli)')
  .action(
    async (cid: string, o: { remember?: boolean; fields?: string; for?: string; uses?: string; hash?: string; as?: string }) => {
      const { rememberFromFlags } = await import('./grants/remember.ts');
      const { describeGrant } = await import('./grants/grant.ts');
      const remember = rememberFromFlags(o);
      await withApp(async (a) => {
        const conf = await a.store.requireConfirmation(cid);
        console.log(formatConfirmation(conf));
        const decided = await a.engine.approve(cid, o.hash ?? conf.argumentsHash, {
          by: o.as ?? 'cli',
          channel: 'cli',
          ...(remember ? { remember } : {}),
        });
        if (decided.status === 'pending') {
          console.log(yellow(`approval recorded; ${confirmationPolicyLines(decided).at(-1) ?? 'more approvals are needed'}`));
          return;
        }
        const g = decided.grantMade ? await a.store.grants.get(decided.grantMade) : undefined;
        console.log(green(`approved; run ${conf.runId} continues`));
        if (g) console.log(`remembered as ${g.id}: ${describeGrant(g, Date.now())}`);
      });
    },
  );

const policy = program.command('policy').description('policy.rules: which rule decides a call, and why');
policy
  .command('explain [confirmationId]')
  .description('say which rule decides a pending confirmation, or a call given by --tool and --args, and why')
  .option('--tool <connector.tool>', 'the tool of a call to explain (without a confirmation id)')
  .option('--args <json>', 'its arguments, as JSON')
  .option('--workflow <name>', 'the workflow it runs in')
  .option('--steps <json>', 'earlier steps\' outputs, e.g. {"charge":{"output":{"amount_refundable":5000,"currency":"usd"}}}')
  .option('--json', 'print the verdict and the trace as JSON')
  .action(async (cid: string | undefined, o: ExplainOptions) => {
    const { explain, contextFromConfirmation, contextFromOptions } = await import('./cli/policy.ts');
    if (cid) {
      await withApp(async (a) => console.log(await explain(a.config.policy, await contextFromConfirmation(a, cid), !!o.json)));
      return;
    }
    if (!o.tool) throw new InterlockError('BAD_REQUEST', 'give a confirmation id, or --tool and --args');
    console.log(await explain(loadConfig(configFile()).policy, contextFromOptions(o), !!o.json));
  });

program
  .command('audit')
  .description('every decision on a write (person, rule, grant, plan) as JSON lines, oldest first')
  .option('--since <when>', 'ms since the epoch, an ISO time, or an entry id to continue after')
  .option('--run <runId>', 'only this run')
  .option('--limit <n>', 'at most this many lines', '10000')
  .action(async (o: { since?: string; run?: string; limit: string }) => {
    const { parseSince } = await import('./runs/audit.ts');
    await withApp(async (a) => {
      const since = parseSince(o.since);
      const res = await a.store.audit.list({
        ...(since !== undefined ? { since } : {}),
        ...(o.run ? { run: o.run } : {}),
        limit: Number(o.limit),
      });
      for (const e of res.entries) process.stdout.write(`${JSON.stringify(e)}\n`);
    });
  });

program
  .command('deny <confirmationId>')
  .description('deny a pending write; the run ends denied and the tool is never called')
  .option('--remember', 'also deny this exact payload in this session')
  .option('--fields <a,b>', 'deny this tool in this session whenever these fields hold what was asked')
  .action(async (cid: string, o: { remember?: boolean; fields?: string }) => {
    const { rememberFromFlags } = await import('./grants/remember.ts');
    const remember = rememberFromFlags(o);
    await withApp(async (a) => {
      const conf = await a.engine.deny(cid, {
        by: 'cli',
        channel: 'cli',
        ...(remember ? { remember } : {}),
      });
      console.log(
        `denied ${conf.connector}.${conf.tool}; run ${conf.runId} ended denied${conf.grantMade ? ` (remembered as ${conf.grantMade})` : ''}`,
      );
    });
  });

const grants = program.command('grants').description('remembered decisions: list them, revoke one');
grants
  .command('list', { isDefault: true })
  .description('the grants that can still let a write through, with what they cover in words')
  .option('--all', 'also revoked, expired and used-up grants')
  .option('-s, --session <id>', 'only this session')
  .action(async (o: { all?: boolean; session?: string }) => {
    const { listGrants } = await import('./cli/grants.ts');
    await withApp((a) => listGrants(a, o));
  });
grants
  .command('revoke <id>')
  .description('revoke a grant: from now on it lets nothing through')
  .action(async (id: string) => {
    const { revokeGrant } = await import('./cli/grants.ts');
    await withApp((a) => revokeGrant(a, id));
  });

program
  .command('plan <runId>')
  .description('show every write a run will reach, with what is known; --approve approves it once')
  .option('--approve [planHash]', 'approve the plan (bound to the planHash shown; default: the one shown now)')
  .action(async (runId: string, o: { approve?: string | boolean }) => {
    const { showPlan } = await import('./cli/grants.ts');
    await withApp((a) => showPlan(a, runId, o));
  });

program
  .command('resolve <runId> <stepId>')
  .description('resolve a step in doubt (a write that may or may not have happened): resend it, mark it done, or fail the run')
  .option('--retry', 'send the write again, with the same idempotency key')
  .option('--done-output <json>', 'the write happened; continue the run with this JSON as the step output')
  .option('--fail', 'take the write as not done and fail the run')
  .option('--reason <text>', 'why, recorded in the run events')
  .action(async (runId: string, stepId: string, o: { retry?: boolean; doneOutput?: string; fail?: boolean; reason?: string }) => {
    await withApp(async (a) => {
      const { resolutionFromFlags } = await import('./cli/resolve.ts');
      const run = await a.engine.resolve(runId, stepId, resolutionFromFlags(o));
      console.log(green(`resolved ${stepId}; run ${run.id} is ${run.status}`));
    });
  });

program
  .command('doctor')
  .description(
    'list runs that are stuck (a step with no job and nothing ready, a confirmation missing from the pending list or past its deadline, ' +
      'a write in doubt too long), each with why; exits 1 while any is left',
  )
  .option(
    '--repair',
    'fix what can be fixed safely: enqueue a ready step again, re-index, expire; a step in doubt is left to a person',
  )
  .option('--json', 'print the findings as JSON')
  .action(async (o: { repair?: boolean; json?: boolean }) => {
    const { doctorCommand } = await import('./cli/doctor.ts');
    await withApp(async (a) => {
      process.exitCode = await doctorCommand(a, o);
    });
  });

const WATCH_HELP = 'reload the config when its file changes (also INTERLOCK_WATCH_CONFIG=1); SIGHUP always reloads it';

program
  .command('worker')
  .description(
    'process step jobs for every connector (run as many as you like, on any machine, against one Redis); SIGHUP reloads the config',
  )
  .option('--watch-config', WATCH_HELP)
  .action(async (o: { watchConfig?: boolean }) => {
    const a = await app();
    await a.startWorkers();
    const { reloadOnSignal } = await import('./config/reload-signal.ts');
    reloadOnSignal(a, { say: (m) => console.error(m), ...(o.watchConfig ? { watch: true } : {}) });
    console.error(`worker ready on ${a.redis.describe} — queues: ${Object.keys(a.config.connectors).join(', ')}`);
    let stopping = false;
    const stop = async (sig: string) => {
      if (stopping) return;
      stopping = true;
      const { armExitDeadline } = await import('./worker/worker.ts');
      armExitDeadline((m) => console.error(m));
      console.error(`${sig}: finishing in-flight steps…`);
      try {
        await a.close();
      } catch (err) {
        console.error(`error while stopping: ${errorMessage(err)}`);
        process.exit(1);
      }
      process.exit(0);
    };
    process.once('SIGTERM', () => void stop('SIGTERM'));
    process.once('SIGINT', () => void stop('SIGINT'));
  });

const triggers = program.command('triggers').description('schedules and webhooks that start runs by themselves');
triggers
  .command('list', { isDefault: true })
  .description('every trigger: what starts it, paused or not, its next tick and what it last did')
  .action(async () => {
    const { listTriggers } = await import('./cli/triggers.ts');
    await withApp((a) => listTriggers(a));
  });
for (const [name, desc] of [
  ['pause', 'pause a trigger: a schedule stops ticking, a webhook answers 503 so its sender retries later'],
  ['resume', 'resume a paused trigger'],
] as const) {
  triggers
    .command(`${name} <id>`)
    .description(desc)
    .action(async (id: string) => {
      const { pauseTrigger, resumeTrigger } = await import('./cli/triggers.ts');
      await withApp((a) => (name === 'pause' ? pauseTrigger(a, id) : resumeTrigger(a, id)));
    });
}

const connectors = program.command('connectors').description('inspect the MCP servers Interlock is a client of');
/**
 * Runs `fn` over the connectors: through the app (Redis: OAuth tokens and logins) when `ids`
 * hold an OAuth connector, else over a pool of its own that needs no Redis.
 */
async function withConnectors(
  ids: string[] | undefined,
  fn: (v: import('./cli/connectors.ts').ConnectorsView) => Promise<void>,
): Promise<void> {
  const { needsLogins, viewOfApp } = await import('./cli/connectors.ts');
  const config = loadConfig(configFile());
  const chosen = Object.values(config.connectors).filter((c) => !ids || ids.includes(c.id));
  if (needsLogins(chosen)) return withApp((a) => fn(viewOfApp(a)));
  return withPool(config, (pool) => fn({ connectors: config.connectors, pool }));
}

connectors
  .command('list', { isDefault: true })
  .description("connectors and their state; an OAuth connector's login (who, scopes, expiry; never a token)")
  .action(async () => {
    const { listConnectors } = await import('./cli/connectors.ts');
    await withConnectors(undefined, (v) => listConnectors(v));
  });
connectors
  .command('login <id>')
  .description(
    'log Interlock in to an OAuth connector: prints the authorization URL and waits for the callback; paused runs continue',
  )
  .action(async (id: string) => {
    const { loginCommand } = await import('./cli/login.ts');
    await withApp(async (a) => {
      process.exitCode = await loginCommand(a, id);
    });
  });
connectors
  .command('changes')
  .description('tools whose definition changed since it was pinned, with the diff')
  .action(async () => {
    const { listChanges } = await import('./cli/tools.ts');
    await withApp((a) => listChanges(a));
  });
connectors
  .command('approve-tool <id> <tool>')
  .description('review a changed tool (the diff is shown) and accept its new definition; runs paused at it continue')
  .option('--hash <hash>', 'the definition hash you reviewed (default: the one shown now)')
  .action(async (id: string, tool: string, o: { hash?: string }) => {
    const { approveTool } = await import('./cli/tools.ts');
    await withApp((a) => approveTool(a, id, tool, o.hash));
  });
for (const [name, desc] of [
  ['tools', 'tools of one connector, with their write classification'],
  ['refresh', 'list the tools again, bypassing the cache'],
] as const) {
  connectors
    .command(`${name} <id>`)
    .description(desc)
    .action(async (id: string) => {
      const { listConnectorTools } = await import('./cli/connectors.ts');
      await withConnectors([id], (v) => listConnectorTools(v, id));
    });
}

program
  .command('connector <name>')
  .description('run a built-in connector as an MCP server (stripe | slack)')
  .addOption(new Option('--http <port>', 'serve streamable HTTP on this port instead of stdio'))
  .option('--host <host>', 'HTTP host', '127.0.0.1')
  .action(async (name: string, o: { http?: string; host: string }) => {
    const opts = o.http ? { transport: 'http' as const, port: Number(o.http), host: o.host } : { transport: 'stdio' as const };
    if (name === 'stripe') {
      const { runStripeConnector } = await import('./connectors/stripe/main.ts');
      const h = await runStripeConnector(opts);
      if (h.url) console.error(`stripe connector listening on ${h.url}`);
    } else if (name === 'slack') {
      const { runSlackConnector } = await import('./connectors/slack/main.ts');
      const h = await runSlackConnector(opts);
      if (h.url) console.error(`slack connector listening on ${h.url}`);
    } else {
      throw new InterlockError('CONNECTOR_NOT_FOUND', `No built-in connector '${name}' (built-in: stripe, slack)`);
    }
  });

program
  .command('sandbox')
  .description('run the local Stripe and Slack API emulators on fixed ports')
  .option('--stripe-port <port>', 'Stripe emulator port', '12111')
  .option('--slack-port <port>', 'Slack emulator port', '12112')
  .option('--openai-port <port>', 'also run a scripted OpenAI-compatible endpoint (for llm steps and chat without an account)')
  .option(
    '--slack-interactivity <url>',
    'where the Slack emulator sends button clicks (e.g. http://127.0.0.1:3000/slack/interactions), signed with SLACK_SIGNING_SECRET',
  )
  .action(async (o: { stripePort: string; slackPort: string; openaiPort?: string; slackInteractivity?: string }) => {
    const secret = process.env.SLACK_SIGNING_SECRET;
    if (o.slackInteractivity && !secret) {
      console.error('--slack-interactivity needs SLACK_SIGNING_SECRET set: the emulator signs clicks with it, as Slack does');
      process.exitCode = 2;
      return;
    }
    const { startSandboxes } = await import('./sandbox/index.ts');
    const s = await startSandboxes({
      stripePort: Number(o.stripePort),
      slackPort: Number(o.slackPort),
      ...(o.openaiPort ? { openaiPort: Number(o.openaiPort) } : {}),
    });
    if (o.slackInteractivity && secret) {
      s.slack.setInteractivity({ url: o.slackInteractivity, signingSecret: secret });
      console.log(
        `Slack clicks go to ${o.slackInteractivity}: POST ${s.slack.url.replace(/api\/$/, '')}_sandbox/click {channel, ts, user, action_id}`,
      );
    }
    console.log(`Stripe sandbox: ${s.stripe.url}  (state: ${s.stripe.url}/_sandbox/state)`);
    console.log(`Slack sandbox:  ${s.slack.url}  (state: ${s.slack.url.replace(/api\/$/, '')}_sandbox/state)`);
    if (s.openai) console.log(`OpenAI sandbox: ${s.openai.url}  (OPENAI_BASE_URL=${s.openai.url})`);
  });

program
  .command('hash-password')
  .description('read a password on stdin and print its scrypt hash, for password_hash: in server.auth.oauth.builtin.users')
  .action(async () => {
    const { hashPassword } = await import('./server/oauth/builtin/users.ts');
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    const password = Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
    if (password.length < 8) throw new InterlockError('BAD_REQUEST', 'Give a password of at least 8 characters on stdin');
    console.log(await hashPassword(password));
  });

program
  .command('demo')
  .description('refund → notify, end to end, on the built-in sandboxes and a private Redis')
  .option('--keep-running', 'keep the server, workers and sandboxes up afterwards')
  .action(async (o: { keepRunning?: boolean }) => {
    const { runDemo } = await import('./cli/demo.ts');
    process.exitCode = await runDemo({ keepRunning: !!o.keepRunning });
  });

program
  .command('serve')
  .description('HTTP API, MCP endpoint, dashboards and workers in one process; SIGHUP or POST /api/v1/reload reloads the config')
  .option('--watch-config', WATCH_HELP)
  .action(async (o: { watchConfig?: boolean }) => {
    const { serveCommand } = await import('./server/serve.ts');
    await serveCommand(o.watchConfig ? { watchConfig: true } : {});
  });

program
  .command('mcp')
  .description('the Interlock MCP facade over stdio, for desktop MCP clients; SIGHUP reloads the config')
  .option('--watch-config', WATCH_HELP)
  .action(async (o: { watchConfig?: boolean }) => {
    const { mcpStdioCommand } = await import('./server/mcp-stdio.ts');
    await mcpStdioCommand(process.env, o.watchConfig ? { watchConfig: true } : {});
  });

program
  .command('chat')
  .description('talk to a model whose tools are the workflows; every write is shown here and waits for your approval')
  .option('-m, --model <model>', 'the model (default: llm.model in workflows.yaml)')
  .action(async (o: { model?: string }) => {
    const { chatCommand } = await import('./cli/chat.ts');
    await withApp((a) => chatCommand(a, o.model ? { model: o.model } : {}));
  });

program.parseAsync(process.argv).catch((caught: unknown) => {
  const err = redisUnavailable(caught) ?? caught;
  if (err instanceof ConfigError) {
    for (const i of err.issues) console.error(red(formatIssue(i)));
    console.error(red(`${err.issues.length} problem${err.issues.length === 1 ? '' : 's'} found`));
  } else if (err instanceof InterlockError) {
    console.error(red(`error (${err.code}): ${err.message}`));
  } else {
    console.error(red(`error: ${errorMessage(err)}`));
  }
  process.exit(1);
});
