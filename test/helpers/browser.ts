import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { type Browser, type Locator, type Page, chromium } from 'playwright-core';
import { expect } from 'vitest';
import { chromiumPath, isExecutableFile, missingChromiumMessage } from '../../scripts/ensure-chromium.ts';

export const CHROMIUM = chromiumPath();

/**
 * Fails (never skips) when there is no Chromium, saying the one command that installs it; `npm test`
 * installs it first where it can (scripts/ensure-chromium.ts). playwright-core gives each launch a
 * fresh temporary --user-data-dir and removes it on close.
 */
export function launchChromium(): Promise<Browser> {
  if (!isExecutableFile(CHROMIUM)) throw new Error(missingChromiumMessage());
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * Signs in the way a person does: opens the page once with `?token=`, which the server swaps for a
 * session cookie before redirecting to the same page without the token.
 */
export async function signIn(page: Page, baseUrl: string, token: string, path = '/ui'): Promise<void> {
  await page.goto(`${baseUrl}${path}?token=${encodeURIComponent(token)}`);
  expect(new URL(page.url()).searchParams.has('token')).toBe(false);
}

/** The card of the pending confirmation of a run (waits until the page shows it). */
export async function findConfirmation(
  page: Page,
  match: { runId?: string; connector?: string; tool?: string },
): Promise<Locator> {
  let sel = '.confirmation[data-status="pending"]';
  if (match.runId) sel += `[data-run="${match.runId}"]`;
  if (match.connector) sel += `[data-connector="${match.connector}"]`;
  if (match.tool) sel += `[data-tool="${match.tool}"]`;
  const first = page.locator(sel).first();
  await first.waitFor({ state: 'visible' });
  // Pinned by id: the card's status attribute changes once it is decided.
  const id = await first.getAttribute('data-id');
  return page.locator(`.confirmation[data-id="${id}"]`);
}

/** The exact JSON arguments the card shows, parsed. */
export async function confirmationArguments(card: Locator): Promise<Record<string, unknown>> {
  return JSON.parse(await card.locator('pre.arguments').innerText()) as Record<string, unknown>;
}

/** Clicks Approve (optionally ticking "remember for this session") and waits for the server's yes. */
export async function approve(card: Locator, opts: { remember?: boolean } = {}): Promise<void> {
  if (opts.remember) await card.locator('input[name=remember]').check();
  await card.locator('button[data-action=approve]').click();
  await expect.poll(() => card.locator('.outcome').innerText(), { timeout: 10_000 }).toMatch(/^Approved/);
}

/** Waits until the page (without reloading) shows the run in `status`. */
export async function waitForRunStatus(page: Page, runId: string, status: string, timeoutMs = 20_000): Promise<void> {
  await page
    .locator(`[data-run-status="${runId}"]`, { hasText: status.replace(/_/g, ' ') })
    .first()
    .waitFor({ state: 'visible', timeout: timeoutMs });
}

export async function screenshot(page: Page, path: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  await page.screenshot({ path, fullPage: true });
}

/** Clicks "Approve the plan" on a run or decide page and waits until the page says it is approved. */
export async function approvePlanOnPage(page: Page): Promise<void> {
  await page.locator('button[data-plan-approve]').click();
  await expect
    .poll(() => page.locator('section.plan .actions .outcome').innerText(), { timeout: 10_000 })
    .toMatch(/^Plan approved/);
}
