import { describe, expect, it } from 'vitest';
import { expectIssue, expectLoadError, issuesOf, withSteps, yaml } from './helpers.ts';

// Every problem the loader reports names the file, the line and the column. Columns are 1-based;
// the comments on the YAML lines in these tests mark the column the issue must point at.

describe('the file as a whole', () => {
  it('reports a YAML syntax error with its line and column, and stops there', () => {
    const issues = issuesOf(yaml('workflows:', '  wf:', '    description: [unclosed', '    steps: x'));
    expect(issues.length).toBeGreaterThan(0);
    expect(issues[0].message).toMatch(/^YAML syntax error: /);
    expect(issues[0].line).toBe(4);
    expect(issues[0].col).toBe(5);
  });

  it('hints that a template holding ": " must be quoted when YAML trips over it', () => {
    const issues = issuesOf(
      withSteps('      - id: a', '        call: stripe.get', '        with: {x: ${{ inputs.a ? "y": "n" }}}'),
    );
    expect(issues[0].message).toMatch(/YAML syntax error: .*must be quoted/);
    expect(issues[0].line).toBe(12);
  });

  it('keeps a YAML mistake readable: the first error per line, on the first few lines', () => {
    const broken = [
      'workflows:',
      '  wf: {description: "x", steps: [',
      ...Array.from({ length: 20 }, (_, i) => `    - id: s${i}`),
    ];
    const issues = issuesOf(yaml(...broken));
    expect(issues.length).toBeLessThanOrEqual(5);
    expect(new Set(issues.map((i) => i.line)).size).toBe(issues.length);
    expect(issues.at(-1)?.message).toMatch(/and errors on \d+ more lines, likely caused by the ones above/);
  });

  it('rejects an empty file', () => {
    expectLoadError('', '1:1', /the config file is empty/);
  });

  it('reports an unknown top-level key with a suggestion, and the missing workflows key', () => {
    const issues = issuesOf(yaml('workflow:', '  wf: {}'));
    expectIssue(issues, 1, 1, /unknown key "workflow" in the config file \(did you mean "workflows"\?\)/);
    expectIssue(issues, 1, 1, /missing required key "workflows"/);
  });

  it('reports every problem in one pass, in file order', () => {
    const issues = issuesOf(
      withSteps(
        '      - id: a', // 10
        '        call: strpe.get', // 11
        '        confirm: nevr', // 12
        '      - id: a', // 13
        '        call: stripe.get', // 14
        '        with:', // 15
        '          x: ${{ steps.later.output }}', // 16
        '        timeout: soon', // 17
      ),
    );
    expect(issues.map((i) => `${i.line}:${i.col}`)).toEqual(['11:15', '12:18', '13:13', '16:24', '17:18']);
    expect(issues.every((i) => i.path.startsWith('workflows.wf.steps['))).toBe(true);
  });
});

