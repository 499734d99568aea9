import { describe, expect, it } from 'vitest';
import { InterlockError } from '../../src/errors.ts';
import {
  compileExpression,
  compileTemplateTree,
  evaluateCondition,
  resolveTemplates,
  scanTemplates,
} from '../../src/workflows/templates.ts';
import type { TemplateContext } from '../../src/workflows/types.ts';

const ctx = (over: Partial<TemplateContext> = {}): TemplateContext => ({
  inputs: {
    charge: 'ch_1',
    amount: 1250,
    tags: ['a', 'b'],
    customer: { name: 'Ada', email: 'ada@example.com' },
    flag: false,
    none: null,
  },
  steps: { fetch: { output: { id: 'ch_1', amount: 5000, lines: [{ qty: 2 }, { qty: 3 }] }, status: 'succeeded' } },
  run: { id: 'run_1', workflow: 'wf', session: 's1' },
  ...over,
});

async function templateError(p: Promise<unknown>): Promise<InterlockError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof InterlockError) return err;
    throw err;
  }
  throw new Error('expected a TEMPLATE_ERROR');
}

describe('resolveTemplates', () => {
  it('keeps the JSON type of a string that is exactly one template', async () => {
    const out = await resolveTemplates(
      {
        n: '${{ inputs.amount }}',
        s: '${{ inputs.charge }}',
        b: '${{ inputs.flag }}',
        z: '${{ inputs.none }}',
        o: '${{ inputs.customer }}',
        a: '${{ inputs.tags }}',
        sum: '${{ $sum(steps.fetch.output.lines.qty) }}',
        built: '${{ {"charge": steps.fetch.output.id, "cents": inputs.amount * 2} }}',
      },
      ctx(),
    );
    expect(out).toEqual({
      n: 1250,
      s: 'ch_1',
      b: false,
      z: null,
      o: { name: 'Ada', email: 'ada@example.com' },
      a: ['a', 'b'],
      sum: 5,
      built: { charge: 'ch_1', cents: 2500 },
    });
  });

  it('interpolates templates inside a longer string, objects as JSON', async () => {
    const out = await resolveTemplates(
      {
        text: "Refunded ${{ inputs.amount / 100 }} on ${{ inputs.charge }} for ${{ inputs.customer }} (${{ $exists(inputs.missing) ? inputs.missing : '' }}) ${{ inputs.flag }}",
      },
      ctx(),
    );
    expect(out).toEqual({ text: 'Refunded 12.5 on ch_1 for {"name":"Ada","email":"ada@example.com"} () false' });
  });

  it('refuses a template inside a string that resolves to nothing, naming the path, rather than sending ""', async () => {
    const err = (await resolveTemplates({ text: 'Refund ${{ steps.fetch.output.refund_id }} done' }, ctx()).catch(
      (e: unknown) => e,
    )) as InterlockError;
    expect(err).toBeInstanceOf(InterlockError);
    expect(err.code).toBe('TEMPLATE_ERROR');
    expect(err.message).toMatch(
      /\$\{\{ steps\.fetch\.output\.refund_id \}\} inside a string resolved to nothing: steps\.fetch\.output has no "refund_id" \(it has id, amount, lines\)/,
    );
    expect(err.message).toContain("$exists(steps.fetch.output.refund_id) ? steps.fetch.output.refund_id : ''");
    const viaJsonata = (await resolveTemplates({ text: 'x ${{ $lowercase(inputs.missing) }}' }, ctx()).catch(
      (e: unknown) => e,
    )) as InterlockError;
    expect(viaJsonata.message).toMatch(/\$lowercase\(inputs\.missing\) \}\} inside a string resolved to nothing/);
  });

  it('reads regex literals holding quotes, and tells a regex from a division', async () => {
    const c = { ...ctx(), t: 'Refund {"id": "re_42"} done' } as TemplateContext;
    expect(await resolveTemplates({ id: '${{ $match(t, /"id": "(re_[0-9]+)"/).groups[0] }}' }, c)).toEqual({ id: 're_42' });
    expect(await resolveTemplates({ q: '${{ $replace("a\\"b", /"/, "\'") }}' }, c)).toEqual({ q: "a'b" });
    expect(await resolveTemplates('${{ inputs.amount / 100 / 5 }} and ${{ "}}" }}', c)).toBe('2.5 and }}');
    expect(await resolveTemplates({ b: '${{ $contains(t, /re_4"?2/) and true }}' }, c)).toEqual({ b: true });
  });

  it('resolves templates anywhere in nested objects and arrays', async () => {
    const out = await resolveTemplates(
      {
        customer: { name: '${{ inputs.customer.name }}', meta: { run: '${{ run.id }}', session: '${{ run.session }}' } },
        lines: [{ qty: '${{ steps.fetch.output.lines[1].qty }}' }, 'literal', 7],
        status: '${{ steps.fetch.status }}',
      },
      ctx(),
    );
    expect(out).toEqual({
      customer: { name: 'Ada', meta: { run: 'run_1', session: 's1' } },
      lines: [{ qty: 3 }, 'literal', 7],
      status: 'succeeded',
    });
  });

  it('drops keys whose template gives undefined, so optional arguments are not sent; null stays', async () => {
    const out = await resolveTemplates(
      { a: '${{ inputs.missing }}', b: '${{ inputs.none }}', list: ['${{ inputs.missing }}', 1] },
      ctx(),
    );
    expect(out).toEqual({ b: null, list: [null, 1] });
    expect(Object.hasOwn(out as object, 'a')).toBe(false);
  });

  it('treats inputs and tool output as data: templates inside them are never evaluated', async () => {
    const hostile = '${{ $eval("run.id") }} ${{ run.session }}';
    const out = await resolveTemplates(
      { fromInput: '${{ inputs.note }}', fromOutput: '${{ steps.fetch.output.note }}', inText: 'note: ${{ inputs.note }}' },
      ctx({ inputs: { note: hostile }, steps: { fetch: { output: { note: hostile }, status: 'succeeded' } } }),
    );
    expect(out).toEqual({ fromInput: hostile, fromOutput: hostile, inText: `note: ${hostile}` });
  });

  it('switches off $eval, so an expression cannot run code taken from data either', async () => {
    const err = await templateError(
      resolveTemplates({ x: '${{ $eval(inputs.code) }}' }, ctx({ inputs: { code: 'run.session' } })),
    );
    expect(err.code).toBe('TEMPLATE_ERROR');
    expect(err.message).toMatch(/\$eval is disabled/);
  });

  it('throws TEMPLATE_ERROR naming the expression that failed', async () => {
    const err = await templateError(resolveTemplates({ x: 'total ${{ inputs.charge + 1 }}' }, ctx()));
    expect(err.code).toBe('TEMPLATE_ERROR');
    expect(err.message).toContain('${{ inputs.charge + 1 }}');
    expect(err.details).toMatchObject({ expression: 'inputs.charge + 1', code: 'T2001' });
  });

  it('refuses a function as an argument value', async () => {
    const err = await templateError(resolveTemplates({ f: '${{ $sum }}' }, ctx()));
    expect(err.message).toMatch(/gave a function/);
  });

  it('gives each caller its own copy of literal parts of the definition', async () => {
    const def = { fixed: { a: [1] }, t: '${{ run.id }}' };
    const first = (await resolveTemplates(def, ctx())) as { fixed: { a: number[] } };
    first.fixed.a.push(2);
    expect(def.fixed.a).toEqual([1]);
    expect(await resolveTemplates(def, ctx())).toEqual({ fixed: { a: [1] }, t: 'run_1' });
  });

  it('compiles a tree once and resolves it against many contexts', async () => {
    const tree = compileTemplateTree({ id: '${{ run.id }}' });
    expect(await tree.resolve(ctx())).toEqual({ id: 'run_1' });
    expect(await resolveTemplates(tree, ctx({ run: { id: 'run_2', workflow: 'wf', session: 's' } }))).toEqual({ id: 'run_2' });
    expect(compileTemplateTree({ plain: 1 }).hasTemplates).toBe(false);
  });

  it('parses each distinct expression once', () => {
    expect(compileExpression('inputs.amount * 3')).toBe(compileExpression('inputs.amount * 3'));
  });

  it('throws TEMPLATE_ERROR when a definition holds a broken template', () => {
    expect(() => compileTemplateTree({ x: '${{ inputs.a + }}' })).toThrow(/expression "inputs.a \+" does not parse/);
    expect(() => compileTemplateTree({ x: 'a ${{ inputs.a' })).toThrow(/unterminated template/);
  });
});

