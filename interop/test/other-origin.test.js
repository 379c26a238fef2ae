// A front end served from another origin, in Debian's Chromium: a tiny page on a
// loopback port of its own runs the contract's `HeaderBalanceInitial` with `fetch` and
// subscribes to `HeaderBalanceLive` with the `graphql-ws` client (its browser build,
// served from node_modules, so nothing comes from the network). From the origin that
// run.sh lists in STUDIO_CORS_ORIGINS both work; from another port of the same host,
// another origin, the browser rejects the fetch (no CORS header) and the service
// refuses the WebSocket with 403 before the upgrade.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';
import puppeteer from 'puppeteer-core';
import { HTTP_URL, MEMBER_TOKEN, WAIT_MS, WS_URL, contractDocument, headerBalance } from '../lib/harness.js';

const CHROMIUM = process.env.STUDIO_CHROMIUM || '/usr/bin/chromium';
/** The origin the service was started with in STUDIO_CORS_ORIGINS (run.sh). */
const ALLOWED_ORIGIN = process.env.STUDIO_PAGE_ORIGIN;
// The package's exports name no browser build, so it is read by its path.
const GRAPHQL_WS = readFileSync(new URL('../node_modules/graphql-ws/umd/graphql-ws.min.js', import.meta.url));

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>studio front end</title>
<script src="/graphql-ws.js"></script></head>
<body><p>A front end of studio-bff on another origin.</p></body></html>`;

/** Serves the page and the graphql-ws browser build on 127.0.0.1:`port` (0: any). */
function servePage(port) {
  const server = createServer((request, response) => {
    if (request.url === '/graphql-ws.js') {
      response.writeHead(200, { 'content-type': 'text/javascript' });
      response.end(GRAPHQL_WS);
    } else if (request.url === '/') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(PAGE);
    } else {
      response.writeHead(404);
      response.end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

/** The page's origin. */
function originOf(server) {
  return `http://127.0.0.1:${server.address().port}`;
}

let browser;
const servers = [];

before(async () => {
  assert.ok(ALLOWED_ORIGIN, 'STUDIO_PAGE_ORIGIN is not set: run the tests through interop/run.sh');
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: interop/run.sh installs Debian's`);
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Root in CI; every name but 127.0.0.1 resolves to nothing.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
  });
});

after(async () => {
  await browser?.close();
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
});

/**
 * Opens the page served at `origin` and runs, in it, the query with `fetch` and the
 * subscription's first message with graphql-ws. Returns what the page saw, and the
 * console's messages (where Chromium says why it refused something).
 */
async function runInPage(server) {
  const page = await browser.newPage();
  const consoleLines = [];
  page.on('console', (message) => consoleLines.push(message.text()));
  try {
    const response = await page.goto(`${originOf(server)}/`, { waitUntil: 'load' });
    assert.equal(response.status(), 200);
    const seen = await page.evaluate(
      async ({ httpUrl, wsUrl, token, query, live, waitMs }) => {
        const seen = {};
        try {
          const answer = await fetch(httpUrl, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
            body: JSON.stringify({ query, operationName: 'HeaderBalanceInitial' }),
          });
          seen.query = await answer.json();
        } catch (error) {
          seen.queryError = `${error.name}: ${error.message}`;
        }
        const client = window.graphqlWs.createClient({
          url: wsUrl,
          connectionParams: { authorization: `Bearer ${token}` },
          retryAttempts: 0,
        });
        seen.subscription = await new Promise((resolve) => {
          const timer = setTimeout(() => resolve({ timeout: true }), waitMs);
          const settle = (outcome) => {
            clearTimeout(timer);
            resolve(outcome);
          };
          const unsubscribe = client.subscribe(
            { query: live, operationName: 'HeaderBalanceLive' },
            {
              next: (message) => {
                unsubscribe();
                settle({ next: message });
              },
              // A refused handshake reaches the client as the socket's `error` event.
              error: (error) => settle({ error: { type: error?.type ?? String(error) } }),
              complete: () => settle({ complete: true }),
            },
          );
        });
        await client.dispose();
        return seen;
      },
      {
        httpUrl: HTTP_URL,
        wsUrl: WS_URL,
        token: MEMBER_TOKEN,
        query: contractDocument('HeaderBalanceInitial'),
        live: contractDocument('HeaderBalanceLive'),
        waitMs: WAIT_MS,
      },
    );
    return { seen, consoleLines };
  } finally {
    await page.close();
  }
}

test('a page from an origin of cors_origins runs the query with fetch and gets the live balance over graphql-ws', { timeout: 30_000 }, async () => {
  const server = await servePage(Number(new URL(ALLOWED_ORIGIN).port));
  servers.push(server);
  assert.equal(originOf(server), ALLOWED_ORIGIN);
  const expected = await headerBalance();

  const { seen, consoleLines } = await runInPage(server);

  assert.equal(seen.queryError, undefined, `the fetch failed; console: ${JSON.stringify(consoleLines)}`);
  assert.equal(seen.query.errors, undefined, JSON.stringify(seen.query.errors));
  assert.equal(seen.query.data.viewer.account.balance.available, expected.available);
  assert.ok(seen.subscription.next, `no balance pushed: ${JSON.stringify(seen.subscription)}; console: ${JSON.stringify(consoleLines)}`);
  assert.equal(seen.subscription.next.errors, undefined, JSON.stringify(seen.subscription.next.errors));
  assert.equal(seen.subscription.next.data.balanceChanged.available, expected.available);
});

test('a page from an origin not on the list has its fetch rejected by CORS and its socket refused', { timeout: 30_000 }, async () => {
  const server = await servePage(0);
  servers.push(server);
  assert.notEqual(originOf(server), ALLOWED_ORIGIN);

  const { seen, consoleLines } = await runInPage(server);

  assert.equal(seen.query, undefined, `the page read an answer: ${JSON.stringify(seen.query)}`);
  assert.equal(seen.queryError, 'TypeError: Failed to fetch');
  assert.deepEqual(seen.subscription, { error: { type: 'error' } });
  const cors = consoleLines.find((line) => line.includes('has been blocked by CORS policy'));
  assert.ok(cors, `Chromium gave no CORS reason: ${JSON.stringify(consoleLines)}`);
  assert.ok(cors.includes(`from origin '${originOf(server)}'`), cors);
  assert.ok(
    consoleLines.some((line) => line.includes('Unexpected response code: 403')),
    `the socket was not refused with 403: ${JSON.stringify(consoleLines)}`,
  );
});
