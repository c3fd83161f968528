// The audit console in a real browser (Debian's chromium driven by
// playwright-core; ctest runs it): `node console_test.mjs BILLSIM SCREENSHOT`.
// Starts `billsim serve --http` on loopback ports in a temporary directory,
// appends a book through the API, then checks that the page loads with no
// console errors, the chart canvas is painted, the entries table shows the
// API's rows, the as-of picker changes the balance shown, and a live append
// shows without a reload. Keeps a screenshot. Stops the server whatever
// happens.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';

const [billsim, screenshot] = process.argv.slice(2);
if (!billsim || !screenshot) {
  console.error('usage: node console_test.mjs BILLSIM SCREENSHOT');
  process.exit(2);
}

const T0 = 1768435200000000n;  // 2026-01-15T00:00:00Z
const HOUR = 3600000000n;
const UNIT = 1000000n;
let nextId = 1;
const ev = (dt, payload) => Object.assign({ event_id: String(nextId++), time_us: String(T0 + dt) }, payload);

// A book with every kind of marker: a deposit, a grant that expires, a daily
// campaign that holds and returns budget, charges.
const book = [
  ev(0n, { account_opened: { account_id: 'cafe', currency: 'USD', utc_offset_minutes: 60 } }),
  ev(1n, { cash_deposited: { account_id: 'cafe', amount_micros: String(50n * UNIT) } }),
  ev(2n, { credit_granted: { account_id: 'cafe', grant_id: 'welcome', amount_micros: String(20n * UNIT),
                             expires_at_us: String(T0 + 5n * HOUR) } }),
  ev(3n, { campaign_created: { account_id: 'cafe', campaign_id: 'spring', objective: 'OBJECTIVE_TRAFFIC',
                               billing_event: 'BILLING_EVENT_CPC', price_micros: String(UNIT),
                               budget_mode: 'BUDGET_MODE_DAY', budget_micros: String(60n * UNIT),
                               creative_reviewed: true, audience_defined: true,
                               landing_page_url: 'https://example.com' } }),
  ev(4n, { campaign_status_changed: { account_id: 'cafe', campaign_id: 'spring', operation: 'ENABLE' } }),
];
for (let i = 1n; i <= 6n; i++) {
  book.push(ev(i * 30n * 60000000n, { delivery_reported: { account_id: 'cafe', campaign_id: 'spring',
                                                            kind: 'CLICK', count: '1' } }));
}
book.push(ev(4n * HOUR, { campaign_status_changed: { account_id: 'cafe', campaign_id: 'spring',
                                                     operation: 'DISABLE' } }));
book.push(ev(6n * HOUR, { clock_advanced: {} }));
// Ahead, for the forecast: more credit than a second daily campaign spends
// before it expires.
book.push(ev(6n * HOUR + 1n, { credit_granted: { account_id: 'cafe', grant_id: 'spring-promo',
                                                 amount_micros: String(300n * UNIT),
                                                 expires_at_us: String(T0 + 96n * HOUR) } }));
book.push(ev(6n * HOUR + 2n, { campaign_created: { account_id: 'cafe', campaign_id: 'summer',
                                                   objective: 'OBJECTIVE_TRAFFIC', billing_event: 'BILLING_EVENT_CPC',
                                                   price_micros: String(UNIT), budget_mode: 'BUDGET_MODE_DAY',
                                                   budget_micros: String(50n * UNIT), creative_reviewed: true,
                                                   audience_defined: true, landing_page_url: 'https://example.com' } }));
book.push(ev(6n * HOUR + 3n, { campaign_status_changed: { account_id: 'cafe', campaign_id: 'summer',
                                                          operation: 'ENABLE' } }));

