// urql as the studio's front end sets it up: `fetchExchange` for queries and
// mutations, `subscriptionExchange` forwarding subscriptions to a graphql-ws client.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client, fetchExchange, subscriptionExchange } from '@urql/core';
import { createClient } from 'graphql-ws';
import {
  HTTP_URL,
  Inbox,
  MEMBER_TOKEN,
  TimedWebSocket,
  WAIT_MS,
  WS_URL,
  assertCharged,
  contractDocument,
  dispose,
  newLookInput,
} from '../lib/harness.js';

/** Fails if `promise` has not settled after `ms`. */
function timed(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`waited ${ms} ms for ${what} in vain`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

test('urql: a subscription through subscriptionExchange gets the balance, then the balance after the client\'s own mutation', { timeout: 15_000 }, async () => {
  const wsClient = createClient({
    url: WS_URL,
    webSocketImpl: TimedWebSocket,
    connectionParams: { authorization: `Bearer ${MEMBER_TOKEN}` },
    retryAttempts: 0,
    connectionAckWaitTimeout: WAIT_MS,
  });
  const client = new Client({
    url: HTTP_URL,
    requestPolicy: 'network-only',
    fetchOptions: () => ({ headers: { authorization: `Bearer ${MEMBER_TOKEN}` } }),
    exchanges: [
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query || '' };
          return {
            subscribe(sink) {
              return { unsubscribe: wsClient.subscribe(input, sink) };
            },
          };
        },
      }),
      fetchExchange,
    ],
  });
  const inbox = new Inbox('urql HeaderBalanceLive');
  const subscription = client
    .subscription(contractDocument('HeaderBalanceLive'), {})
    .subscribe((result) => inbox.push(result));
  try {
    const balanceOf = (result) => {
      assert.equal(result.error, undefined, `urql error: ${result.error?.message}`);
      return result.data.balanceChanged;
    };
    const first = balanceOf(await inbox.next('the initial balance'));
    const initial = await timed(client.query(contractDocument('HeaderBalanceInitial'), {}).toPromise(), WAIT_MS, 'query answer');
    assert.equal(initial.error, undefined, `urql query error: ${initial.error?.message}`);
    assert.equal(first.available, initial.data.viewer.account.balance.available);

    const variables = await newLookInput(1);
    const mutated = await timed(client.mutation(contractDocument('ApplyChanges'), variables).toPromise(), WAIT_MS, 'mutation answer');
    assert.equal(mutated.error, undefined, `urql mutation error: ${mutated.error?.message}`);
    const charged = assertCharged(mutated.data.applyChanges, variables);
    assert.equal(charged, 1);

    const after = balanceOf(await inbox.next('the balance after the mutation'));
    assert.equal(after.available, first.available - charged);
    assert.equal(after.available, mutated.data.applyChanges.balance.available);
  } finally {
    subscription.unsubscribe();
    await dispose(wsClient);
  }
});
