// The web app in chromium: chat, operator console and inspector against a real server.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { audit, backend, counted, createSession, runApprovedTool, token, until, sleep } from './tether.mjs';
import { launch, open, runAt, say, watchRun } from './browser.mjs';

let browser;
before(async () => (browser = await launch()));
after(async () => browser?.close());

const streaming = (page, min) => until(async () => (await runAt(page)).text.split(' ').length >= min, 10000, 'the answer to stream');

test('app: two tabs of one session see the same answer', async () => {
  const view = await createSession();
  const alice = await token('alice', { session: view.id });
  const context = await browser.newContext();
  const [a, b] = [await open(context, 'chat', view.id, alice), await open(context, 'chat', view.id, alice)];
  await say(a, 'count to 40');
  const [ra, rb] = await Promise.all([watchRun(a, counted(40)), watchRun(b, counted(40))]);
  assert.equal(ra.status, 'completed');
  assert.equal(ra.text, counted(40));
  assert.equal(rb.text, counted(40));
  assert.equal(ra.id, rb.id);
  await context.close();
});

test('app: a reload mid-answer resumes with no duplicated or missing text', async () => {
  const view = await createSession();
  const context = await browser.newContext();
  const page = await open(context, 'chat', view.id, await token('alice', { session: view.id }));
  await say(page, 'count to 80');
  await streaming(page, 10);
  await page.reload();
  await page.getByTestId('timeline').waitFor();
  const run = await watchRun(page, counted(80));
  assert.equal(run.status, 'completed');
  assert.equal(run.text, counted(80));
  await context.close();
});

test('app: offline then online shows the reconnect banner and resumes the answer exactly', async () => {
  const view = await createSession();
  const context = await browser.newContext();
  const page = await open(context, 'chat', view.id, await token('alice', { session: view.id }));
  await say(page, 'count to 80');
  await streaming(page, 5);
  await context.setOffline(true);
  await page.getByTestId('reconnect-banner').waitFor({ timeout: 5000 });
  const frozen = (await runAt(page)).text;
  await sleep(1000);
  assert.equal((await runAt(page)).text, frozen, 'nothing arrives while offline');
  await context.setOffline(false);
  const run = await watchRun(page, counted(80));
  assert.equal(run.text, counted(80));
  assert.equal(await page.getByTestId('reconnect-banner').count(), 0);
  await context.close();
});

test('app: closing the tab does not cancel the run; Stop does', async () => {
  const view = await createSession();
  const alice = await token('alice', { session: view.id });
  const context = await browser.newContext();
  const page = await open(context, 'chat', view.id, alice);
  await say(page, 'count to 60');
  await streaming(page, 5);
  const { id } = await runAt(page);
  await page.close();
  const done = await until(async () => {
    const v = await backend('GET', `/v1/sessions/${view.id}`);
    return v.runs.length === 0 ? true : null;
  }, 15000, 'the run to end with no tab open');
  assert.ok(done);
  const log = (await backend('GET', `/v1/sessions/${view.id}/snapshot`)).filter((e) => e.type === 'run' && e.key === id);
  assert.equal(log[0].value.status, 'completed', 'the run went on to completion');

  const again = await open(context, 'chat', view.id, alice);
  await say(again, 'count to 300');
  await streaming(again, 5);
  await again.getByTestId('stop').click();
  const stopped = await watchRun(again, counted(300));
  assert.equal(stopped.status, 'cancelled');
  await context.close();
});

test('app: an operator takes over, the user sees the human, the agent stays silent, hand back resumes it', async () => {
  const view = await createSession();
  const context = await browser.newContext();
  const user = await open(context, 'chat', view.id, await token('alice', { session: view.id }));
  const op = await open(context, 'operator', view.id, await token('op-1', { operator: true }));
  await op.getByTestId('take').click();
  await user.getByTestId('floor-banner').and(user.locator('[data-mode=human]')).waitFor();
  await user.getByTestId('operator-presence').filter({ hasText: 'op-1' }).waitFor();
  await say(user, 'is anyone there?');
  await op.getByText('is anyone there?').waitFor();
  await say(op, 'Hi, this is Olga from support.', 'reply');
  await user.getByText('Hi, this is Olga from support.').waitFor();
  await sleep(500);
  assert.equal((await runAt(user)).count, 0, 'the agent said nothing while the human held the floor');
  await op.getByTestId('hand-back').click();
  await user.getByTestId('floor-banner').waitFor({ state: 'detached' });
  await say(user, 'count to 5');
  const run = await watchRun(user, counted(5));
  assert.equal(run.text, counted(5));
  await context.close();
});