describe('scanTemplates', () => {
  it('does not end a template at a }} inside an object constructor or a string', () => {
    const s = 'x ${{ {"a": {"b": "}}"}} }} y';
    const { segments, error } = scanTemplates(s);
    expect(error).toBeUndefined();
    expect(segments).toEqual([{ expr: '{"a": {"b": "}}"}}', start: 2, exprStart: 6, end: s.length - 2 }]);
  });
});

describe('evaluateCondition', () => {
  it('follows JSONata truthiness', async () => {
    const cases: Array<[string, boolean]> = [
      ['steps.fetch.status = "succeeded"', true],
      ['steps.fetch.status = "failed"', false],
      ['inputs.missing', false],
      ['inputs.none', false],
      ['inputs.flag', false],
      ['inputs.amount', true],
      ['0', false],
      ['""', false],
      ['inputs.tags', true],
      ['[]', false],
      ['inputs.customer', true],
      ['{}', false],
    ];
    for (const [expr, want] of cases) expect(await evaluateCondition(expr, ctx()), expr).toBe(want);
  });

  it('accepts the ${{ }} form as well as a bare expression', async () => {
    expect(await evaluateCondition('${{ inputs.amount > 1000 }}', ctx())).toBe(true);
    expect(await evaluateCondition('inputs.amount > 2000', ctx())).toBe(false);
  });

  it('throws TEMPLATE_ERROR naming the condition', async () => {
    const err = await templateError(evaluateCondition('inputs.charge > 1', ctx()));
    expect(err.code).toBe('TEMPLATE_ERROR');
    expect(err.message).toContain('condition "inputs.charge > 1" failed');
  });
});

