// The browser test: the real vote, worker and result programs (debug builds) against the real
// Redis and PostgreSQL, driven in headless Chromium. A person votes, sees the choice marked,
// and watches the result page update without a reload; then the result service restarts and
// the page says it is reconnecting and comes back with the right numbers.
//
// Run from the repository root with `make test-browser`, or `cd e2e && npm ci && npm test`.
// Environment: CHROMIUM (default /usr/bin/chromium), E2E_REDIS_URL, E2E_ADMIN_DATABASE_URL.
// It leaves nothing behind: its own database and its own queue are removed at the end.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { mkdirSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BINARIES = path.join(process.env.CARGO_TARGET_DIR ?? path.join(ROOT, 'target'), 'debug');
const SCREENSHOTS = path.join(ROOT, 'docs', 'screenshots');
const REDIS_URL = process.env.E2E_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const ADMIN_DATABASE_URL =
  process.env.E2E_ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
// Chromium's own background traffic (updates, sync, field trials) is refused on CI machines
// without internet; these switches keep it quiet and the start fast.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
// Debug builds on a shared two-core machine: generous, and only ever a ceiling.
const PATIENCE_MS = 30_000;

const run = randomBytes(4).toString('hex');
const database = `e2e_${run}`;
const queue = `e2e_${run}`;
const logs = mkdtempSync(path.join(tmpdir(), `e2e-${run}-`));
const programs = {};
let browser;

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function databaseUrl(name) {
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

function psql(sql) {
  execFileSync('psql', [ADMIN_DATABASE_URL, '-v', 'ON_ERROR_STOP=1', '-qc', sql], {
    stdio: 'inherit',
  });
}

/** Starts one of the three programs; its output goes to a log file shown on failure. */
function start(name, port, env) {
  const log = path.join(logs, `${name}.log`);
  const child = spawn(path.join(BINARIES, name), [], {
    env: {
      PATH: process.env.PATH,
      PORT: String(port),
      REDIS_URL,
      DATABASE_URL: databaseUrl(database),
      VOTE_QUEUE: queue,
      RUST_LOG: 'info',
      LOG_FORMAT: 'text',
      ...env,
    },
    stdio: ['ignore', openSync(log, 'a'), openSync(log, 'a')],
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  programs[name] = { child, port, exited, url: `http://127.0.0.1:${port}` };
  return programs[name];
}

async function stop(name) {
  const program = programs[name];
  if (!program || program.child.exitCode !== null || program.child.signalCode !== null) return;
  program.child.kill('SIGTERM');
  return program.exited;
}

async function waitUntil(what, check) {
  const deadline = Date.now() + PATIENCE_MS;
  let last;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

async function waitReady(program) {
  await waitUntil(`${program.url}/readyz`, async () => (await fetch(`${program.url}/readyz`)).ok);
}

/** A vote from a new voter (no cookie), as `curl --data vote=a` would send it. */
async function castVote(option) {
  const response = await fetch(`${programs.vote.url}/`, {
    method: 'POST',
    body: new URLSearchParams({ vote: option }),
    redirect: 'manual',
  });
  assert.equal(response.status, 303);
}

async function results() {
  return (await fetch(`${programs.result.url}/api/results`)).json();
}

before(async () => {
  execFileSync('cargo', ['build', '-p', 'vote', '-p', 'worker', '-p', 'result'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  psql(`CREATE DATABASE "${database}"`);
  const [votePort, workerPort, resultPort] = await Promise.all([freePort(), freePort(), freePort()]);
  start('worker', workerPort, {});
  start('vote', votePort, {});
  start('result', resultPort, {});
  await Promise.all(Object.values(programs).map(waitReady));
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
  });
  mkdirSync(SCREENSHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await Promise.all(Object.keys(programs).map(stop));
  psql(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  // The queue and every key the worker made next to it (`<queue>:…`).
  const keys = execFileSync('redis-cli', ['-u', REDIS_URL, '--scan', '--pattern', `${queue}*`])
    .toString()
    .split('\n')
    .filter(Boolean);
  if (keys.length > 0) execFileSync('redis-cli', ['-u', REDIS_URL, 'DEL', ...keys]);
});

/** Waits, without reloading, until the result page shows this total. */
async function waitForTotal(page, text) {
  await page.waitForFunction(
    (expected) => document.getElementById('total').textContent === expected,
    text,
    { timeout: PATIENCE_MS },
  );
}

/** Shows the programs' logs when a step fails, then fails the test. */
async function step(description, body) {
  try {
    await body();
  } catch (err) {
    for (const name of Object.keys(programs)) {
      console.error(`----- ${name} log -----\n${readFileSync(path.join(logs, `${name}.log`), 'utf8')}`);
    }
    err.message = `${description}: ${err.message}`;
    throw err;
  }
}

test('a vote reaches the live result page, which survives a restart of the result service', async () => {
  // Reduced motion turns the bars' transition off, so screenshots show the numbers rather than
  // a frame of the animation.
  const projector = await browser.newPage({
    viewport: { width: 1280, height: 720 },
    reducedMotion: 'reduce',
  });
  const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true });
  const total = projector.locator('#total');
  const reconnecting = projector.locator('#connection');

  await step('the result page starts empty', async () => {
    await projector.goto(programs.result.url);
    await total.waitFor();
    assert.equal(await total.textContent(), 'No votes yet');
    // The page is live once its socket has delivered the first frame; this marker would be
    // lost by any reload, so finding it later proves the page updated in place.
    await projector.evaluate(() => {
      window.notReloaded = true;
    });
  });

  await step('a click on the vote page records the vote and marks the choice', async () => {
    await phone.goto(programs.vote.url);
    await phone.click('#vote-a');
    await phone.waitForURL(`${programs.vote.url}/`);
    await phone.locator('#vote-a[aria-pressed="true"]').waitFor({ timeout: PATIENCE_MS });
    assert.equal(await phone.getAttribute('#vote-b', 'aria-pressed'), 'false');
  });

  await step('the result page shows the vote without a reload', async () => {
    await waitForTotal(projector, '1 vote');
    assert.equal(await projector.textContent('#percent-a'), '100%');
    assert.equal(await projector.textContent('#percent-b'), '0%');
    assert.equal(await projector.evaluate(() => window.notReloaded), true);
  });

  await step('more voters, and both screenshots', async () => {
    for (const option of ['a', 'b', 'b', 'a', 'a', 'b', 'a']) await castVote(option);
    await waitForTotal(projector, '8 votes');
    assert.equal(await projector.textContent('#percent-a'), '63%');
    assert.equal(await projector.textContent('#percent-b'), '37%');
    await phone.screenshot({ path: path.join(SCREENSHOTS, 'vote.png') });
    await projector.screenshot({ path: path.join(SCREENSHOTS, 'result.png') });
  });

  await step('a restart of the result service shows on the page and heals', async () => {
    const stopped = stop('result');
    await reconnecting.waitFor({ state: 'visible', timeout: PATIENCE_MS });
    const { code } = await stopped;
    assert.equal(code, 0, 'the result service exits with status 0 on SIGTERM');
    await projector.screenshot({ path: path.join(SCREENSHOTS, 'result-reconnecting.png') });
    // A vote while the result service is down is counted when the page comes back.
    await castVote('b');
    start('result', programs.result.port, {});
    await reconnecting.waitFor({ state: 'hidden', timeout: PATIENCE_MS });
    await waitForTotal(projector, '9 votes');
    assert.equal(await projector.textContent('#percent-a'), '56%');
    assert.equal(await projector.textContent('#percent-b'), '44%');
    assert.deepEqual(await results(), { counts: { a: 5, b: 4 }, total: 9 });
    assert.equal(await projector.evaluate(() => window.notReloaded), true);
  });
});
