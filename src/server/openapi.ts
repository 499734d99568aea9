/**
 * The OpenAPI 3.1 description of the HTTP API, served at /api/v1/openapi.json. A test compares
 * its paths with the routes the server registers, both ways, so the two cannot drift apart.
 */
type Json = Record<string, unknown>;

/** The `remember` field of a decision body (see grants/remember.ts). */
const REMEMBER: Json = {
  description:
    '"session": remember this exact payload in the run\'s session (as before scopes). An object chooses the scope: "payload", or "arguments" with `fields` held to what is approved (amounts: up to it; others: equal), for `ttl` ("10m", or ms) and at most `uses` writes.',
  oneOf: [
    { const: 'session' },
    {
      type: 'object',
      additionalProperties: false,
      required: ['scope'],
      properties: {
        scope: { enum: ['payload', 'arguments'] },
        fields: { type: 'array', items: { type: 'string' } },
        ttl: { oneOf: [{ type: 'string' }, { type: 'integer' }] },
        uses: { type: 'integer', minimum: 1 },
      },
    },
  ],
};

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const jsonBody = (schema: Json, description: string): Json => ({ description, content: { 'application/json': { schema } } });
const err = (description: string): Json => jsonBody(ref('Error'), description);
const pathParam = (name: string, description: string): Json => ({
  name,
  in: 'path',
  required: true,
  schema: { type: 'string' },
  description,
});
const page = [
  { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 } },
  { name: 'cursor', in: 'query', schema: { type: 'string' }, description: 'the `nextCursor` of the previous page' },
];
const listOf = (key: string, item: string): Json => ({
  type: 'object',
  required: [key],
  properties: {
    [key]: { type: 'array', items: ref(item) },
    nextCursor: { type: 'string', description: 'absent on the last page' },
  },
});
const REDIS_503 =
  'REDIS_UNAVAILABLE: Redis cannot be reached; nothing of the request was carried out, now or later. Retry after `Retry-After` seconds';
const unavailable = (description = REDIS_503): Json => ({
  ...err(description),
  headers: { 'Retry-After': { schema: { type: 'integer' }, description: 'seconds to wait before retrying' } },
});
/** Every /api/v1 route but this document answers 503 while Redis is unreachable. */
const common = {
  400: err('malformed request: bad JSON, JSON nested deeper than 64 levels, unknown fields, bad parameters'),
  401: err('no or unknown token'),
  403: err(
    'the token lacks the scope, the Host/Origin is not allowed, or a cookie-authenticated change came from another origin or without a JSON body',
  ),
  503: unavailable(),
};
const scoped = (scope: string): Json => ({ security: [{ bearer: [scope] }, { session: [scope] }], 'x-scope': scope });

const RUN_STATUS = [
  'queued',
  'running',
  'awaiting_confirmation',
  'needs_attention',
  'succeeded',
  'failed',
  'denied',
  'cancelled',
];
const STEP_STATUS = ['pending', 'running', 'awaiting_confirmation', 'in_doubt', 'succeeded', 'failed', 'skipped', 'denied'];
const CONF_STATUS = ['pending', 'approved', 'denied', 'expired', 'cancelled'];

const nameDiff: Json = {
  type: 'object',
  required: ['added', 'removed', 'changed'],
  properties: {
    added: { type: 'array', items: { type: 'string' } },
    removed: { type: 'array', items: { type: 'string' } },
    changed: { type: 'array', items: { type: 'string' } },
  },
};

