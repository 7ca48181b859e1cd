// The web app's weight and first paint: gzip sizes of what each page loads (from web/app/dist),
// and cold loads in chromium (a new context each time, so nothing cached): first paint, first
// contentful paint, and the time until the chat view shows a session's log.
//   node measure.mjs URL RUNS        (run.sh starts the server; CHROMIUM_PATH names the browser)
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const WEB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web');
const { chromium } = createRequire(path.join(WEB, 'package.json'))('playwright-core');
const [url, runs = '10'] = process.argv.slice(2);
const DIST = path.join(WEB, 'app/dist');

/** The files a page loads (its html, module scripts, modulepreloads, stylesheets), raw and gzip. */
function weight(page) {
  const html = readFileSync(path.join(DIST, page), 'utf8');
  const files = [page, ...[...html.matchAll(/(?:src|href)="\/([^"]+)"/g)].map((m) => m[1])];
  let raw = 0;
  let gz = 0;
  for (const f of files) {
    const bytes = readFileSync(path.join(DIST, f));
    raw += bytes.length;
    gz += gzipSync(bytes, { level: 9 }).length;
  }
  return { page, files: files.length, raw, gz };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p90 = (xs) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.9))];

const sizes = [weight('index.html'), weight('usechat.html')];
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
const session = await (await fetch(`${url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ agent: { model: 'demo', instructions: 'Be brief.' } }) })).json();
// chromium's own floor: a one-line page from a data: URL, cold, the same way
const floor = [];
for (let i = 0; i < Number(runs); i++) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto('data:text/html,<p>hello</p>');
  await page.waitForFunction(() => performance.getEntriesByName('first-contentful-paint').length > 0);
  floor.push(await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0].startTime));
  await context.close();
}
const fp = [], fcp = [], log = [];
const WARMUP = 3; // the server's first requests run cold (JIT): not counted
for (let i = 0; i < Number(runs) + WARMUP; i++) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const start = Date.now();
  await page.goto(`${url}/#/chat/${session.id}`);
  await page.locator('[data-testid=timeline]').waitFor();
  await page.locator('[data-testid=agent-status]').waitFor({ timeout: 10000 });
  const shown = Date.now() - start;
  const paints = await page.evaluate(() => Object.fromEntries(performance.getEntriesByType('paint').map((e) => [e.name, e.startTime])));
  if (i >= WARMUP) {
    log.push(shown);
    fp.push(paints['first-paint']);
    fcp.push(paints['first-contentful-paint']);
  }
  await context.close();
}
await browser.close();
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log('| page | files | raw | gzip |\n|---|---|---|---|');
for (const s of sizes) console.log(`| ${s.page} | ${s.files} | ${kib(s.raw)} | ${kib(s.gz)} |`);
console.log(`\n${runs} cold loads of /#/chat/<id> in chromium (new context each, after ${WARMUP} not counted):\n`);
console.log('| | median | p90 |\n|---|---|---|');
console.log(`| first paint | ${median(fp).toFixed(0)} ms | ${p90(fp).toFixed(0)} ms |`);
console.log(`| first contentful paint | ${median(fcp).toFixed(0)} ms | ${p90(fcp).toFixed(0)} ms |`);
console.log(`| first contentful paint of a one-line data: page (chromium's floor here) | ${median(floor).toFixed(0)} ms | ${p90(floor).toFixed(0)} ms |`);
console.log(`| the session's log shown (goto → the agent's presence rendered, timed by the driver) | ${median(log)} ms | ${p90(log)} ms |`);
