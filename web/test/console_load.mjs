// Times the audit console's load in Debian's chromium: `node console_load.mjs
// URL [RUNS]` opens URL (e.g. http://127.0.0.1:8080/#account=acct-0) RUNS
// times (5) and prints each time to the account page's ready state and the
// median, in milliseconds. A benchmark: it asserts nothing.
import { chromium } from 'playwright-core';

const [url, runsArg] = process.argv.slice(2);
if (!url) {
  console.error('usage: node console_load.mjs URL [RUNS]');
  process.exit(2);
}
const runs = Number(runsArg || 5);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
const times = [];
try {
  for (let i = 0; i < runs; i++) {
    const page = await browser.newPage();
    const t0 = Date.now();
    await page.goto(url);
    await page.waitForFunction(() => document.body.dataset.state === 'ready', null, { timeout: 60000 });
    times.push(Date.now() - t0);
    await page.close();
  }
} finally {
  await browser.close();
}
times.sort((a, b) => a - b);
console.log(`console load: ${times.join(' ')} ms; median ${times[Math.floor(times.length / 2)]} ms`);
