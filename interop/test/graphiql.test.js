// GraphiQL as a person uses it, in Debian's Chromium driven by puppeteer-core, with
// no network but loopback: host names other than 127.0.0.1 resolve to nothing, and
// any request the page makes to another host is failed and counted (none may be
// attempted). The page must render from the service's own files, show the embedded
// default's member token in its Headers tab, run the contract's query with it, and
// run a subscription whose WebSocket authenticates with that visible header.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import puppeteer from 'puppeteer-core';
import {
  EXPIRED_TOKEN,
  GRAPHIQL_TOKEN,
  HTTP_URL,
  WAIT_MS,
  applyNewLook,
  contractDocument,
  headerBalance,
} from '../lib/harness.js';

const CHROMIUM = process.env.STUDIO_CHROMIUM || '/usr/bin/chromium';
/** Where to save a screenshot of the page once the query ran, when set. */
const SCREENSHOT = process.env.STUDIO_GRAPHIQL_SCREENSHOT;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

const QUERY_EDITOR = 'section.graphiql-query-editor .CodeMirror';
// The editor tools hold the variables and headers editors; the one shown is the tab's.
const HEADERS_EDITOR = 'section.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror';
const RESULT = 'section.result-window .CodeMirror';
const EXECUTE = 'button.graphiql-execute-button';

let browser;
let page;
/** Requests the page tried to send anywhere but loopback. */
const outside = [];
/** The URLs of the WebSockets the page opened, and the text frames it sent. */
const sockets = [];
const sentFrames = [];
/**
 * Errors the page threw or logged. A request to another host that the page's Content
 * Security Policy blocks is never sent, so interception does not see it; Chromium logs
 * it as an error, which lands here.
 */
const pageErrors = [];

function isLoopback(url) {
  const { protocol, hostname } = new URL(url);
  return protocol === 'data:' || LOOPBACK.has(hostname);
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: interop/run.sh installs Debian's`);
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      // Root in CI: Chromium's sandbox needs an unprivileged user.
      '--no-sandbox',
      '--disable-dev-shm-usage',
      // Every name but 127.0.0.1 resolves to nothing, so nothing leaves the machine
      // even if interception below missed a request.
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    ],
  });
  page = await browser.newPage();
  await page.setViewport({ width: 1400, height: 900 });
  await page.setRequestInterception(true);
  page.on('request', (request) => {
    if (isLoopback(request.url())) {
      request.continue();
    } else {
      outside.push(request.url());
      request.abort('blockedbyclient');
    }
  });
  page.on('pageerror', (error) => pageErrors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(`console: ${message.text()}`);
  });
  // WebSockets pass no request interception: the DevTools protocol reports them.
  const cdp = await page.createCDPSession();
  await cdp.send('Network.enable');
  cdp.on('Network.webSocketCreated', ({ url }) => sockets.push(url));
  cdp.on('Network.webSocketFrameSent', ({ response }) => sentFrames.push(response.payloadData));
});

after(async () => {
  await browser?.close();
});

/** The text of the CodeMirror editor at `selector`. */
function editorText(selector) {
  return page.$eval(selector, (element) => element.CodeMirror.getValue());
}

/** Sets the text of the CodeMirror editor at `selector`, as typing would. */
async function setEditorText(selector, text) {
  await page.$eval(selector, (element, value) => element.CodeMirror.setValue(value), text);
}

/** Waits for the result pane to hold JSON that `accept` takes; returns it. */
async function resultWhere(what, accept, ms = WAIT_MS) {
  let last = '';
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    last = await editorText(RESULT);
    try {
      const result = JSON.parse(last);
      if (accept(result)) return result;
    } catch {
      // Not JSON yet: empty, or a stream still being written.
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`waited ${ms} ms for ${what} in vain; the result pane holds: ${last}`);
}

/**
 * Puts the contract's operation `name` in the query editor and runs it with the
 * execute button, once GraphiQL has read the new text: its tab is named after the
 * operation (clicked before, GraphiQL would send the previous operation's name).
 */