const schemas: Json = {
  Trigger: {
    type: 'object',
    description: 'A schedule or webhook from `triggers:` of a workflow (docs/triggers.md)',
    required: ['id', 'workflow', 'name', 'kind', 'principal', 'paused'],
    properties: {
      id: { type: 'string', description: '`<workflow>.<name>`' },
      workflow: { type: 'string' },
      name: { type: 'string' },
      kind: { type: 'string', enum: ['schedule', 'webhook'] },
      principal: {
        type: 'string',
        description: 'the `owner` of the runs it starts: `schedule:<id>` or `webhook:<id>`, never a person',
      },
      cron: { type: 'string' },
      everyMs: { type: 'integer' },
      timezone: { type: 'string' },
      missed: { type: 'string', enum: ['run_once', 'skip'] },
      path: { type: 'string', description: 'a webhook: `/hooks/<hook>`' },
      webhook: { type: 'string', enum: ['stripe', 'hmac'] },
      events: { type: 'array', items: { type: 'string' } },
      paused: { type: 'boolean' },
      pausedBy: { type: 'string' },
      pausedAt: { type: 'integer' },
      nextTick: { type: 'integer', description: 'a schedule that is not paused: when its next tick is due (ms since the epoch)' },
      last: {
        type: 'object',
        required: ['at', 'outcome'],
        properties: {
          at: { type: 'integer' },
          outcome: { type: 'string', enum: ['started', 'replayed', 'skipped', 'failed'] },
          runId: { type: 'string' },
          reason: { type: 'string' },
        },
      },
    },
  },
  ConfigReload: {
    type: 'object',
    required: ['file', 'changes'],
    properties: {
      file: { type: 'string' },
      changes: {
        type: 'object',
        required: ['connectors', 'workflows', 'policy', 'tokens', 'llm'],
        properties: {
          connectors: nameDiff,
          workflows: nameDiff,
          policy: { type: 'boolean' },
          tokens: { type: 'boolean' },
          llm: { type: 'boolean' },
        },
      },
    },
  },
  Error: {
    type: 'object',
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message'],
        properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} },
      },
    },
  },
  ErrorInfo: {
    type: 'object',
    required: ['code', 'message'],
    properties: { code: { type: 'string' }, message: { type: 'string' } },
  },
  Step: {
    type: 'object',
    required: ['id', 'status', 'attempts'],
    properties: {
      id: { type: 'string' },
      status: { enum: STEP_STATUS },
      attempts: { type: 'integer' },
      arguments: { type: 'object' },
      argumentsHash: { type: 'string' },
      output: {},
      content: {
        type: 'array',
        description: "the tool's raw content blocks, when output is the JSON read out of its one text block",
      },
      error: ref('ErrorInfo'),
      startedAt: { type: 'integer' },
      finishedAt: { type: 'integer' },
      durationMs: { type: 'integer' },
      confirmationId: { type: 'string' },
      approvedHash: { type: 'string' },
      note: { type: 'string' },
      items: {
        type: 'object',
        description:
          'a foreach or parallel step: each call inside it by key (`3`, `3.<id>`, `<branch>.<id>`), with status, arguments and output',
        additionalProperties: { type: 'object' },
      },
      itemCount: { type: 'integer', description: 'a foreach step: how many items its list held' },
      wakeAt: {
        type: 'integer',
        description: 'a sleep, or a workflow step waiting for its child: when it is due (ms since epoch)',
      },
      child: { type: 'string', description: 'a workflow step: the id of the child run it started' },
    },
  },
  RunLink: {
    type: 'object',
    required: ['runId', 'stepId'],
    properties: { runId: { type: 'string' }, stepId: { type: 'string' } },
  },
  Run: {
    type: 'object',
    required: ['id', 'workflow', 'version', 'session', 'status', 'inputs', 'createdAt', 'updatedAt', 'steps'],
    properties: {
      id: { type: 'string' },
      workflow: { type: 'string' },
      version: { type: 'string' },
      session: {
        type: 'string',
        description:
          "the Interlock session whose remembered decisions apply (`run-<id>`, `mcp-<id>`, `chat-<id>`); never a caller's text",
      },
      owner: { type: 'string', description: 'the token name (or OAuth subject) that started the run' },
      label: {
        type: 'string',
        description: 'the `session` the caller sent when it was not one Interlock gave this token: it only groups runs',
      },
      status: { enum: RUN_STATUS },
      inputs: { type: 'object' },
      definition: { type: 'object', description: 'the workflow definition the run pinned' },
      createdAt: { type: 'integer', description: 'ms since epoch' },
      updatedAt: { type: 'integer' },
      error: ref('ErrorInfo'),
      steps: { type: 'object', additionalProperties: ref('Step') },
      parent: { ...ref('RunLink'), description: 'the run and `workflow:` step that started this run as its child' },
      children: {
        type: 'array',
        items: ref('RunLink'),
        description: 'GET /api/v1/runs/{id} only: the child runs its `workflow:` steps started',
      },
    },
  },
  Confirmation: {
    type: 'object',
    required: ['id', 'runId', 'stepId', 'connector', 'tool', 'arguments', 'argumentsHash', 'annotations', 'status'],
    properties: {
      id: { type: 'string' },
      runId: { type: 'string' },
      stepId: { type: 'string' },
      workflow: { type: 'string' },
      session: { type: 'string' },
      owner: { type: 'string', description: 'who started the run' },
      connector: { type: 'string' },
      tool: { type: 'string' },
      title: { type: 'string' },
      description: { type: 'string' },
      annotations: { type: 'object' },
      arguments: { type: 'object' },
      argumentsHash: { type: 'string' },
      outputSchema: { type: 'object' },
      loosened: {
        type: 'array',
        items: { type: 'string' },
        description: 'annotations tools.overrides loosened; the server does not declare them',
      },
      serverAnnotations: { type: 'object', description: 'what the server declared, when annotations were loosened' },
      reason: { enum: ['write', 'always'] },
      batch: {
        type: 'object',
        properties: { items: { type: 'integer' } },
        description:
          "a foreach's writes asked together: arguments.items lists each item's key, connector, tool, arguments and argumentsHash; argumentsHash is the batch hash over them",
      },
      status: { enum: CONF_STATUS },
      createdAt: { type: 'integer' },
      expiresAt: { type: 'integer' },
      decidedAt: { type: 'integer' },
      decidedBy: { type: 'string', description: 'the principal (token name or OAuth subject) that decided' },
      channel: {
        enum: ['api', 'ui', 'cli', 'chat', 'mcp-elicitation', 'mcp-url', 'slack', 'system', 'grant', 'plan'],
        description:
          'where the decision was made: by a person (api, ui, cli, chat, mcp-elicitation, mcp-url, slack), by Interlock (system), by a remembered grant, or by an approved plan',
      },
      remember: { const: 'session' },
      grantId: { type: 'string', description: 'channel grant: the grant that approved it' },
      planHash: { type: 'string', description: 'channel plan (or a person approving a plan): the plan that covered it' },
      grantMade: { type: 'string', description: 'the grant this decision left, when the person asked to remember it' },
      currency: { type: 'string', description: "the run's currency, for showing amounts (minor units) as e.g. 15.00 USD" },
      policy: {
        type: 'object',
        description:
          'what policy.rules say about the call: kind default | rule, the rule, its effect, a quorum (require: {approvers, group}) and the money it moves ({amount, currency, text})',
      },
      approvals: {
        type: 'array',
        description: 'approvals so far toward a quorum, oldest first',
        items: { type: 'object', properties: { by: { type: 'string' }, channel: { type: 'string' }, at: { type: 'integer' } } },
      },
    },
  },
  Grant: {
    type: 'object',
    required: ['id', 'session', 'connector', 'tool', 'decision', 'scope', 'at', 'uses', 'active', 'words'],
    properties: {
      id: { type: 'string' },
      session: { type: 'string' },
      connector: { type: 'string' },
      tool: { type: 'string' },
      decision: { enum: ['approve', 'deny'] },
      scope: {
        enum: ['payload', 'arguments', 'tool'],
        description:
          'payload: the exact arguments (argumentsHash); arguments: the constraints; tool: any call (grants from before scopes, and remembered denies)',
      },
      argumentsHash: { type: 'string' },
      constraints: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            field: { type: 'string' },
            op: { enum: ['eq', 'lte'] },
            value: {},
            max: { type: 'number' },
            currency: { type: 'string' },
          },
        },
      },
      by: { type: 'string' },
      owner: { type: 'string' },
      channel: { type: 'string' },
      at: { type: 'integer' },
      confirmationId: { type: 'string' },
      expiresAt: { type: 'integer' },
      maxUses: { type: 'integer' },
      uses: { type: 'integer' },
      revokedAt: { type: 'integer' },
      revokedBy: { type: 'string' },
      active: { type: 'boolean', description: 'it can still let a write through' },
      words: { type: 'string', description: 'what it covers and for how long, in words' },
    },
  },
  Workflow: {
    type: 'object',
    required: ['name', 'description', 'version', 'inputs', 'steps'],
    properties: {
      name: { type: 'string' },
      description: { type: 'string' },
      version: { type: 'string' },
      expose: { type: 'boolean' },
      inputs: { type: 'object', description: 'JSON Schema of the inputs' },
      steps: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            call: { type: 'string' },
            confirm: { enum: ['auto', 'always', 'never'] },
            if: { type: 'string' },
          },
        },
      },
    },
  },
  Connector: {
    type: 'object',
    required: ['id', 'transport', 'state'],
    properties: {
      id: { type: 'string' },
      transport: { enum: ['stdio', 'streamable-http', 'sse'] },
      url: { type: 'string' },
      command: { type: 'string' },
      auth: { enum: ['none', 'bearer'] },
      state: { type: 'string' },
      lastError: { type: 'string' },
      toolCount: { type: 'integer' },
    },
  },
  Tool: {
    type: 'object',
    required: ['connector', 'name', 'write', 'enabled'],
    properties: {
      connector: { type: 'string' },
      name: { type: 'string' },
      title: { type: 'string' },
      description: { type: 'string' },
      inputSchema: { type: 'object' },
      outputSchema: { type: 'object' },
      annotations: { type: 'object' },
      write: { type: 'boolean', description: 'no readOnlyHint: true' },
      idempotent: { type: 'boolean' },
      enabled: { type: 'boolean' },
      disabledReason: { type: 'string' },
      serverAnnotations: {
        type: 'object',
        description: 'what the server declared, present when tools.overrides changed annotations',
      },
      loosened: {
        type: 'array',
        items: { enum: ['readOnlyHint', 'idempotentHint', 'destructiveHint'] },
        description: 'hints tools.overrides set that the server does not declare and that relax a rule; part of the pin',
      },
      failWhen: {
        type: 'array',
        items: { type: 'string' },
        description: 'fail_when conditions of the tools.overrides that match',
      },
    },
  },
  Diagnosis: {
    type: 'object',
    required: ['checked', 'findings'],
    properties: {
      checked: { type: 'integer', description: 'runs examined' },
      findings: {
        type: 'array',
        items: {
          type: 'object',
          required: ['runId', 'kind', 'why'],
          properties: {
            runId: { type: 'string' },
            stepId: { type: 'string' },
            kind: { type: 'string' },
            why: { type: 'string' },
            repair: { type: 'string', description: 'what a repair does; absent when a person must decide' },
            repaired: { type: 'string', description: 'what the repair did' },
          },
        },
      },
    },
  },
  RunEvent: {
    type: 'object',
    required: ['id', 'type', 'at', 'runId', 'data'],
    properties: {
      id: { type: 'string', description: 'Redis stream id, also the SSE id' },
      type: { type: 'string' },
      at: { type: 'integer' },
      runId: { type: 'string' },
      stepId: { type: 'string' },
      data: { type: 'object' },
    },
  },
};