test('app: a tool approval from the operator tab lets the run finish in the user tab', async () => {
  const view = await createSession();
  const context = await browser.newContext();
  const user = await open(context, 'chat', view.id, await token('alice', { session: view.id }));
  const op = await open(context, 'operator', view.id, await token('op-1', { operator: true }));
  await say(user, 'what is the weather in Paris?');
  await user.locator('[data-testid=tool-call][data-status=approval_required]').waitFor();
  await user.locator('[data-testid=agent-status][data-status=waiting]').waitFor();
  await op.locator('[data-testid=tool-call][data-status=approval_required]').getByTestId('approve').click();
  await runApprovedTool(view.id);
  const run = await watchRun(user, 'It is 21C in Paris.');
  assert.equal(run.status, 'completed');
  assert.equal(run.text, 'It is 21C in Paris.');
  await user.locator('[data-testid=tool-call][data-status=completed]').waitFor();
  await context.close();
});

test('app: the operator console lists sessions live; the inspector shows the log with offsets', async () => {
  const view = await createSession();
  const context = await browser.newContext();
  const user = await open(context, 'chat', view.id, await token('alice', { session: view.id }));
  const opToken = await token('op-1', { operator: true });
  const list = await context.newPage();
  await list.goto(`${process.env.TETHER_URL}/#/operator?token=${opToken}`);
  await list.locator(`[data-testid=session-row][data-session=${view.id}]`).waitFor();
  await say(user, 'count to 10');
  await watchRun(user, counted(10));
  const inspector = await open(context, 'inspect', view.id, opToken);
  await inspector.locator('[data-testid=log] tr.entry-run td.what', { hasText: 'completed' }).waitFor();
  const offsets = await inspector.$$eval('[data-testid=log] tbody tr td:first-child', (tds) => tds.map((td) => td.textContent));
  const stored = (await audit(view.id)).map((e) => e.offset);
  assert.deepEqual(offsets, stored.slice(0, offsets.length), 'the inspector shows each entry with its stored offset');
  assert.ok(offsets.length >= 10);
  const [download] = await Promise.all([inspector.waitForEvent('download'), inspector.getByTestId('export-audit').click()]);
  const { readFile } = await import('node:fs/promises');
  const exported = (await readFile(await download.path(), 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l));
  assert.ok(exported.length >= offsets.length, 'the export holds the whole log');
  assert.deepEqual(exported.slice(0, offsets.length).map((e) => e.offset), offsets);
  if (process.env.SCREENSHOTS) {
    const dir = process.env.SCREENSHOTS;
    await say(user, 'what is the weather in Paris?');
    const op = await open(context, 'operator', view.id, opToken);
    await op.getByTestId('supervise').click();
    await say(op, 'Offer the umbrella discount if they ask.', 'whisper');
    await user.locator('[data-testid=tool-call]').waitFor();
    await user.setViewportSize({ width: 1100, height: 760 });
    await user.screenshot({ path: `${dir}/chat.png` });
    await op.setViewportSize({ width: 1100, height: 760 });
    await op.screenshot({ path: `${dir}/operator.png` });
    await inspector.setViewportSize({ width: 1100, height: 760 });
    await inspector.screenshot({ path: `${dir}/inspector.png` });
  }
  await context.close();
});

test('app: Start a chat creates a session with the built-in agent and opens its chat', async () => {
  const tok = (await backend('POST', '/v1/auth/tokens', {
    sub: 'carol',
    ttl: '10m',
    capabilities: { 'sessions/*': ['create', 'read', 'join', 'publish', 'cancel'] },
  })).token;
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${process.env.TETHER_URL}/#/?token=${tok}`);
  await page.getByTestId('model').fill('scripted');
  await page.getByTestId('new-chat').click();
  await page.waitForURL(/#\/chat\/sess_/);
  await page.getByTestId('timeline').waitFor();
  await say(page, 'count to 3');
  const run = await watchRun(page, counted(3));
  assert.equal(run.text, counted(3));
  await context.close();
});