const failures = [];
const check = (ok, what) => { if (!ok) failures.push(what); console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`); };

const dir = mkdtempSync(join(tmpdir(), 'billsim-console-'));
const server = serve(billsim, dir);
let browser;
try {
  const base = await server.start();
  const api = async (path, init) => {
    const res = await fetch(base + path, init);
    const body = await res.json();
    if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
    return body;
  };
  const post = (events) => api('/api/v1/events', { method: 'POST', body: JSON.stringify(events),
                                                  headers: { 'Content-Type': 'application/json' } });
  const ack = await post(book);
  for (const r of ack.rejections) console.log('rejected: ' + r.reason);
  check(ack.accepted === book.length, `the book is accepted (${ack.accepted} of ${book.length})`);

  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  const context = await browser.newContext({ timezoneId: 'UTC', viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(e.message));
  const started = Date.now();
  await page.goto(base + '/#account=cafe');
  await page.waitForFunction(() => document.body.dataset.state === 'ready', null, { timeout: 20000 });
  console.log(`console loaded the account in ${Date.now() - started} ms`);

  // The chart: a canvas with paint on it, and markers for the expiry.
  const painted = await page.evaluate(() => {
    const c = document.querySelector('#chart canvas');
    if (!c) return 0;
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) n += d[i] > 0 ? 1 : 0;
    return n;
  });
  check(painted > 1000, `the chart canvas is painted (${painted} pixels)`);
  const timeline = await api('/api/v1/accounts/cafe/timeline?points=400');
  const kinds = new Set(timeline.points.map((p) => p.kind));
  check(kinds.has('PROMOTION_EXPIRED') && kinds.has('RETURN_OF_REMAINING_BUDGET') && kinds.has('ADD_BALANCE'),
        `the timeline holds the expiry, the returned budget and the deposit (${[...kinds].join(' ')})`);

  // The forecast continues the chart (dashed series) and is told in words.
  const forecast = await api('/api/v1/accounts/cafe/forecast');
  const shown = await page.evaluate(() => ({
    series: state.plot.series.map((x) => x.label),
    note: document.getElementById('forecast-note').textContent,
    until: state.forecast && state.forecast.until_us,
  }));
  check(shown.series.includes('valid (forecast)') && shown.until === forecast.until_us &&
        shown.note.startsWith('Forecast (dashed') && shown.note.includes('grant spring-promo expires') &&
        forecast.grants.length === 1 && forecast.grants[0].expires_unused_micros !== '0',
        `the forecast is drawn and told (${shown.note})`);

  // The accounts list: the account with its four balances.
  const listed = await page.$$eval('#accounts tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  const acct = await api('/api/v1/accounts/cafe');
  const fmt = (m) => (Number(BigInt(m) / 10000n) / 100).toFixed(2);
  check(listed.length === 1 && listed[0][0] === 'cafe' && listed[0][1] === fmt(acct.cash_balance) &&
        listed[0][2] === fmt(acct.grant_balance) && listed[0][3] === fmt(acct.frozen_balance) &&
        listed[0][4] === fmt(acct.valid_balance) + ' USD',
        `the accounts list shows the four balances (${JSON.stringify(listed)})`);

  // The entries table: the API's first page, row for row.
  const entries = await api('/api/v1/accounts/cafe/entries?limit=50');
  const rows = await page.$$eval('#entries tbody tr', (trs) => trs.map((tr) => tr.dataset.seq));
  check(JSON.stringify(rows) === JSON.stringify(entries.items.map((i) => i.entry.seq)),
        `the entries table shows the API's rows (${rows.length})`);

  // As of: before the deposit the cash is zero; now it is the balance.
  const balance = await api('/api/v1/accounts/cafe');
  const cashNow = await page.textContent('#bal-cash');
  await page.fill('#asof', '2026-01-14T23:00:00');
  await page.dispatchEvent('#asof', 'change');
  await page.waitForFunction(() => document.getElementById('bal-cash').textContent === '0.00 USD',
                             null, { timeout: 10000 }).catch(() => {});
  check(await page.textContent('#bal-cash') === '0.00 USD', 'the as-of picker shows the balance before the deposit');
  await page.click('#asof-now');
  await page.waitForFunction((t) => document.getElementById('bal-cash').textContent === t, cashNow,
                             { timeout: 10000 }).catch(() => {});
  check(await page.textContent('#bal-cash') === cashNow,
        `"now" shows the live balance again (${cashNow}; API cash ${balance.cash_balance})`);
  // "Now" clicked while an as-of answer is on its way (held back 500 ms
  // here): the late answer must not replace the live balance.
  const asOfUrl = (url) => url.search.includes('as_of=');
  const late = (route) => setTimeout(() => route.continue().catch(() => {}), 500);
  await page.route(asOfUrl, late);
  const asOfAnswer = page.waitForResponse((r) => r.url().includes('as_of='), { timeout: 10000 })
      .catch(() => null);
  await page.fill('#asof', '2026-01-14T23:00:00');
  await page.dispatchEvent('#asof', 'change');
  await page.click('#asof-now');
  await asOfAnswer;
  await page.waitForTimeout(300);
  await page.unroute(asOfUrl, late);
  // The same for the entries table: a page of COST entries held back while
  // the filter goes back to any kind must not replace the whole page.
  const costUrl = (url) => url.pathname.endsWith('/entries') && url.search.includes('kind=COST');
  await page.route(costUrl, late);
  const costAnswer = page.waitForResponse((r) => r.url().includes('kind=COST'), { timeout: 10000 })
      .catch(() => null);
  await page.selectOption('#kind', 'COST');
  await page.selectOption('#kind', '');
  await costAnswer;
  await page.waitForTimeout(300);
  await page.unroute(costUrl, late);
  const unfiltered = await page.$$eval('#entries tbody tr', (trs) => trs.map((tr) => tr.dataset.seq));
  check(JSON.stringify(unfiltered) === JSON.stringify(entries.items.map((i) => i.entry.seq)),
        `a late filtered page does not replace the unfiltered one (${unfiltered.length} rows, want ${entries.items.length})`);
  check(await page.textContent('#bal-cash') === cashNow,
        `a late as-of answer does not replace "now" (${await page.textContent('#bal-cash')}, want ${cashNow})`);

  // Live: a deposit appended through the API shows without a reload.
  const more = await post([ev(7n * HOUR, { cash_deposited: { account_id: 'cafe', amount_micros: String(7n * UNIT) } })]);
  const after = await api('/api/v1/accounts/cafe');
  const want = (Number(BigInt(after.cash_balance) / 10000n) / 100).toFixed(2);
  await page.waitForFunction((w) => document.getElementById('bal-cash').textContent.startsWith(w),
                             want.replace(/\B(?=(\d{3})+(?!\d))/g, ','), { timeout: 15000 }).catch(() => {});
  check((await page.textContent('#bal-cash')).startsWith(want), `a live deposit shows its balance (${want}) without a reload`);
  // The balance and the entries table refresh from separate requests, so the
  // table may be drawn a moment after the balance: wait for it as well.
  await page.waitForFunction((s) => [...document.querySelectorAll('#entries tbody tr')]
                               .some((tr) => tr.cells[1] && tr.cells[1].textContent === s),
                             more.last_seq, { timeout: 15000 }).catch(() => {});
  const seqs = await page.$$eval('#entries tbody tr', (trs) => trs.map((tr) => tr.cells[1].textContent));
  check(seqs.includes(more.last_seq), `the live deposit's entry (log sequence ${more.last_seq}) is in the table`);

  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`screenshot: ${screenshot}`);
  check(errors.length === 0, `no console errors${errors.length ? ': ' + errors.join(' | ') : ''}`);
} catch (e) {
  failures.push(e.message);
  console.log('FAIL ' + e.stack);
} finally {
  if (browser) await browser.close().catch(() => {});
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
if (failures.length) {
  console.log(`${failures.length} failed`);
  process.exit(1);
}
console.log('console: all checks passed');
