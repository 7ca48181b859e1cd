// Chromium (Debian's, CHROMIUM_PATH) through playwright-core, and page helpers for the app's views.
import { chromium } from 'playwright-core';
import { URL_BASE, until } from './tether.mjs';

export async function launch() {
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

/** Opens `view` (chat, operator, inspect) of a session in a new tab with `token`. */
export async function open(context, view, sessionId, token) {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
  await page.goto(`${URL_BASE}/#/${view}/${sessionId}?token=${token}`);
  await page.getByTestId('timeline').or(page.getByTestId('log')).first().waitFor();
  return page;
}

export async function say(page, text, testid = 'composer') {
  await page.getByTestId(testid).fill(text);
  await page.getByTestId(testid).press('Enter');
}

/** The text and status of the n-th run shown (-1: the last). */
export async function runAt(page, n = -1) {
  return page.evaluate((n) => {
    const runs = [...document.querySelectorAll('[data-testid=run]')];
    const run = runs.at(n);
    if (!run) return { count: runs.length, text: '', status: '' };
    const text = run.querySelector('[data-testid=run-text]').textContent.replace('▍', '');
    return { count: runs.length, text, status: run.dataset.status, id: run.dataset.runId };
  }, n);
}

/**
 * Waits until the last run ends, sampling its text meanwhile: every sample must be a prefix of
 * `expected` (a duplicated or skipped piece would not be). Returns the final run.
 */
export async function watchRun(page, expected, ms = 20000) {
  return until(async () => {
    const run = await runAt(page);
    if (!expected.startsWith(run.text)) throw new Error(`shown text is not a prefix of the answer: ${JSON.stringify(run.text)}`);
    return run.status && !['queued', 'running', 'waiting_approval'].includes(run.status) ? run : null;
  }, ms, 'the run to end');
}
