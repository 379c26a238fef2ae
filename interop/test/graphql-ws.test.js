// The `graphql-transport-ws` protocol as the npm `graphql-ws` client speaks it: the
// header's live balance, refused tokens, and unsubscribing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createClient } from 'graphql-ws';
import {
  EXPIRED_TOKEN,
  FOREIGN_SECRET_TOKEN,
  Inbox,
  MEMBER_TOKEN,
  TimedWebSocket,
  WAIT_MS,
  WS_URL,
  applyNewLook,
  contractDocument,
  describe,
  dispose,
  headerBalance,
  until,
} from '../lib/harness.js';

const HEADER_BALANCE_LIVE = contractDocument('HeaderBalanceLive');

/** A graphql-ws client that never retries, with every close and raw message recorded. */
function client(connectionParams, label) {
  let ids = 0;
  const log = { closed: [], connected: 0, messages: [] };
  const wsClient = createClient({
    url: WS_URL,
    webSocketImpl: TimedWebSocket,
    connectionParams,
    retryAttempts: 0,
    connectionAckWaitTimeout: WAIT_MS,
    generateID: () => `${label}-${++ids}`,
    on: {
      connected: () => {
        log.connected += 1;
      },
      message: (message) => log.messages.push(message),
      closed: (event) => log.closed.push(event),
    },
  });
  return { wsClient, log };
}

/** Subscribes `HeaderBalanceLive`; returns its inbox and the function that completes it. */
function subscribeHeader(wsClient, label) {
  const inbox = new Inbox(label);
  const unsubscribe = wsClient.subscribe(
    { query: HEADER_BALANCE_LIVE, operationName: 'HeaderBalanceLive' },
    { next: inbox.push, error: inbox.end, complete: () => inbox.end('complete') },
  );
  return { inbox, unsubscribe };
}

/** The balance of a `next` payload, which must carry data and no errors. */
function balanceOf(payload) {
  assert.equal(payload.errors, undefined, `errors in a next: ${JSON.stringify(payload.errors)}`);
  return payload.data.balanceChanged;
}

test('graphql-ws: HeaderBalanceLive sends the balance the HTTP query reads, then the balance after ApplyChanges', { timeout: 15_000 }, async () => {
  const { wsClient } = client({ authorization: `Bearer ${MEMBER_TOKEN}` }, 'live');
  try {
    const { inbox } = subscribeHeader(wsClient, 'HeaderBalanceLive');
    const first = balanceOf(await inbox.next('the initial balance'));
    const queried = await headerBalance();
    assert.equal(typeof first.available, 'number');
    assert.equal(first.available, queried.available);
    assert.equal(first.unlimited, queried.unlimited);
    assert.deepEqual(first.fairUse, queried.fairUse);
    assert.deepEqual(Object.keys(first).sort(), ['asOf', 'available', 'expiringSoon', 'fairUse', 'low', 'unlimited']);

    const applied = await applyNewLook(2);
    assert.equal(applied.creditsCharged, 2);
    assert.equal(applied.balance.available, first.available - 2);

    const after = balanceOf(await inbox.next('the balance after ApplyChanges'));
    assert.equal(after.available, first.available - applied.creditsCharged);
    assert.ok(Date.parse(after.asOf) >= Date.parse(first.asOf), `asOf ${after.asOf} before ${first.asOf}`);
    await inbox.nothingFor(300, 'one message for one change');
  } finally {
    await dispose(wsClient);
  }
});

const refusedTokens = [
  ['a token signed with another secret', { authorization: `Bearer ${FOREIGN_SECRET_TOKEN}` }],
  ['an expired token', { authorization: `Bearer ${EXPIRED_TOKEN}` }],
  ['a token that is no JWT', { authorization: 'Bearer not-a-jwt' }],
  ['no token', {}],
];

for (const [what, connectionParams] of refusedTokens) {
  test(`graphql-ws: ${what} closes the socket with 4403 before any next`, { timeout: 15_000 }, async () => {
    if (connectionParams.authorization === `Bearer ${EXPIRED_TOKEN}`) await waitUntilExpired(EXPIRED_TOKEN);
    const { wsClient, log } = client(connectionParams, 'refused');
    try {
      const { inbox } = subscribeHeader(wsClient, `HeaderBalanceLive with ${what}`);
      await until(WAIT_MS, 'close', () => log.closed.length > 0);
      assert.equal(log.closed[0].code, 4403, `closed with ${describe(log.closed[0])}`);
      await until(WAIT_MS, 'error on the sink', () => inbox.ended !== null);
      assert.equal(inbox.ended?.code, 4403, `the sink ended with ${describe(inbox.ended)}`);
      assert.equal(inbox.received, 0, 'no next was delivered');
      assert.equal(log.connected, 0, 'never acknowledged');
      assert.deepEqual(log.messages, [], 'the server sent no message at all');
      assert.deepEqual(log.closed.map((event) => event.code), [4403]);
    } finally {
      await dispose(wsClient);
    }
  });
}

test('graphql-ws: after complete, a change sends nothing more on that subscription', { timeout: 15_000 }, async () => {
  const { wsClient, log } = client({ authorization: `Bearer ${MEMBER_TOKEN}` }, 'unsub');
  try {
    // Two subscriptions on one socket: the second keeps the socket open and shows
    // that the change was announced; the first is completed before the change.
    const stopped = subscribeHeader(wsClient, 'completed subscription');
    const kept = subscribeHeader(wsClient, 'kept subscription');
    const stoppedFirst = balanceOf(await stopped.inbox.next('the initial balance'));
    const keptFirst = balanceOf(await kept.inbox.next('the initial balance'));
    assert.equal(stoppedFirst.available, keptFirst.available);
    assert.deepEqual(
      log.messages.filter((m) => m.type === 'next').map((m) => m.id).sort(),
      ['unsub-1', 'unsub-2'],
    );

    stopped.unsubscribe();
    await until(WAIT_MS, 'complete of the unsubscribed sink', () => stopped.inbox.ended !== null);
    assert.equal(stopped.inbox.ended, 'complete');
    const applied = await applyNewLook(1);

    const keptAfter = balanceOf(await kept.inbox.next('the balance after the change'));
    assert.equal(keptAfter.available, keptFirst.available - applied.creditsCharged);
    await stopped.inbox.nothingFor(1000, 'no message after complete');
    assert.equal(stopped.inbox.received, 1);
    // The first next of that id came before complete; a complete echoed back is harmless.
    const afterComplete = log.messages.filter((m) => m.id === 'unsub-1' && m.type !== 'complete').slice(1);
    assert.deepEqual(afterComplete, [], 'the server sent no next or error for the completed id');
    assert.deepEqual(log.closed, [], 'the socket stayed open');
  } finally {
    await dispose(wsClient);
  }
});

/** Waits until the `exp` of `token` has passed (the service allows no leeway). */
async function waitUntilExpired(token) {
  const { exp } = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
  const wait = exp * 1000 + 1100 - Date.now();
  assert.ok(wait < 3000, `the expired token lives ${wait} ms more`);
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}
