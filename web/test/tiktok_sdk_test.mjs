// TikTok's official Node SDK (tiktok-business-api-sdk-official, pinned in
// web/package-lock.json) against billsim's sandbox: `node
// tiktok_sdk_test.mjs BILLSIM`. Starts `billsim serve --http` with a token
// file on loopback ports in a temporary directory, points the SDK's
// ApiClient.basePath at it, and drives a campaign's life through the SDK:
// a transfer of cash and credit, campaigns created (one with a request_id,
// retried), delivery posted through billsim's own API, a budget and name
// update, a pause, then balances, transactions and the integrated report,
// each number compared with billsim's own projection (GET /api/v1/...).
// Stops the server whatever happens.
//
// What the SDK needs (read from its sources, 1.1.3): it is ESM and exports
// BCApi, CampaignCreationApi and ReportingApi (BcPaymentApi is not
// exported); every method takes the Access-Token as an argument and sends
// it as the `Access-Token` header; GET parameters that are arrays or
// objects are sent as JSON strings; callbacks get (error, data, response):
// on `code` 0 it deletes `code` and `message` and hands over
// {request_id, data}, on any other code it makes an Error whose message is
// "request_id:… message:… code:…". Numbers arrive as JS numbers: the test
// compares them with billsim's micro-units divided by 10^6 (both are the
// correctly rounded double of the same decimal).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sdk from 'tiktok-business-api-sdk-official';
import { serve } from './serve.mjs';

const [billsim] = process.argv.slice(2);
if (!billsim) {
  console.error('usage: node tiktok_sdk_test.mjs BILLSIM');
  process.exit(2);
}

