// The sample useChat page: the AI SDK's React hook over @tether/ai-transport, in chromium.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { URL_BASE, backend, counted, createSession, token, until } from './tether.mjs';
import { launch } from './browser.mjs';

let browser;
before(async () => (browser = await launch()));
after(async () => browser?.close());

async function openChat(context, sessionId, tok) {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
  await page.goto(`${URL_BASE}/usechat.html?session=${sessionId}#?token=${tok}`);
  await page.getByTestId('ui-input').waitFor();
  return page;
}

const assistantTexts = (page) => page.$$eval('[data-testid=ui-assistant]', (els) => els.map((e) => e.textContent.replace(/^assistant:\s*/, '')));
const send = async (page, text) => {
  await page.getByTestId('ui-input').fill(text);
  await page.getByTestId('ui-send').click();
};
const runsOf = async (id) => (await backend('GET', `/v1/sessions/${id}/snapshot`)).filter((e) => e.type === 'run').map((e) => e.value);

test('useChat: sendMessages streams the run; a reload mid-answer resumes it once, without replaying what was shown', async () => {
  const view = await createSession();
  const context = await browser.newContext();
  const tok = await token('alice', { session: view.id });
  const page = await openChat(context, view.id, tok);
  await send(page, 'count to 20');
  await until(async () => (await assistantTexts(page)).at(-1) === counted(20), 10000, 'the first answer');
  await page.getByTestId('chat-status').filter({ hasText: 'ready' }).waitFor();

  await send(page, 'count to 80');
  // the second answer's own words: the first one has more than 10 already
  await until(async () => {
    const t = await assistantTexts(page);
    return t.length === 2 && t[1].split(' ').length > 10;
  }, 10000, 'the second answer streaming');
  await page.reload();
  await page.getByTestId('ui-input').waitFor();
  const texts = await until(async () => {
    const t = await assistantTexts(page);
    return t.at(-1) === counted(80) ? t : null;
  }, 15000, 'the resumed answer', async () => ({ shown: await assistantTexts(page), status: await page.getByTestId('chat-status').textContent(), runs: await runsOf(view.id) }));
  assert.deepEqual(texts, [counted(20), counted(80)], 'history, then the resumed run once');
  const runs = await until(async () => {
    const r = await runsOf(view.id);
    return r.every((x) => x.status === 'completed') ? r : null;
  }, 5000, 'both runs completed');
  assert.equal(runs.length, 2);
  await context.close();
});

test('useChat: a plain abort leaves the run going; resumeStream shows the whole answer once', async () => {
  const view = await createSession();
  const context = await browser.newContext();
  const page = await openChat(context, view.id, await token('alice', { session: view.id }));
  await send(page, 'count to 80');
  await until(async () => ((await assistantTexts(page)).at(-1) ?? '').split(' ').length > 10, 10000, 'streaming');
  await page.getByTestId('ui-detach').click();
  await page.getByTestId('chat-status').filter({ hasText: 'ready' }).waitFor();
  const shown = (await assistantTexts(page)).at(-1);
  assert.ok(counted(80).startsWith(shown) && shown.length < counted(80).length, `detached mid-answer: ${shown}`);
  assert.equal((await runsOf(view.id)).at(-1).status, 'running', 'the abort did not cancel the run');
  await page.getByTestId('ui-resume').click();
  await until(async () => (await assistantTexts(page)).at(-1) === counted(80), 15000, 'the whole answer, once');
  assert.deepEqual(await assistantTexts(page), [counted(80)]);
  await context.close();
});

test('useChat: Stop cancels the run; closing the tab does not', async () => {
  const view = await createSession();
  const context = await browser.newContext();
  const tok = await token('alice', { session: view.id });
  const page = await openChat(context, view.id, tok);
  await send(page, 'count to 300');
  await until(async () => ((await assistantTexts(page)).at(-1) ?? '').length > 5, 10000, 'streaming');
  await page.getByTestId('ui-stop').click();
  await until(async () => (await runsOf(view.id)).at(-1)?.status === 'cancelled', 5000, 'cancelled');

  const before = (await assistantTexts(page)).length;
  await send(page, 'count to 60');
  await until(async () => {
    const texts = await assistantTexts(page);
    return texts.length > before && texts.at(-1).split(' ').length > 3;
  }, 10000, 'the new answer streaming');
  await page.close();
  const last = await until(async () => {
    const r = (await runsOf(view.id)).at(-1);
    return r && r.status !== 'running' && r.status !== 'queued' ? r : null;
  }, 15000, 'the run to end');
  if (last.status !== 'completed') console.error(JSON.stringify(await runsOf(view.id)));
  assert.equal(last.status, 'completed', 'closing the tab left the run alone');
  assert.equal(last.text, counted(60));
  await context.close();
});