describe('connectors', () => {
  const connector = (...lines: string[]) => yaml('connectors:', '  api:', ...lines, 'workflows: {}');

  it('reports an unknown key with "did you mean", and the transport it then cannot tell', () => {
    const issues = issuesOf(connector('    comand: interlock'));
    expectIssue(issues, 3, 5, /unknown key "comand" in connector "api" \(did you mean "command"\?\)/);
    expectIssue(issues, 2, 3, /connector "api" is missing required key "transport"/);
  });

  it('refuses a literal bearer token without repeating it', () => {
    const issues = issuesOf(connector('    url: https://api.example.com/mcp', '    auth: {type: bearer, token: sk_live_abc123}'));
    const hit = expectIssue(issues, 4, 33, /secrets only come from the environment/);
    expect(hit.message).toContain('${env:NAME}');
    expect(JSON.stringify(issues)).not.toContain('sk_live_abc123');
  });

  it('asks for a token when auth is just "bearer"', () => {
    expectLoadError(
      connector('    url: https://x.example/mcp', '    auth: bearer'),
      '4:11',
      /bearer auth needs a token from the environment/,
    );
  });

  it('refuses a literal secret in an Authorization header without repeating it', () => {
    const issues = issuesOf(connector('    url: https://x.example/mcp', '    headers:', '      Authorization: Bearer abc'));
    expectIssue(issues, 5, 22, /headers "Authorization" holds a literal value; secrets only come from the environment/);
    expect(JSON.stringify(issues)).not.toContain('Bearer abc');
  });

  it('reports a malformed ${env:} reference', () => {
    expectLoadError(
      connector('    url: https://x.example/mcp', '    headers:', '      X-Trace: ${env:}'),
      '5:16',
      /malformed environment reference "\$\{env:…"/,
    );
    const withDefault = issuesOf(connector('    command: x', '    env:', '      KEY: ${env:KEY:-sk_default}'));
    expectIssue(withDefault, 5, 12, /malformed environment reference "\$\{env:KEY…".*defaults such as :- are not supported/);
    expect(JSON.stringify(withDefault)).not.toContain('sk_default');
  });

  it('reports a bad duration', () => {
    expectLoadError(
      connector('    command: interlock', '    timeout: 30 secs'),
      '4:14',
      /connector "api" timeout has a bad duration "30 secs"/,
    );
  });

  it('reports a bad glob', () => {
    expectLoadError(
      connector('    command: interlock', '    tools: {allow: ["create_[x]"]}'),
      '4:21',
      /bad glob "create_\[x\]" in tools.allow: "\[" is not glob syntax here: only \* and \? are wildcards/,
    );
  });

  it('reports an empty glob', () => {
    expectLoadError(
      connector('    command: interlock', '    tools: {deny: [""]}'),
      '4:20',
      /bad glob "" in tools.deny: a glob cannot be empty/,
    );
  });

  it('reports an unknown transport with a suggestion', () => {
    expectLoadError(
      connector('    transport: stdoi', '    command: x'),
      '3:16',
      /unknown transport "stdoi" \(did you mean "stdio"\?\)/,
    );
  });

  it('reports a key that belongs to another transport', () => {
    expectLoadError(connector('    command: interlock', '    url: http://x'), '4:5', /"url" does not apply to transport stdio/);
  });

  it('reports the command a stdio connector needs', () => {
    expectLoadError(connector('    transport: stdio'), '2:3', /missing required key "command"/);
  });

  it('reports a wrong type', () => {
    expectLoadError(
      connector('    command: interlock', '    concurrency: many'),
      '4:18',
      /concurrency must be a whole number of at least 1, not a string/,
    );
  });

  it('reports a rate limit without its period', () => {
    expectLoadError(
      connector('    command: interlock', '    rate_limit: {max: 5}'),
      '4:5',
      /rate_limit is missing required key "per"/,
    );
  });

  it('reports a connector id that cannot be used in connector.tool', () => {
    expectLoadError(
      yaml('connectors:', '  my.api:', '    command: x', 'workflows: {}'),
      '2:3',
      /a connector id may hold only letters, digits, _ and -/,
    );
  });
});

