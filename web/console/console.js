// billsim audit console: plain JavaScript over the HTTP/JSON API (README
// "HTTP/JSON API"). Money arrives as strings of integer micro-units and is
// formatted with BigInt; only the chart scales it to numbers.
'use strict';

const state = {
  token: sessionStorage.getItem('billsim-token') || '',
  account: null,       // the AccountBalance of the selected account
  accountsCursor: '0',
  entriesCursor: '0',  // the cursor the entries page shown was asked with
  nextCursor: '0',
  asOf: null,          // microseconds (string) or null: live
  timeline: null,
  forecast: null,      // the account's ForecastReport, or null
  plot: null,
  stream: null,        // AbortController of the live stream
  refreshTimer: null,
  asks: {},            // calls of each kind of load (ask below)
};

// Starts a load of kind `what` and returns whether it has gone stale: a
// later load of the same kind started since (another as-of time or "now",
// a filter changed again, another account), so its answer, which may come
// back after the later one's, must not be shown.
function ask(what) {
  const n = (state.asks[what] = (state.asks[what] || 0) + 1);
  return () => state.asks[what] !== n;
}

const $ = (id) => document.getElementById(id);
const MARKERS = {
  ADD_BALANCE: { cls: 'm-deposit', color: '#16a34a', glyph: '●' },
  PROMOTION_ISSUED: { cls: 'm-grant', color: '#7c3aed', glyph: '●' },
  PROMOTION_EXPIRED: { cls: 'm-expired', color: '#dc2626', glyph: '▼' },
  RETURN_OF_REMAINING_BUDGET: { cls: 'm-return', color: '#0891b2', glyph: '◆' },
  REFUND: { cls: 'm-refund', color: '#d97706', glyph: '★' },
};

// --- the API ---------------------------------------------------------------------

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (state.token) headers.Authorization = 'Bearer ' + state.token;
  const res = await fetch(path, Object.assign({}, options, { headers }));
  if (res.status === 401) {
    $('token-form').hidden = false;
    setStatus('this server needs a token', true);
    throw new Error('unauthenticated');
  }
  const body = await res.json();
  if (!res.ok) {
    const e = new Error(body.error ? body.error.message : res.statusText);
    e.status = res.status;
    throw e;
  }
  return body;
}

function setStatus(text, error = false) {
  $('status').textContent = text;
  $('status').className = error ? 'error' : 'muted';
}

// --- formatting ------------------------------------------------------------------