const TOKEN = 'sandbox-token-0123456789';
const T0 = 1768435200000000n;  // 2026-01-15T00:00:00Z
const HOUR = 3600000000n;
const failures = [];
const check = (ok, what) => { if (!ok) failures.push(what); console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`); };
const money = (micros) => Number(BigInt(micros)) / 1e6;

// The SDK's callback style as a promise: resolves with `data` (code 0).
const call = (fn) => new Promise((resolve, reject) => {
  fn((error, data) => (error ? reject(error) : resolve(data)));
});

const dir = mkdtempSync(join(tmpdir(), 'billsim-tiktok-'));
writeFileSync(join(dir, "tokens"), `operator ${TOKEN}\n`, { mode: 0o600 });
const server = serve(billsim, dir, ['--token-file', join(dir, 'tokens')]);
try {
  const base = await server.start();
  // billsim's own API: the truth every SDK figure is compared with.
  const api = async (path, init = {}) => {
    const res = await fetch(base + path, { ...init, headers: { ...(init.headers || {}), Authorization: `Bearer ${TOKEN}` } });
    const body = await res.json();
    if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
    return body;
  };
  const post = (events) => api('/api/v1/events', { method: 'POST', body: JSON.stringify(events),
                                                  headers: { 'Content-Type': 'application/json' } });

  // The account, in a business center, opened through billsim's API (the
  // SDK's part starts with money).
  await post([{ event_id: '1', time_us: String(T0),
                account_opened: { account_id: '7001', currency: 'USD', utc_offset_minutes: -300,
                                  name: 'Shoe Shop', business_center_id: 'bc-1' } }]);

  const client = new sdk.ApiClient();
  client.basePath = base;
  const bc = new sdk.BCApi(client);
  const campaigns = new sdk.CampaignCreationApi(client);
  const reporting = new sdk.ReportingApi(client);

  // A wrong token is TikTok's 40105, as an Error from the SDK.
  const badToken = await call((cb) => bc.advertiserBalanceGet('bc-1', 'wrong', {}, cb)).catch((e) => e);
  check(badToken instanceof Error && /code: 40105/.test(badToken.message), 'a wrong Access-Token is code 40105');

  // Money in: 500.00 cash and 120.50 credit expiring on 2026-01-20.
  await call((cb) => bc.bcTransfer(TOKEN, { body: { bc_id: 'bc-1', advertiser_id: '7001', transfer_type: 'RECHARGE',
                                                    cash_amount: 500, grant_amount: 120.5,
                                                    grant_expire_time: '2026-01-20T00:00:00Z' } }, cb));
  const refused = await call((cb) => bc.bcTransfer(TOKEN, { body: { bc_id: 'bc-1', advertiser_id: '7001',
                                                                  transfer_type: 'REFUND', cash_amount: 5 } }, cb))
    .catch((e) => e);
  check(refused instanceof Error && /transfer_type/.test(refused.message) && /code: 40002/.test(refused.message),
        'a REFUND transfer is refused naming transfer_type (40002)');

  // Campaigns: a daily CPC one (request_id, retried), a lifetime CPM one.
  const create = (body) => call((cb) => campaigns.campaignCreate(TOKEN, { body }, cb));
  const sneakers = { advertiser_id: '7001', campaign_name: 'Sneakers', objective_type: 'TRAFFIC',
                     budget_mode: 'BUDGET_MODE_DAY', budget: 80, bid_price: 0.5, request_id: '9001' };
  const c1 = await create(sneakers);
  const c1again = await create(sneakers);
  check(c1.data.campaign_id === c1again.data.campaign_id, 'campaign/create with the same request_id answers the same campaign');
  const c2 = await create({ advertiser_id: '7001', campaign_name: 'Boots', objective_type: 'REACH',
                            budget_mode: 'BUDGET_MODE_TOTAL', budget: 200, billing_event: 'CPM', bid_price: 6 });
  const id1 = c1.data.campaign_id, id2 = c2.data.campaign_id;
  check(c1.data.operation_status === 'ENABLE' && c2.data.operation_status === 'ENABLE',
        'campaigns are created enabled (TikTok\'s default)');
  const badBudget = await create({ ...sneakers, request_id: '9002', budget: 10 }).catch((e) => e);
  check(badBudget instanceof Error && /budget/.test(badBudget.message), 'a budget under the minimum is refused naming the budget');

  // Delivery through billsim's API, over two local days (UTC-5).
  let next = 10;
  const deliver = (dt, campaign, kind, count) => ({ event_id: String(next++), time_us: String(T0 + dt),
    delivery_reported: { account_id: '7001', campaign_id: campaign, kind, count: String(count) } });
  await post([deliver(10n * HOUR, id1, 'IMPRESSION', 4000), deliver(10n * HOUR, id1, 'CLICK', 60),
              deliver(11n * HOUR, id2, 'IMPRESSION', 12500), deliver(11n * HOUR, id2, 'CLICK', 7),
              deliver(30n * HOUR, id1, 'CLICK', 170)]);  // 85.00 > the 80.00 daily budget

  // Budget up, renamed; then paused.
  const updated = await call((cb) => campaigns.campaignUpdate(TOKEN, { body: { advertiser_id: '7001', campaign_id: id1,
                                                                            campaign_name: 'Sneakers (spring)', budget: 100 } }, cb));
  check(updated.data.campaign_name === 'Sneakers (spring)' && updated.data.budget === 100, 'campaign/update renames and rebudgets');
  const paused = await call((cb) => campaigns.campaignStatusUpdate(TOKEN, { body: { advertiser_id: '7001', campaign_ids: [id1],
                                                                                 operation_status: 'DISABLE' } }, cb));
  check(JSON.stringify(paused.data.campaign_ids) === JSON.stringify([id1]) && paused.data.status === 'DISABLE',
        'campaign/status/update pauses');
  await post([deliver(31n * HOUR, id1, 'CLICK', 5)]);  // after the pause: not billed

  // Read back through the SDK; compare with billsim's projections.
  const got = await call((cb) => campaigns.campaignGet('7001', TOKEN, { filtering: { campaign_ids: [id1, id2] } }, cb));
  check(got.data.page_info.total_number === 2 && got.data.list[0].campaign_name === 'Sneakers (spring)' &&
        got.data.list[0].operation_status === 'DISABLE' && got.data.list[1].operation_status === 'ENABLE',
        'campaign/get lists both with their names and statuses');

  const truth = await api('/api/v1/accounts/7001');
  const balances = await call((cb) => bc.advertiserBalanceGet('bc-1', TOKEN, { page: 1, page_size: 10 }, cb));
  const acct = balances.data.advertiser_account_list[0];
  check(balances.data.page_info.total_number === 1 && acct.advertiser_id === '7001', 'advertiser/balance/get lists the center\'s account');
  check(acct.cash_balance === money(truth.cash_balance) && acct.grant_balance === money(truth.grant_balance) &&
        acct.frozen_balance === money(truth.frozen_balance) && acct.valid_account_balance === money(truth.valid_balance),
        `balances equal billsim's (cash ${acct.cash_balance}, grant ${acct.grant_balance}, frozen ${acct.frozen_balance})`);
  check(Math.abs(acct.account_balance - (acct.valid_account_balance + acct.frozen_balance + acct.tax)) < 1e-9,
        'account_balance = valid_account_balance + frozen_balance + tax');

  const tx = await call((cb) => bc.bcAccountTransactionGet(TOKEN, { bc_id: 'bc-1', page_size: 100,
                                                                   filtering: { account_ids: ['7001'] } }, cb));
  const history = await api('/api/v1/accounts/7001/entries?limit=1000');
  const moneyKinds = new Set(['ADD_BALANCE', 'PROMOTION_ISSUED', 'PROMOTION_EXPIRED', 'RETURN_OF_REMAINING_BUDGET', 'REFUND', 'COST']);
  const expected = history.items.map((i) => i.entry).filter((e) => moneyKinds.has(e.kind));
  check(tx.data.page_info.total_number === expected.length && tx.data.transaction_list.every((t, i) =>
    t.transaction_type === expected[i].kind && String(t.transaction_id) === String(expected[i].seq)),
        `bc/account/transaction/get lists billsim's ${expected.length} money entries in order`);
  const costs = tx.data.transaction_list.filter((t) => t.transaction_type === 'COST').reduce((s, t) => s - t.amount, 0);
  check(Math.abs(costs - money(truth.total_spent)) < 1e-9, `the COST transactions sum to billsim's total spent (${costs})`);

  const daily = await call((cb) => bc.advertiserTransactionGet('bc-1', TOKEN, { filtering: { advertiser_ids: ['7001'] } }, cb));
  // The transfer came at T0, 2026-01-14 19:00 local (UTC-5); delivery on the 15th and 16th.
  const byDay = new Map();
  for (const e of expected.filter((e) => e.kind === 'COST')) {
    const local = new Date(Number(BigInt(e.time_us) / 1000n) - 5 * 3600000).toISOString().slice(0, 10);
    byDay.set(local, (byDay.get(local) || 0) - money(e.balance_delta_micros));
  }
  check(daily.data.list.length === 3 && daily.data.list[0].date === '2026-01-14' && daily.data.list[0].cash_in === 500 &&
        daily.data.list[0].grant_in === 120.5 &&
        daily.data.list.slice(1).every((d) => Math.abs(d.cash_cost + d.grant_cost - byDay.get(d.date)) < 1e-9),
        'advertiser/transaction/get sums money in and costs by local day');

  const report = await call((cb) => reporting.reportIntegratedGet('BASIC', TOKEN, {
    advertiser_id: '7001', data_level: 'AUCTION_CAMPAIGN', dimensions: ['campaign_id', 'stat_time_day'],
    metrics: ['spend', 'impressions', 'clicks', 'cpm'], start_date: '2026-01-15', end_date: '2026-01-16', page_size: 50 }, cb));
  const rows = report.data.list;
  for (const id of [id1, id2]) {
    const spend = await api(`/api/v1/campaigns/${id}`);
    const mine = rows.filter((r) => r.dimensions.campaign_id === id);
    const sum = (f) => mine.reduce((s, r) => s + Number(r.metrics[f]), 0);
    check(Math.abs(sum('spend') - money(spend.billed_micros)) < 1e-9 &&
          sum('impressions') === Number(spend.impressions) && sum('clicks') === Number(spend.clicks),
          `report rows of ${id} sum to billsim's spend ${money(spend.billed_micros)}, impressions and clicks`);
  }
  const day2 = rows.find((r) => r.dimensions.campaign_id === id1 && r.dimensions.stat_time_day === '2026-01-16 00:00:00');
  check(day2 !== undefined && day2.metrics.spend === '80.00' && day2.metrics.clicks === '175',
        'the second local day: 80.00 spent (the daily budget), 175 clicks delivered');
} catch (e) {
  failures.push(String(e.stack || e));
  console.log('FAIL ' + (e.stack || e));
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
if (failures.length > 0) {
  console.log(`${failures.length} check(s) failed`);
  process.exit(1);
}
console.log('all checks passed');