describe('workflows', () => {
  const wf = (...lines: string[]) => yaml('connectors:', '  stripe:', '    command: interlock', 'workflows:', '  wf:', ...lines);
  const step = ['    steps:', '      - id: a', '        call: stripe.get'];

  it('reports an unknown key with a suggestion and the missing description', () => {
    const issues = issuesOf(wf('    descripton: oops', ...step));
    expectIssue(issues, 6, 5, /unknown key "descripton" in workflow "wf" \(did you mean "description"\?\)/);
    expectIssue(issues, 5, 3, /workflow "wf" is missing required key "description"/);
  });

  it('reports a wrong type for expose', () => {
    expectLoadError(wf('    description: d', '    expose: "yes"', ...step), '7:13', /expose must be true or false, not a string/);
  });

  it('needs at least one step', () => {
    expectLoadError(wf('    description: d', '    steps: []'), '7:12', /needs at least one step/);
  });

  it('needs steps to be a list', () => {
    expectLoadError(wf('    description: d', '    steps: {a: 1}'), '7:12', /steps must be a list, not a map/);
  });

  it('points at the spot in an inputs schema that is not valid JSON Schema', () => {
    const issues = issuesOf(
      wf(
        '    description: d',
        '    inputs:',
        '      type: object',
        '      properties:',
        '        amount: {type: integr}',
        ...step,
      ),
    );
    expectIssue(
      issues,
      10,
      24,
      /inputs is not a valid JSON Schema: properties.amount.type must be equal to one of the allowed values/,
    );
  });

  it('points at an unknown keyword in an inputs schema (a typo that would check nothing)', () => {
    const issues = issuesOf(wf('    description: d', '    inputs:', '      type: object', '      requried: [amount]', ...step));
    expectIssue(issues, 9, 7, /unknown keyword: "requried"/);
  });

  it('needs the inputs schema to describe an object', () => {
    expectLoadError(wf('    description: d', '    inputs: {type: string}', ...step), '7:14', /must have type: object/);
  });

  it('refuses a template reading an input the schema does not declare', () => {
    const issues = issuesOf(
      wf(
        '    description: d',
        '    inputs:',
        '      type: object',
        '      properties: {amount: {type: integer}}',
        '    steps:',
        '      - id: a',
        '        call: stripe.get',
        '        with: {n: "${{ inputs.ammount }}"}',
      ),
    );
    expectIssue(
      issues,
      13,
      31,
      /template reads inputs.ammount, but the inputs schema has no property "ammount" \(did you mean "amount"\?\)/,
    );
  });
});

describe('steps', () => {
  it('reports an unknown key with a suggestion, and the missing call', () => {
    const issues = issuesOf(withSteps('      - id: a', '        cal: stripe.get'));
    expectIssue(issues, 11, 9, /unknown key "cal" in step 1 of workflow "wf" \(did you mean "call"\?\)/);
    expectIssue(issues, 10, 9, /step 1 of workflow "wf" is missing required key "call"/);
  });

  it('reports a step without an id', () => {
    expectLoadError(withSteps('      - call: stripe.get'), '10:9', /missing required key "id"/);
  });

  it('refuses a step id that JSONata cannot read as steps.<id>', () => {
    expectLoadError(
      withSteps('      - id: my-step', '        call: stripe.get'),
      '10:13',
      /step id "my-step" must start with a letter or _/,
    );
  });

  it('reports a duplicate step id where it is repeated', () => {
    const issues = issuesOf(withSteps('      - id: a', '        call: stripe.get', '      - id: a', '        call: stripe.get'));
    expectIssue(issues, 12, 13, /duplicate step id "a" in workflow "wf" \(first used at line 10:13\)/);
  });

  it('reports a malformed call', () => {
    expectLoadError(withSteps('      - id: a', '        call: stripe'), '11:15', /malformed call "stripe": write connector.tool/);
  });

  it('reports an unknown connector in call with a suggestion', () => {
    expectLoadError(
      withSteps('      - id: a', '        call: strpe.get'),
      '11:15',
      /unknown connector "strpe" in call "strpe.get" \(did you mean "stripe"\?\)/,
    );
  });

  it('reports a call to a tool the connector turns off', () => {
    const text = yaml(
      'connectors:',
      '  stripe:',
      '    command: interlock',
      '    tools: {deny: ["delete_*"]}',
      'workflows:',
      '  wf:',
      '    description: d',
      '    steps:',
      '      - id: a',
      '        call: stripe.delete_customer',
    );
    expectLoadError(text, '10:15', /tool "delete_customer" is turned off by connectors.stripe.tools/);
  });

  it('reports an unknown confirm mode with a suggestion', () => {
    expectLoadError(
      withSteps('      - id: a', '        call: stripe.get', '        confirm: nevr'),
      '12:18',
      /confirm "nevr" \(did you mean "never"\?\); use auto, always or never/,
    );
  });

  it('reports bad retry settings', () => {
    expectLoadError(
      withSteps('      - id: a', '        call: stripe.get', '        retry: {attempts: 0}'),
      '12:27',
      /retry attempts must be a whole number of at least 1/,
    );
    expectLoadError(
      withSteps('      - id: a', '        call: stripe.get', '        retry: {backoff: soon}'),
      '12:26',
      /retry backoff has a bad duration "soon"/,
    );
  });

  it('reports a bad step timeout', () => {
    expectLoadError(
      withSteps('      - id: a', '        call: stripe.get', '        timeout: -5s'),
      '12:18',
      /timeout has a bad duration "-5s"/,
    );
  });

  it('needs with to be a map', () => {
    expectLoadError(
      withSteps('      - id: a', '        call: stripe.get', '        with: [1, 2]'),
      '12:15',
      /with must be a map of arguments, not a list/,
    );
  });
});

