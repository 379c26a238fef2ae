// The older `graphql-ws` protocol as the npm `subscriptions-transport-ws` client speaks it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import subscriptionsTransportWs from 'subscriptions-transport-ws';
import {
  FOREIGN_SECRET_TOKEN,
  Inbox,
  MEMBER_TOKEN,
  TimedWebSocket,
  WAIT_MS,
  WS_URL,
  applyNewLook,
  contractDocument,
  headerBalance,
  until,
} from '../lib/harness.js';

const { SubscriptionClient } = subscriptionsTransportWs;

/** A legacy client that never reconnects, with the socket's close codes recorded. */
function legacyClient(connectionParams) {
  const closes = [];
  class RecordedWebSocket extends TimedWebSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener('close', (event) => closes.push(event.code));
      // The client drops its own error handler when it closes a socket that is still
      // opening; ws would then throw the error out of a timer.
      this.on('error', () => {});
    }
  }
  const client = new SubscriptionClient(
    WS_URL,
    { connectionParams, reconnect: false, lazy: false, timeout: 30_000, minTimeout: 2 * WAIT_MS },
    RecordedWebSocket,
  );
  return { client, closes };
}

function subscribeHeader(client, label) {
  const inbox = new Inbox(label);
  const subscription = client
    .request({ query: contractDocument('HeaderBalanceLive'), operationName: 'HeaderBalanceLive' })
    .subscribe({ next: inbox.push, error: inbox.end, complete: () => inbox.end('complete') });
  return { inbox, subscription };
}

test('subscriptions-transport-ws: HeaderBalanceLive gets the balance, then the balance after a change', { timeout: 15_000 }, async () => {
  const { client, closes } = legacyClient({ authorization: `Bearer ${MEMBER_TOKEN}` });
  const { inbox, subscription } = subscribeHeader(client, 'legacy HeaderBalanceLive');
  try {
    const balanceOf = (result) => {
      assert.equal(result.errors, undefined, `errors in data: ${JSON.stringify(result.errors)}`);
      return result.data.balanceChanged;
    };
    const first = balanceOf(await inbox.next('the initial balance'));
    const queried = await headerBalance();
    assert.equal(first.available, queried.available);
    assert.equal(first.unlimited, queried.unlimited);

    const applied = await applyNewLook(2);
    assert.equal(applied.creditsCharged, 2);
    const after = balanceOf(await inbox.next('the balance after the change'));
    assert.equal(after.available, first.available - applied.creditsCharged);
    await inbox.nothingFor(300, 'one message for one change');
    assert.deepEqual(closes, [], 'the socket stayed open');
  } finally {
    subscription.unsubscribe();
    client.close();
  }
});

test('subscriptions-transport-ws: a token signed with another secret closes the socket with 4403 before any data', { timeout: 15_000 }, async () => {
  const { client, closes } = legacyClient({ authorization: `Bearer ${FOREIGN_SECRET_TOKEN}` });
  const { inbox, subscription } = subscribeHeader(client, 'legacy HeaderBalanceLive with a foreign token');
  try {
    await until(WAIT_MS, 'close', () => closes.length > 0);
    assert.deepEqual(closes, [4403]);
    assert.equal(inbox.received, 0, 'no data was delivered');
  } finally {
    subscription.unsubscribe();
    client.close();
  }
});