function money(micros, currency) {
  let v = BigInt(micros || '0');
  const sign = v < 0n ? '-' : '';
  if (v < 0n) v = -v;
  const whole = (v / 1000000n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  let frac = (v % 1000000n).toString().padStart(6, '0').replace(/0+$/, '');
  if (frac.length < 2) frac = frac.padEnd(2, '0');
  return `${sign}${whole}.${frac}${currency ? ' ' + currency : ''}`;
}

function usToMs(us) { return Number(BigInt(us) / 1000n); }

function utc(us) {
  return new Date(usToMs(us)).toISOString().replace('T', ' ').replace(/\.000Z$|Z$/, '');
}

// The time in the account's zone (a fixed UTC offset), with the offset.
function local(us, offsetMinutes) {
  const off = Number(offsetMinutes || 0);
  const t = new Date(usToMs(us) + off * 60000).toISOString().replace('T', ' ').replace(/\.000Z$|Z$/, '');
  const sign = off < 0 ? '-' : '+';
  const a = Math.abs(off);
  return `${t} ${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

function cell(tr, text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

// --- accounts --------------------------------------------------------------------

async function loadAccounts(append = false) {
  if (!append) state.accountsCursor = '0';
  const q = new URLSearchParams({ limit: '100', cursor: state.accountsCursor,
                                  search: $('search').value });
  const list = await api('/api/v1/accounts?' + q);
  const tbody = $('accounts').tBodies[0];
  if (!append) tbody.textContent = '';
  for (const a of list.accounts) {
    const tr = document.createElement('tr');
    tr.dataset.id = a.account_id;
    cell(tr, a.account_id);
    cell(tr, money(a.cash_balance, ''), 'num');
    cell(tr, money(a.grant_balance, ''), 'num');
    cell(tr, money(a.frozen_balance, ''), 'num');
    cell(tr, money(a.valid_balance, a.currency), 'num');
    tr.onclick = () => { location.hash = 'account=' + encodeURIComponent(a.account_id); };
    if (state.account && state.account.account_id === a.account_id) tr.className = 'selected';
    tbody.appendChild(tr);
  }
  state.accountsCursor = list.next_cursor;
  $('accounts-more').hidden = !list.truncated;
  setStatus(`${list.total} accounts`);
}

// --- one account -----------------------------------------------------------------

async function selectAccount(id) {
  const stale = ask('account');
  document.body.dataset.state = 'loading';
  const account = await api('/api/v1/accounts/' + encodeURIComponent(id));
  if (stale()) return;
  state.account = account;
  for (const tr of $('accounts').tBodies[0].rows) {
    tr.className = tr.dataset.id === id ? 'selected' : '';
  }
  const a = state.account;
  $('account').hidden = false;
  $('account-title').textContent = a.account_id;
  const off = a.utc_offset_minutes;
  $('account-meta').textContent =
      `${a.currency} · time zone UTC${off < 0 ? '-' : '+'}${Math.abs(off) / 60}h · ` +
      `${a.funding_order.replace('FUNDING_ORDER_', '').toLowerCase().replace('_', ' ')} · ` +
      `deposited ${money(a.total_deposited, a.currency)} · granted ${money(a.total_granted, a.currency)} · ` +
      `spent ${money(a.total_spent, a.currency)} · expired ${money(a.total_expired, a.currency)} · ` +
      `adjusted ${money(a.total_adjusted, a.currency)}`;
  state.asOf = null;
  $('asof').value = '';
  await Promise.all([showBalance(), loadTimeline(), loadEntries('0'), loadSpend()]);
  follow(id);
  document.body.dataset.state = 'ready';
}

async function showBalance() {
  const stale = ask('balance');
  const a = state.account;
  let b = a;
  $('asof-note').textContent = '';
  if (state.asOf !== null) {
    const asOf = state.asOf;
    b = await api(`/api/v1/accounts/${encodeURIComponent(a.account_id)}?as_of=${asOf}`);
    if (stale()) return;
    $('asof-note').textContent = b.log_seq === '0'
        ? 'no entry by then'
        : `after entry ${b.entry_seq} (log sequence ${b.log_seq}); local ${local(asOf, a.utc_offset_minutes)}`;
  }
  $('bal-cash').textContent = money(b.cash_balance, a.currency);
  $('bal-grant').textContent = money(b.grant_balance, a.currency);
  $('bal-frozen').textContent = money(b.frozen_balance, a.currency);
  $('bal-valid').textContent = money(b.valid_balance, a.currency);
}

async function loadTimeline() {
  const stale = ask('timeline');
  const a = state.account;
  const id = encodeURIComponent(a.account_id);
  // The forecast (the ledger's own projection of the account's daily
  // budgets) continues the chart, dashed; without one, the chart is history.
  const [t, f] = await Promise.all([
    api(`/api/v1/accounts/${id}/timeline?points=400`),
    api(`/api/v1/accounts/${id}/forecast`).catch(() => null),
  ]);
  if (stale()) return;
  state.timeline = t;
  state.forecast = f;
  const xs = [], cash = [], grant = [], frozen = [], valid = [], fGrant = [], fValid = [];
  const units = (m) => Number(BigInt(m)) / 1e6;
  for (const p of t.points) {
    xs.push(usToMs(p.time_us) / 1000);
    cash.push(units(p.cash_balance));
    grant.push(units(p.grant_balance));
    frozen.push(units(p.frozen_balance));
    valid.push(units(p.valid_balance));
    fGrant.push(null);
    fValid.push(null);
  }
  if (f && f.days && f.days.length && xs.length) {
    // From the last point of history, each local day's closing balances.
    fGrant[fGrant.length - 1] = grant[grant.length - 1];
    fValid[fValid.length - 1] = valid[valid.length - 1];
    for (const d of f.days) {
      const x = usToMs(d.day_start_us) / 1000 + 86400;
      if (x <= xs[xs.length - 1]) continue;
      xs.push(x);
      for (const s of [cash, grant, frozen, valid]) s.push(null);
      fGrant.push(units(d.grant_balance));
      fValid.push(units(d.valid_balance));
    }
  }
  showForecastNote(f, a.currency);
  const data = [xs, cash, grant, frozen, valid, fGrant, fValid];
  if (state.plot) state.plot.destroy();
  const width = Math.max(400, $('chart').clientWidth || 800);
  state.plot = new uPlot({
    width, height: 280,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
    series: [
      { label: 'time (UTC)' },
      { label: 'cash', stroke: '#2563eb', paths: uPlot.paths.stepped({ align: 1 }) },
      { label: 'grant', stroke: '#7c3aed', paths: uPlot.paths.stepped({ align: 1 }) },
      { label: 'frozen', stroke: '#0891b2', paths: uPlot.paths.stepped({ align: 1 }) },
      { label: 'valid', stroke: '#111827', width: 2, paths: uPlot.paths.stepped({ align: 1 }) },
      { label: 'grant (forecast)', stroke: '#7c3aed', dash: [6, 4], paths: uPlot.paths.stepped({ align: 1 }) },
      { label: 'valid (forecast)', stroke: '#111827', width: 2, dash: [6, 4],
        paths: uPlot.paths.stepped({ align: 1 }) },
    ],
    axes: [{}, { size: 90 }],  // room for balances in the millions
    hooks: { draw: [drawMarkers] },
  }, data, $('chart'));
  state.plot.over.addEventListener('click', () => {
    const i = state.plot.cursor.idx;
    if (i !== null && i !== undefined) showAround(t.points[i]);
  });
}

// Markers on the valid line where money moved for a reason other than a
// charge.
function drawMarkers(u) {
  const ctx = u.ctx;
  ctx.save();
  ctx.font = `${Math.round(12 * devicePixelRatio)}px sans-serif`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  state.timeline.points.forEach((p, i) => {
    const m = MARKERS[p.kind];
    if (!m) return;
    const x = u.valToPos(u.data[0][i], 'x', true);
    const y = u.valToPos(u.data[4][i], 'y', true);
    ctx.fillStyle = m.color;
    ctx.fillText(m.glyph, x, y);
  });
  // Ahead: each grant's expiry within the forecast, on the dashed line.
  const f = state.forecast;
  if (f && f.grants) {
    ctx.fillStyle = MARKERS.PROMOTION_EXPIRED.color;
    for (const g of f.grants) {
      if (!g.expires_at_us || BigInt(g.expires_at_us) > BigInt(f.until_us)) continue;
      const xv = usToMs(g.expires_at_us) / 1000;
      let i = u.data[0].findIndex((v) => v >= xv);
      if (i < 0) i = u.data[0].length - 1;
      const yv = u.data[6][i] ?? u.data[4][i];
      if (yv === null || yv === undefined) continue;
      ctx.fillText('▽', u.valToPos(xv, 'x', true), u.valToPos(yv, 'y', true));
    }
  }
  ctx.restore();
}

// The forecast in words, under the chart.
function showForecastNote(f, currency) {
  const note = $('forecast-note');
  if (!f) {
    note.textContent = 'No forecast for this account.';
    return;
  }
  const parts = [];
  // Local dates: a runway is counted in the account's days.
  const date = (us) => utc((BigInt(us) + BigInt(f.utc_offset_minutes) * 60000000n).toString()).slice(0, 10);
  for (const g of f.grants || []) {
    if (g.expires_unused_micros && g.expires_unused_micros !== '0') {
      parts.push(`grant ${g.grant_id} expires ${date(g.expired_at_us)} with ${money(g.expires_unused_micros, currency)} unused`);
    } else if (g.runs_out_us && g.runs_out_us !== '0') {
      parts.push(`grant ${g.grant_id} is used up ${date(g.runs_out_us)}`);
    }
  }
  for (const adv of f.advice || []) {
    if (adv.daily_spend_micros && adv.daily_spend_micros !== '0' && adv.uses_it_by_expiry) {
      parts.push(`${money(adv.daily_spend_micros, currency)} a day would use ${adv.grant_id} by its expiry`);
    }
  }
  if (f.valid_balance_zero_us && f.valid_balance_zero_us !== '0') {
    parts.push(`the valid balance reaches zero ${date(f.valid_balance_zero_us)}`);
  }
  note.textContent = `Forecast (dashed, daily budgets spent in full) to ${date(f.until_us)}: ` +
      (parts.length ? parts.join('; ') : 'nothing runs out or expires') + '.';
}

// The entries around a point of the chart, that point's entry marked.
async function showAround(point) {
  const seq = BigInt(point.entry_seq || '0');
  const from = seq > 10n ? seq - 10n : 0n;
  await loadEntries(from.toString(), point.entry_seq);
}

async function loadEntries(cursor, mark) {
  const a = state.account;
  const q = new URLSearchParams({ limit: '50', cursor });
  if ($('kind').value) q.set('kind', $('kind').value);
  if ($('campaign').value) q.set('campaign', $('campaign').value);
  const stale = ask('entries');
  const page = await api(`/api/v1/accounts/${encodeURIComponent(a.account_id)}/entries?` + q);
  if (stale()) return;
  state.entriesCursor = cursor;
  state.nextCursor = page.next_cursor;
  $('entries-next').disabled = !page.truncated;
  const tbody = $('entries').tBodies[0];
  tbody.textContent = '';
  for (const item of page.items) {
    const e = item.entry;
    const tr = document.createElement('tr');
    tr.dataset.seq = e.seq;
    if (mark && e.seq === mark) tr.className = 'near';
    cell(tr, e.seq, 'num');
    cell(tr, item.log_seq, 'num');
    cell(tr, utc(e.time_us));
    cell(tr, local(e.time_us, a.utc_offset_minutes));
    const kind = cell(tr, e.kind);
    if (MARKERS[e.kind]) kind.className = MARKERS[e.kind].cls;
    cell(tr, [e.campaign_id, e.grant_id, e.dispute_id].filter(Boolean).join(' / '));
    cell(tr, e.balance_delta_micros === '0' ? '' : money(e.balance_delta_micros, ''), 'num');
    cell(tr, e.frozen_delta_micros === '0' ? '' : money(e.frozen_delta_micros, ''), 'num');
    cell(tr, money(e.valid_balance, ''), 'num');
    cell(tr, e.event_id, 'num');
    cell(tr, e.note || (e.not_billed_reason !== 'NOT_BILLED_REASON_UNSPECIFIED'
                          ? e.not_billed_reason + ' ×' + e.units : ''), 'note');
    tbody.appendChild(tr);
  }
}

// Campaigns and disputes of the account, found through its entries.
async function loadSpend() {
  const stale = ask('spend');
  const a = state.account;
  const id = encodeURIComponent(a.account_id);
  const [status, disputes] = await Promise.all([
    api(`/api/v1/accounts/${id}/entries?kind=CAMPAIGN_STATUS&limit=1000`),
    api(`/api/v1/accounts/${id}/entries?kind=DISPUTE_STATUS&limit=1000`),
  ]);
  if (stale()) return;
  const campaigns = [...new Set(status.items.map((i) => i.entry.campaign_id).filter(Boolean))];
  const tbody = $('campaigns').tBodies[0];
  tbody.textContent = '';
  for (const c of campaigns) {
    const s = await api('/api/v1/campaigns/' + encodeURIComponent(c));
    if (stale()) return;
    const tr = document.createElement('tr');
    cell(tr, c);
    cell(tr, (s.status || '').toString());
    cell(tr, money(s.billed_micros, a.currency), 'num');
    cell(tr, s.billed_units, 'num');
    cell(tr, (s.not_billed || []).map((n) => `${n.reason}: ${n.units}`).join(', '));
    tbody.appendChild(tr);
  }
  const dt = $('disputes').tBodies[0];
  dt.textContent = '';
  const ids = [...new Set(disputes.items.map((i) => i.entry.dispute_id).filter(Boolean))];
  for (const d of ids) {
    const v = await api('/api/v1/disputes/' + encodeURIComponent(d));
    if (stale()) return;
    const tr = document.createElement('tr');
    cell(tr, d);
    cell(tr, v.campaign_id);
    cell(tr, v.status);
    cell(tr, money(v.verifiable_micros || '0', a.currency), 'num');
    cell(tr, money(v.adjusted_micros || '0', a.currency), 'num');
    const files = cell(tr, '');
    for (const name of ['spend_report.csv', 'delivery_data.csv']) {
      const b = document.createElement('button');
      b.textContent = name;
      b.onclick = () => download(`/api/v1/disputes/${encodeURIComponent(d)}/evidence/${name}`,
                                 `${d}-${name}`);
      files.appendChild(b);
    }
    dt.appendChild(tr);
  }
}

// A file of the API (the token goes in the header, so not a plain link).
async function download(path, filename) {
  const headers = state.token ? { Authorization: 'Bearer ' + state.token } : {};
  const res = await fetch(path, { headers });
  if (!res.ok) {
    setStatus(`${path}: ${res.status}`, true);
    return;
  }
  const url = URL.createObjectURL(await res.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.click();
  URL.revokeObjectURL(url);
}

// --- live ------------------------------------------------------------------------

// Follows the account's stream of new entries (fetch, so that a token can
// go in the header; EventSource cannot send one) and refreshes what shows.
async function follow(id) {
  if (state.stream) state.stream.abort();
  const ctrl = new AbortController();
  state.stream = ctrl;
  const headers = state.token ? { Authorization: 'Bearer ' + state.token } : {};
  try {
    const res = await fetch('/api/v1/events/stream?account=' + encodeURIComponent(id),
                            { headers, signal: ctrl.signal });
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let end;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const message = buf.slice(0, end);
        buf = buf.slice(end + 2);
        if (/^event: entry$/m.test(message)) scheduleRefresh();
        const ack = /^data: \{"acked_seq":"(\d+)"\}$/m.exec(message);
        if (ack) setStatus(`live · acknowledged through sequence ${ack[1]}`);
      }
    }
  } catch (e) {
    if (e.name !== 'AbortError') setStatus('live updates stopped: ' + e.message, true);
  }
}

function scheduleRefresh() {
  if (state.refreshTimer) return;
  state.refreshTimer = setTimeout(async () => {
    state.refreshTimer = null;
    const id = state.account.account_id;
    const account = await api('/api/v1/accounts/' + encodeURIComponent(id));
    if (state.account.account_id !== id) return;  // another account was chosen meanwhile
    state.account = account;
    await Promise.all([showBalance(), loadTimeline(), loadEntries(state.entriesCursor)]);
    document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
  }, 300);
}

// --- wiring ----------------------------------------------------------------------

function route() {
  const m = /account=([^&]+)/.exec(location.hash);
  if (m) selectAccount(decodeURIComponent(m[1])).catch((e) => setStatus(e.message, true));
}

function init() {
  for (const k of Object.keys(MARKERS).concat(['COST', 'FREEZE', 'FREEZE_REDUCED', 'NOT_BILLED',
                                              'DISPUTE_STATUS', 'CAMPAIGN_STATUS'])) {
    const o = document.createElement('option');
    o.value = o.textContent = k;
    $('kind').appendChild(o);
  }
  $('search').addEventListener('input', () => loadAccounts().catch((e) => setStatus(e.message, true)));
  $('accounts-more').onclick = () => loadAccounts(true);
  $('kind').onchange = () => loadEntries('0');
  $('campaign').onchange = () => loadEntries('0');
  $('entries-first').onclick = () => loadEntries('0');
  $('entries-next').onclick = () => loadEntries(state.nextCursor);
  $('asof').onchange = () => {
    const v = $('asof').value;  // "YYYY-MM-DDTHH:MM[:SS]", read as UTC
    state.asOf = v ? String(BigInt(Date.parse(v + (v.length === 16 ? ':00' : '') + 'Z')) * 1000n) : null;
    showBalance().catch((e) => setStatus(e.message, true));
  };
  $('asof-now').onclick = () => { $('asof').value = ''; state.asOf = null; showBalance(); };
  $('token-form').onsubmit = (ev) => {
    ev.preventDefault();
    state.token = $('token').value;
    sessionStorage.setItem('billsim-token', state.token);
    $('token-form').hidden = true;
    loadAccounts().then(route).catch((e) => setStatus(e.message, true));
  };
  window.addEventListener('hashchange', route);
  loadAccounts().then(route).catch((e) => setStatus(e.message, true));
}

init();