describe('policy and tokens', () => {
  const head = [
    'connectors:',
    '  stripe:',
    '    command: interlock',
    'workflows:',
    '  wf:',
    '    description: d',
    '    steps:',
    '      - id: refund',
    '        call: stripe.create_refund',
  ];

  it('checks each name in allow_unconfirmed against connectors and workflow steps', () => {
    const issues = issuesOf(
      yaml(...head, 'policy:', '  allow_unconfirmed: [stripe.create_refund, wf.refnd, nowhere.x, justname]'),
    );
    expectIssue(issues, 11, 45, /workflow "wf" has no step "refnd" \(did you mean "wf.refund"\?\)/);
    expectIssue(issues, 11, 55, /"nowhere" in "nowhere.x" is neither a connector nor a workflow/);
    expectIssue(issues, 11, 66, /"justname" must be connector.tool or workflow.step/);
    expect(issues).toHaveLength(3);
  });

  it('reports a bad confirmation_ttl and an unknown policy key', () => {
    const issues = issuesOf(yaml(...head, 'policy:', '  confirmation_ttl: forever', '  confirmaton_ttl: 1h'));
    expectIssue(issues, 11, 21, /policy confirmation_ttl has a bad duration "forever"/);
    expectIssue(issues, 12, 3, /unknown key "confirmaton_ttl" in policy \(did you mean "confirmation_ttl"\?\)/);
  });

  it('checks tokens: secrets from the environment, known scopes, unique names, required keys', () => {
    const issues = issuesOf(
      yaml(
        ...head,
        'tokens:', // 10
        '  - name: chat', // 11
        '    token: abc123secret', // 12
        '    scopes: [read, trigers]', // 13
        '  - name: chat', // 14
        '    token: "${env:T2}"', // 15
        '    scopes: [admin]', // 16
        '  - token: "${env:T3}"', // 17
      ),
    );
    expectIssue(issues, 12, 12, /token "chat" must be "\$\{env:NAME\}": secrets only come from the environment/);
    expect(JSON.stringify(issues)).not.toContain('abc123secret');
    expectIssue(issues, 13, 20, /unknown scope "trigers" \(did you mean "trigger"\?\)/);
    expectIssue(issues, 14, 11, /duplicate token name "chat"/);
    expectIssue(issues, 17, 5, /token is missing required key "name"/);
    expectIssue(issues, 17, 5, /token is missing required key "scopes"/);
  });
});

describe('follow-on problems', () => {
  it('does not report a call to a broken connector as an unknown connector', () => {
    const issues = issuesOf(
      yaml(
        'connectors:',
        '  api:',
        '    transport: htp',
        '    url: http://x',
        'workflows:',
        '  wf:',
        '    description: d',
        '    steps:',
        '      - id: a',
        '        call: api.get',
        'policy:',
        '  allow_unconfirmed: [api.get, wf.a]',
      ),
    );
    expect(issues.map((i) => `${i.line}:${i.col}`)).toEqual(['3:16']);
  });

  it('does not report a policy name for a broken workflow as unknown', () => {
    const issues = issuesOf(yaml('workflows:', '  wf:', '    steps: []', 'policy:', '  allow_unconfirmed: [wf.a]'));
    expect(issues.map((i) => `${i.line}:${i.col}`)).toEqual(['2:3', '3:12']);
  });
});
