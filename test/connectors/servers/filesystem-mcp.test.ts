/**
 * `@modelcontextprotocol/server-filesystem` on a temp directory: real annotations (reads marked
 * readOnlyHint, writes not), structured output with an outputSchema that Interlock checks, and
 * failures reported with isError. No overrides needed. Also a server of our own whose output breaks
 * its own outputSchema.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { ROOT } from '../../helpers/app.ts';
import { CONNECTORS, NODE, runThrough, serversTest } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'interlock-fs-'));
const BAD_SERVER = join(ROOT, 'test/fixtures/bad-output-server.ts');

const YAML = `
connectors:${CONNECTORS.files(dir)}
  bad:
    command: ${NODE}
    args: [${BAD_SERVER}]
workflows:
  copy-note:
    description: read a note, write a copy, list the directory
    inputs: { type: object, required: [from, to], properties: { from: { type: string }, to: { type: string } } }
    steps:
      - id: read
        call: files.read_text_file
        with: { path: "${dir}/\${{ inputs.from }}" }
      - id: write
        call: files.write_file
        with: { path: "${dir}/\${{ inputs.to }}", content: "Copied: \${{ steps.read.output.content }}" }
      - id: list
        call: files.list_directory
        with: { path: "${dir}" }
  check-refund:
    description: a read whose output breaks its own schema, then one that keeps it
    inputs: { type: object, properties: { tool: { type: string } } }
    steps:
      - id: lookup
        call: bad.get_refund
        with: { id: re_1 }
      - id: again
        call: bad.get_refund_ok
        with: { id: re_1 }
`;

writeFileSync(join(dir, 'in.txt'), 'refund re_42 approved');
const it = serversTest(YAML);

describe('@modelcontextprotocol/server-filesystem 2026.8.31 on a temp directory', () => {
  it('declares real annotations: reads are reads, writes are writes, nothing loosened', async ({ app }) => {
    const tools = await app.pool.listTools('files');
    expect(tools.find((t) => t.name === 'read_text_file')).toMatchObject({ write: false, outputSchema: expect.any(Object) });
    expect(tools.find((t) => t.name === 'write_file')).toMatchObject({
      write: true,
      idempotent: true,
      annotations: { destructiveHint: true },
    });
    expect(tools.every((t) => t.loosened === undefined && t.failWhen === undefined)).toBe(true);
  }, 120_000); // the first test also starts the file's fixtures (60 s were the setup hook's)

  it('reads without a gate, asks before the write, and the file is on disk', async ({ app }) => {
    const { run: done, asked } = await runThrough(app, 'copy-note', { from: 'in.txt', to: 'out.txt' });
    expect(asked).toEqual(['files.write_file']);
    expect(done.status).toBe('succeeded');
    expect(done.steps.read.output).toEqual({ content: 'refund re_42 approved' });
    expect(readFileSync(join(dir, 'out.txt'), 'utf8')).toBe('Copied: refund re_42 approved');
    expect((done.steps.list.output as { content: string }).content).toContain('[FILE] out.txt');
  }, 90_000);

  it("a read of a missing file fails at that step with the server's text, and nothing is written after it", async ({ app }) => {
    const { run: done, asked } = await runThrough(app, 'copy-note', { from: 'missing.txt', to: 'never.txt' });
    expect(asked).toEqual([]);
    expect(done.status).toBe('failed');
    expect(done.steps.read.error).toMatchObject({ code: 'TOOL_ERROR', message: expect.stringMatching(/ENOENT|no such file/i) });
    expect(done.steps.write.status).toBe('pending');
    expect(existsSync(join(dir, 'never.txt'))).toBe(false);
  }, 90_000);
});

describe('a server whose output breaks its own outputSchema', () => {
  it('fails the step with TOOL_OUTPUT_INVALID naming the fields, and runs nothing after it', async ({ app }) => {
    const { run: done } = await runThrough(app, 'check-refund', {});
    expect(done.status).toBe('failed');
    expect(done.steps.lookup.error?.code).toBe('TOOL_OUTPUT_INVALID');
    expect(done.steps.lookup.error?.message).toMatch(
      /bad\.get_refund returned output that breaks its own outputSchema: .*amount must be integer/,
    );
    expect(done.steps.lookup.error?.message).toMatch(/refund\.status is required/);
    // What it did answer is kept for whoever looks into it.
    expect(done.steps.lookup.output).toEqual({ id: 're_1', amount: '12.50', refund: {} });
    expect(done.steps.again.status).toBe('pending');
  }, 60_000);
});