async function run(name) {
  await setEditorText(QUERY_EDITOR, contractDocument(name));
  await page.waitForFunction(
    (operation) => document.querySelector('.graphiql-tab-active .graphiql-tab-button')?.textContent.trim() === operation,
    { timeout: WAIT_MS },
    name,
  );
  await page.click(EXECUTE);
}

test('GraphiQL renders offline, shows the member token in its Headers tab, and runs the contract\'s query and subscription with it', { timeout: 60_000 }, async () => {
  const response = await page.goto(HTTP_URL, { waitUntil: 'load' });
  assert.equal(response.status(), 200);
  try {
    await page.waitForSelector(QUERY_EDITOR, { timeout: WAIT_MS });
    await page.waitForSelector(HEADERS_EDITOR, { timeout: WAIT_MS });
  } catch (error) {
    throw new Error(
      `GraphiQL did not render (${error.message}); requests to other hosts: ${JSON.stringify(outside)}; ` +
        `errors: ${JSON.stringify(pageErrors)}`,
    );
  }

  // The Headers tab is the one shown, and it holds the token the service printed.
  const activeTab = await page.$eval('.graphiql-editor-tools button.active', (b) => b.textContent.trim());
  assert.equal(activeTab, 'Headers');
  const headers = JSON.parse(await editorText(HEADERS_EDITOR));
  assert.deepEqual(headers, { Authorization: `Bearer ${GRAPHIQL_TOKEN}` });

  // The schema loaded: the docs show the root types.
  await page.click('button[aria-label="Show Documentation Explorer"]');
  await page.waitForFunction(
    () => document.querySelector('.graphiql-doc-explorer')?.textContent.includes('Query'),
    { timeout: WAIT_MS },
  );

  // The contract's query, run with the button, answers what the service answers.
  const expected = await headerBalance();
  await run('HeaderBalanceInitial');
  const answered = await resultWhere('HeaderBalanceInitial\'s answer', (r) => r.data?.viewer?.account?.balance);
  assert.equal(answered.errors, undefined, JSON.stringify(answered.errors));
  assert.equal(answered.data.viewer.account.balance.available, expected.available);
  if (SCREENSHOT) await page.screenshot({ path: SCREENSHOT });

  // The subscription authenticates with the visible header: its first balance, then the
  // balance after a change made elsewhere.
  await run('HeaderBalanceLive');
  const first = await resultWhere('the live balance', (r) => r.data?.balanceChanged);
  assert.equal(first.data.balanceChanged.available, expected.available);
  const applied = await applyNewLook(1);
  const next = await resultWhere(
    'the balance after a change',
    (r) => r.data?.balanceChanged && r.data.balanceChanged.available !== first.data.balanceChanged.available,
  );
  assert.equal(next.data.balanceChanged.available, applied.balance.available);
  await page.click(EXECUTE); // stops the subscription
  assert.ok(sockets.length > 0, 'the subscription opened no WebSocket');
  const init = sentFrames.map((frame) => JSON.parse(frame)).find((message) => message.type === 'connection_init');
  assert.ok(init, `no connection_init among ${JSON.stringify(sentFrames)}`);
  assert.equal(init.payload.authorization, `Bearer ${GRAPHIQL_TOKEN}`);

  // What the Headers tab holds is what is sent: another token there is refused.
  await setEditorText(HEADERS_EDITOR, JSON.stringify({ Authorization: `Bearer ${EXPIRED_TOKEN}` }));
  await run('HeaderBalanceInitial');
  const refused = await resultWhere('the refusal', (r) => r.errors);
  assert.equal(refused.errors[0].extensions.code, 'UNAUTHENTICATED');

  // Nothing was asked of any other host, and the page raised no error.
  assert.deepEqual(outside, [], 'requests to other hosts');
  assert.deepEqual(sockets.filter((url) => !isLoopback(url.replace(/^ws/, 'http'))), [], 'WebSockets to other hosts');
  // The refused request above logs a failed resource (401) in the console; nothing else may.
  assert.deepEqual(
    pageErrors.filter((error) => !error.includes('status of 401')),
    [],
    'errors on the page',
  );
});