const paths: Json = {
  '/healthz': {
    get: {
      summary: 'Process is up',
      description: 'No token needed from loopback peers; `read` otherwise.',
      responses: { 200: { description: 'up' } },
    },
  },
  '/readyz': {
    get: {
      summary: 'Redis reachable, connector states',
      description: 'No token needed from loopback peers; `read` otherwise.',
      responses: { 200: { description: 'ready' }, 503: { description: 'Redis unreachable' } },
    },
  },
  '/metrics': {
    get: {
      summary: 'Prometheus metrics',
      description: 'No token needed from loopback peers; `read` otherwise.',
      responses: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } } },
    },
  },
  '/api/v1/openapi.json': { get: { summary: 'This document', responses: { 200: { description: 'OpenAPI 3.1' } } } },
  '/api/v1/workflows': {
    get: {
      summary: 'Workflows',
      ...scoped('read'),
      parameters: page,
      responses: { 200: jsonBody(listOf('workflows', 'Workflow'), 'a page'), ...common },
    },
  },
  '/api/v1/workflows/{name}/runs': {
    post: {
      summary: 'Start a run',
      ...scoped('trigger'),
      parameters: [
        pathParam('name', 'workflow name'),
        {
          name: 'Idempotency-Key',
          in: 'header',
          schema: { type: 'string', maxLength: 200 },
          description:
            'the same key returns the same run for 24 h, to the same caller with the same inputs and session; another body or caller is refused with 422',
        },
      ],
      requestBody: {
        content: {
          'application/json': {
            schema: {
              type: 'object',
              additionalProperties: false,
              properties: {
                inputs: { type: 'object' },
                session: {
                  type: 'string',
                  description:
                    "a `session` an earlier run of this same token answered with joins that session (and its remembered decisions); any other text is kept as the run's `label` only",
                },
              },
            },
          },
        },
      },
      responses: {
        202: {
          ...jsonBody(ref('Run'), 'created; Location names the run'),
          headers: { Location: { schema: { type: 'string' } } },
        },
        200: jsonBody(ref('Run'), 'the run created earlier with this Idempotency-Key'),
        ...common,
        400: err('INPUT_INVALID with details.issues naming each bad field, or a malformed body'),
        404: err('no such workflow'),
        413: err('body over 1 MB'),
        422: err('IDEMPOTENCY_KEY_REUSED: the key was used for another request (other inputs, session or caller)'),
      },
    },
  },
  '/api/v1/runs': {
    get: {
      summary: 'Runs, newest first',
      ...scoped('read'),
      parameters: [
        ...page,
        { name: 'status', in: 'query', schema: { enum: RUN_STATUS } },
        { name: 'workflow', in: 'query', schema: { type: 'string' } },
      ],
      responses: { 200: jsonBody(listOf('runs', 'Run'), 'a page'), ...common },
    },
  },
  '/api/v1/runs/{id}': {
    get: {
      summary: 'One run',
      ...scoped('read'),
      parameters: [pathParam('id', 'run id')],
      responses: { 200: jsonBody(ref('Run'), 'the run'), ...common, 404: err('no such run') },
    },
  },
  '/api/v1/runs/{id}/events': {
    get: {
      summary: "The run's events as Server-Sent Events",
      ...scoped('read'),
      description:
        'Each message has `id:` = the Redis stream id and `data:` = a RunEvent. Resume with `Last-Event-ID` (or `?lastEventId=`). ' +
        'After the last event of an ended run, a message `{"type":"stream.end"}` is sent and the stream closes.',
      parameters: [
        pathParam('id', 'run id'),
        { name: 'Last-Event-ID', in: 'header', schema: { type: 'string' } },
        { name: 'lastEventId', in: 'query', schema: { type: 'string' } },
      ],
      responses: {
        200: { description: 'event stream', content: { 'text/event-stream': { schema: ref('RunEvent') } } },
        ...common,
        404: err('no such run'),
        429: err('TOO_MANY_REQUESTS: this token already holds 100 open event streams'),
      },
    },
  },
  '/api/v1/runs/{id}/cancel': {
    post: {
      summary: 'Cancel a run',
      ...scoped('trigger'),
      parameters: [pathParam('id', 'run id')],
      responses: { 200: jsonBody(ref('Run'), 'cancelled'), ...common, 404: err('no such run'), 409: err('RUN_FINISHED') },
    },
  },
  '/api/v1/runs/{id}/steps/{stepId}/resolve': {
    post: {
      summary:
        'Settle a write left in_doubt: retry it (same idempotency key), mark it done with the output found, or fail the run',
      ...scoped('confirm'),
      description: 'Needs `confirm` (or `admin`): like approving, it decides whether a write happens.',
      parameters: [pathParam('id', 'run id'), pathParam('stepId', 'step id')],
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              additionalProperties: false,
              required: ['action'],
              properties: {
                action: { enum: ['retry', 'done', 'fail'] },
                output: { description: "required with 'done', refused otherwise" },
                reason: { type: 'string', maxLength: 2000 },
              },
            },
          },
        },
      },
      responses: {
        200: jsonBody(ref('Run'), 'the run after the decision'),
        ...common,
        404: err('no such run or step'),
        409: err('NOT_IN_DOUBT: the step is not waiting for this decision'),
      },
    },
  },
  '/api/v1/confirmations': {
    get: {
      summary: 'Confirmations (pending ones by deadline, soonest first; otherwise by run, newest run first)',
      ...scoped('read'),
      parameters: [...page, { name: 'status', in: 'query', schema: { enum: CONF_STATUS } }],
      responses: { 200: jsonBody(listOf('confirmations', 'Confirmation'), 'a page'), ...common },
    },
  },
  '/api/v1/confirmations/{id}': {
    get: {
      summary: 'One confirmation with its whole payload',
      ...scoped('read'),
      parameters: [pathParam('id', 'confirmation id')],
      responses: { 200: jsonBody(ref('Confirmation'), 'the confirmation'), ...common, 404: err('no such confirmation') },
    },
  },
  '/api/v1/grants': {
    get: {
      summary: 'Remembered decisions that can still let a write through (all=true: every one), with what they cover in words',
      ...scoped('read'),
      parameters: [
        { name: 'all', in: 'query', schema: { enum: ['true', 'false'] } },
        { name: 'session', in: 'query', schema: { type: 'string' } },
      ],
      responses: {
        200: jsonBody({ type: 'object', properties: { grants: { type: 'array', items: ref('Grant') } } }, 'grants, newest first'),
        ...common,
      },
    },
  },
  '/api/v1/grants/{id}': {
    get: {
      summary: 'One grant and the writes it let through (usedBy)',
      ...scoped('read'),
      parameters: [pathParam('id', 'grant id')],
      responses: { 200: jsonBody(ref('Grant'), 'the grant'), ...common, 404: err('no such grant') },
    },
    delete: {
      summary: 'Revoke a grant: from now on it lets nothing through',
      ...scoped('confirm'),
      description: 'Needs `confirm` or `admin`.',
      parameters: [pathParam('id', 'grant id')],
      responses: { 200: jsonBody(ref('Grant'), 'revoked'), ...common, 404: err('no such grant') },
    },
  },
  '/api/v1/runs/{id}/plan': {
    get: {
      summary:
        "Every write the run will reach, with what is known: values, and templates of earlier writes' outputs with their source",
      ...scoped('read'),
      parameters: [pathParam('id', 'run id')],
      responses: {
        200: jsonBody(
          { type: 'object', properties: { plan: { type: 'object' }, words: { type: 'string' }, approved: { type: 'object' } } },
          'the plan',
        ),
        ...common,
        404: err('no such run'),
      },
    },
  },
  '/api/v1/runs/{id}/plan/approve': {
    post: {
      summary:
        'Approve the plan once, bound to the planHash shown; the write the run waits at is approved with it when the plan covers it',
      ...scoped('confirm'),
      parameters: [pathParam('id', 'run id')],
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              additionalProperties: false,
              required: ['planHash'],
              properties: { planHash: { type: 'string' } },
            },
          },
        },
      },
      responses: {
        200: jsonBody(
          { type: 'object', properties: { planHash: { type: 'string' }, confirmation: ref('Confirmation') } },
          'approved',
        ),
        ...common,
        404: err('no such run'),
        409: err('HASH_MISMATCH (details.planHash is the current plan) or RUN_FINISHED'),
      },
    },
  },
  '/api/v1/confirmations/{id}/approve': {
    post: {
      summary: 'Approve the exact payload shown',
      ...scoped('confirm'),
      parameters: [pathParam('id', 'confirmation id')],
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              additionalProperties: false,
              required: ['argumentsHash'],
              properties: { argumentsHash: { type: 'string' }, remember: REMEMBER },
            },
          },
        },
      },
      responses: {
        200: jsonBody(ref('Confirmation'), 'approved; the run continues'),
        ...common,
        404: err('no such confirmation'),
        403: err('SELF_APPROVAL (the run was started by this principal) or NOT_IN_GROUP (a quorum needs its group)'),
        409: err(
          'HASH_MISMATCH (details.argumentsHash is the current one), ALREADY_DECIDED (the first decision stands) or ALREADY_APPROVED (a quorum counts each approver once)',
        ),
        410: err('CONFIRMATION_EXPIRED'),
      },
    },
  },
  '/api/v1/confirmations/{id}/deny': {
    post: {
      summary: 'Deny; the tool is never called',
      ...scoped('confirm'),
      parameters: [pathParam('id', 'confirmation id')],
      requestBody: {
        content: {
          'application/json': {
            schema: { type: 'object', additionalProperties: false, properties: { remember: REMEMBER } },
          },
        },
      },
      responses: {
        200: jsonBody(ref('Confirmation'), 'denied; the run ends denied'),
        ...common,
        404: err('no such confirmation'),
        409: err('ALREADY_DECIDED'),
        410: err('CONFIRMATION_EXPIRED'),
      },
    },
  },
  '/api/v1/audit': {
    get: {
      summary: 'Every decision on a write (person, rule, grant, plan) as JSON lines, oldest first',
      description: 'Needs the admin or the audit scope. X-Next-Since, when present, continues after the last line.',
      ...scoped('audit'),
      parameters: [
        { name: 'since', in: 'query', schema: { type: 'string' }, description: 'ms since the epoch, ISO time or an entry id' },
        { name: 'run', in: 'query', schema: { type: 'string' }, description: 'only this run' },
        { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 10000 } },
      ],
      responses: {
        200: { description: 'JSON lines', content: { 'application/x-ndjson': { schema: { type: 'string' } } } },
        ...common,
      },
    },
  },
  '/api/v1/connectors': {
    get: {
      summary: 'Connectors and their state',
      ...scoped('read'),
      parameters: page,
      responses: { 200: jsonBody(listOf('connectors', 'Connector'), 'a page'), ...common },
    },
  },
  '/api/v1/connectors/{id}/tools': {
    get: {
      summary: "A connector's tools with write classification",
      ...scoped('read'),
      parameters: [pathParam('id', 'connector id'), ...page],
      responses: {
        200: jsonBody(listOf('tools', 'Tool'), 'a page'),
        ...common,
        404: err('no such connector'),
        503: unavailable(`CONNECTOR_UNAVAILABLE: the connector did not answer; or ${REDIS_503}`),
      },
    },
  },
  '/api/v1/connectors/{id}/refresh': {
    post: {
      summary: 'List the tools again',
      ...scoped('admin'),
      parameters: [pathParam('id', 'connector id')],
      responses: {
        200: { description: '{connector, tools}' },
        ...common,
        404: err('no such connector'),
        503: unavailable(`CONNECTOR_UNAVAILABLE: the connector did not answer; or ${REDIS_503}`),
      },
    },
  },
  '/api/v1/connectors/{id}/login': {
    post: {
      summary: 'Start a login to an OAuth connector',
      description:
        'Answers {authorizationUrl} for a person to open; the authorization server sends the browser back to GET /oauth/callback, and runs paused with CONNECTOR_LOGIN_REQUIRED continue. A client_credentials connector gets its token at once and answers {oauth}.',
      ...scoped('admin'),
      parameters: [pathParam('id', 'connector id')],
      responses: {
        200: { description: '{connector, authorizationUrl, expiresAt, callback} or {connector, oauth}' },
        ...common,
        404: err('no such connector'),
        503: unavailable(`CONNECTOR_UNAVAILABLE: the server or its authorization server did not answer; or ${REDIS_503}`),
      },
    },
  },
  '/api/v1/connectors/{id}/tools/{tool}': {
    patch: {
      summary: 'Turn a tool on or off for workflows',
      ...scoped('admin'),
      parameters: [pathParam('id', 'connector id'), pathParam('tool', 'tool name')],
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              additionalProperties: false,
              required: ['enabled'],
              properties: { enabled: { type: 'boolean' } },
            },
          },
        },
      },
      responses: { 200: { description: '{connector, tool, enabled}' }, ...common, 404: err('no such connector or tool') },
    },
  },
  '/api/v1/connectors/{id}/tools/{tool}/pin': {
    get: {
      summary: "A tool's pinned definition and any change seen since, with a review diff",
      ...scoped('read'),
      description:
        'A tool whose name, title, description, schemas or annotations changed after it was pinned is disabled until an admin approves the change; runs reaching it pause with TOOL_CHANGED.',
      parameters: [pathParam('id', 'connector id'), pathParam('tool', 'tool name')],
      responses: {
        200: { description: '{connector, tool, pin?, pending?, changes, changed, diff}' },
        ...common,
        404: err('no such connector'),
      },
    },
  },
  '/api/v1/connectors/{id}/tools/{tool}/approve': {
    post: {
      summary: "Accept a tool's changed definition; runs paused at it continue",
      ...scoped('admin'),
      parameters: [pathParam('id', 'connector id'), pathParam('tool', 'tool name')],
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              additionalProperties: false,
              required: ['hash'],
              properties: { hash: { type: 'string', description: 'pending.hash as reviewed' } },
            },
          },
        },
      },
      responses: {
        200: { description: '{pin, resumed: runIds}' },
        ...common,
        404: err('no change waiting for review'),
        409: err('HASH_MISMATCH: it changed again since'),
      },
    },
  },
  '/api/v1/doctor': {
    get: {
      summary: 'Runs stuck by any rule the doctor knows, each naming the run and why',
      ...scoped('admin'),
      description:
        'Kinds: ready_without_job, ready_stale, no_job, confirmation_not_indexed, confirmation_overdue, awaiting_without_confirmation, blocked_tool_approved, connector_login_required, blocked_login_done, in_doubt_too_long. ' +
        "A finding with `repair` can be fixed by POST /api/v1/doctor/repair; one without needs a person. Walks every run: an operator's tool, not a health check.",
      responses: { 200: jsonBody(ref('Diagnosis'), '{checked, findings}'), ...common },
    },
  },
  '/api/v1/doctor/repair': {
    post: {
      summary: 'The same findings, with what could be repaired safely repaired (re-mark ready and enqueue, re-index, expire)',
      ...scoped('admin'),
      requestBody: { content: { 'application/json': { schema: { type: 'object', additionalProperties: false } } } },
      responses: { 200: jsonBody(ref('Diagnosis'), '{checked, findings}, each repaired finding with `repaired`'), ...common },
    },
  },
  '/api/v1/triggers': {
    get: {
      summary: 'Schedules and webhooks: paused or not, the next tick, what each did last',
      ...scoped('read'),
      responses: {
        200: jsonBody(
          { type: 'object', required: ['triggers'], properties: { triggers: { type: 'array', items: ref('Trigger') } } },
          'every trigger',
        ),
        ...common,
      },
    },
  },
  '/api/v1/triggers/{id}/pause': {
    post: {
      summary:
        'Pause a trigger: a schedule stops ticking (its scheduler is removed); a webhook answers 503 TRIGGER_PAUSED so its sender retries later',
      ...scoped('admin'),
      parameters: [pathParam('id', '`<workflow>.<name>`')],
      requestBody: { content: { 'application/json': { schema: { type: 'object', additionalProperties: false } } } },
      responses: { 200: jsonBody(ref('Trigger'), 'the trigger, paused'), ...common, 404: err('no such trigger') },
    },
  },
  '/api/v1/triggers/{id}/resume': {
    post: {
      summary: 'Resume a paused trigger',
      ...scoped('admin'),
      parameters: [pathParam('id', '`<workflow>.<name>`')],
      requestBody: { content: { 'application/json': { schema: { type: 'object', additionalProperties: false } } } },
      responses: { 200: jsonBody(ref('Trigger'), 'the trigger, active'), ...common, 404: err('no such trigger') },
    },
  },
  '/api/v1/reload': {
    post: {
      summary:
        'Read the config file again; the engine, workers, connector pool and routes take it, runs in flight keep their pinned definitions',
      ...scoped('admin'),
      description:
        'What SIGHUP does. Connectors added or changed get a new session; unchanged ones keep theirs. Tokens are read at start-up only.',
      requestBody: { content: { 'application/json': { schema: { type: 'object', additionalProperties: false } } } },
      responses: {
        200: jsonBody(ref('ConfigReload'), '{file, changes}'),
        ...common,
        400: err(
          'CONFIG_INVALID: the file does not validate; nothing changed. `details.issues` lists each problem with file, line and col',
        ),
      },
    },
  },
};

export function openApiDocument(serverUrl?: string): Json {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Interlock HTTP API',
      version: '1',
      description:
        'Durable workflows of MCP tool calls with a confirmation before every write. Errors are `{"error": {"code", "message", "details"}}`. ' +
        'Tokens carry scopes read, trigger, confirm, admin (401 without a token, 403 without the scope). Browsers may exchange `?token=` once on /ui or ' +
        '/admin/queues for an HttpOnly session cookie. Also served, outside this document: /mcp (streamable HTTP MCP), /ui (pages), /admin/queues (bull-board), ' +
        'and POST /hooks/{hook} (webhooks, authenticated by their signature: 202 with the runs started, 400 SIGNATURE_INVALID, 503 TRIGGER_PAUSED; docs/triggers.md).',
    },
    ...(serverUrl ? { servers: [{ url: serverUrl }] } : {}),
    components: {
      schemas,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer' },
        session: { type: 'apiKey', in: 'cookie', name: 'interlock_session' },
      },
    },
    paths,
  };
}