describe('plain paths, looked up without JSONata', () => {
  // Every path here is also evaluated by JSONata itself: the direct lookup must agree with it,
  // including where it hands over (arrays, primitives and nulls on the way).
  const data: TemplateContext = ctx({
    inputs: {
      s: 'text',
      n: 0,
      t: true,
      z: null,
      o: { a: { b: 1 }, e: {} },
      arr: [1, 2],
      one: [7],
      objs: [{ k: 1 }, { k: 2 }],
      nested: { list: [{ v: 'x' }], deep: { deeper: { leaf: 'y' } } },
    },
  });
  const paths = [
    'inputs.s',
    'inputs.n',
    'inputs.t',
    'inputs.z',
    'inputs.o',
    'inputs.o.a',
    'inputs.o.a.b',
    'inputs.o.e',
    'inputs.missing',
    'inputs.missing.more',
    'inputs.s.length',
    'inputs.z.x',
    'inputs.arr',
    'inputs.one',
    'inputs.objs.k',
    'inputs.nested.list.v',
    'inputs.nested.deep.deeper.leaf',
    'inputs',
    'run.id',
    'steps.fetch.output.lines.qty',
    'steps.fetch.status',
    'steps.nope.output',
  ];
  it.each(paths)('%s gives what JSONata gives, alone and inside a string', async (p) => {
    const viaJsonata = await compileExpression(`(${p})`).evaluate(data);
    const alone = (await resolveTemplates({ v: `\${{ ${p} }}` }, data)) as { v?: unknown };
    expect(alone.v).toEqual(viaJsonata === undefined ? undefined : JSON.parse(JSON.stringify(viaJsonata)));
    // Inside a string, nothing is an error naming the path (it was a silent "" before).
    const inString = resolveTemplates(`<\${{ ${p} }}>`, data);
    if (viaJsonata === undefined) await expect(inString).rejects.toThrow(`\${{ ${p} }} inside a string resolved to nothing`);
    else await expect(inString).resolves.toBe(`<${typeof viaJsonata === 'string' ? viaJsonata : JSON.stringify(viaJsonata)}>`);
  });
});
