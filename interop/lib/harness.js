// What every interop test shares: the service's addresses and tokens (exported by
// run.sh), the contract's operations as their exact text, a GraphQL-over-HTTP call,
// a change of the demo account's balance, and an inbox of messages whose every wait
// has a timeout.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Kind, parse, visit } from 'graphql';
import WebSocket from 'ws';

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests through interop/run.sh`);
  return value;
}

export const HTTP_URL = required('STUDIO_HTTP_URL');
export const WS_URL = required('STUDIO_WS_URL');
export const MEMBER_TOKEN = required('STUDIO_MEMBER_TOKEN');
export const ACCOUNT_ID = required('STUDIO_ACCOUNT_ID');
/** The demo account's photos, as the API returns their ids. */
export const PHOTO_IDS = required('STUDIO_PHOTO_IDS').split(',');
/** Tokens the service must refuse. */
export const FOREIGN_SECRET_TOKEN = required('STUDIO_FOREIGN_SECRET_TOKEN');
export const EXPIRED_TOKEN = required('STUDIO_EXPIRED_TOKEN');
/** The member token the service printed at start, which GraphiQL's page presets. */
export const GRAPHIQL_TOKEN = required('STUDIO_GRAPHIQL_TOKEN');
const CONTRACT_DIR = required('STUDIO_CONTRACT_OPERATIONS');

/** The longest any single wait for the service may take. */
export const WAIT_MS = 5000;

// ---------------------------------------------------------------------------
// The contract's operations, cut out of the files as they are written.

const operations = new Map();
const fragments = new Map();
for (const file of readdirSync(CONTRACT_DIR).filter((f) => f.endsWith('.graphql')).sort()) {
  const body = readFileSync(join(CONTRACT_DIR, file), 'utf8');
  for (const definition of parse(body).definitions) {
    const text = body.slice(definition.loc.start, definition.loc.end);
    if (definition.kind === Kind.OPERATION_DEFINITION) {
      operations.set(definition.name.value, { definition, text });
    } else if (definition.kind === Kind.FRAGMENT_DEFINITION) {
      fragments.set(definition.name.value, { definition, text });
    }
  }
}

/** The contract's operation `name` with the fragments it uses, as the clients send it. */
export function contractDocument(name) {
  const operation = operations.get(name);
  assert.ok(operation, `the contract has no operation ${name}`);
  const used = [];
  const pending = [operation.definition];
  while (pending.length > 0) {
    visit(pending.pop(), {
      FragmentSpread(node) {
        const fragmentName = node.name.value;
        if (used.includes(fragmentName)) return;
        const fragment = fragments.get(fragmentName);
        assert.ok(fragment, `the contract has no fragment ${fragmentName}`);
        used.push(fragmentName);
        pending.push(fragment.definition);
      },
    });
  }
  return [operation.text, ...used.map((f) => fragments.get(f).text)].join('\n\n');
}

// ---------------------------------------------------------------------------
// GraphQL over HTTP.

/** Runs `document` with POST /graphql; fails on any error and returns `data`. */
export async function graphql(document, { operationName, variables, token = MEMBER_TOKEN } = {}) {
  const response = await fetch(HTTP_URL, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: document, operationName, variables }),
    signal: AbortSignal.timeout(WAIT_MS),
  });
  const body = await response.json();
  assert.equal(response.status, 200, `POST /graphql ${operationName}: ${JSON.stringify(body)}`);
  assert.equal(body.errors, undefined, `POST /graphql ${operationName}: ${JSON.stringify(body.errors)}`);
  return body.data;
}

/** The viewer's balance as the header's initial query reads it. */
export async function headerBalance(token = MEMBER_TOKEN) {
  const data = await graphql(contractDocument('HeaderBalanceInitial'), {
    operationName: 'HeaderBalanceInitial',
    token,
  });
  assert.equal(data.viewer.account.id, ACCOUNT_ID);
  return data.viewer.account.balance;
}

/**
 * The variables of an `ApplyChanges` that gives `count` of the demo photos a look
 * none of them has yet (a background, no logo): so each photo costs one credit.
 */
export async function newLookInput(count) {
  const data = await graphql(contractDocument('StudioPhotos'), { operationName: 'StudioPhotos' });
  const photos = data.viewer.account.photos.edges
    .map((edge) => edge.node)
    .filter((photo) => PHOTO_IDS.includes(photo.id));
  for (const background of data.backgrounds) {
    const hasIt = (photo) => photo.currentEdit?.background?.id === background.id && photo.currentEdit.logo === null;
    const chosen = photos.filter((photo) => !hasIt(photo)).slice(0, count);
    if (chosen.length === count) {
      return {
        input: {
          photoIds: chosen.map((photo) => photo.id),
          backgroundId: background.id,
          logo: null,
          idempotencyKey: `interop-${randomUUID()}`,
        },
      };
    }
  }
  assert.fail(`no background is missing on ${count} of the demo photos`);
}

/** Checks an `applyChanges` payload charged one credit for each photo of `variables`. */
export function assertCharged(payload, variables) {
  const count = variables.input.photoIds.length;
  assert.deepEqual(payload.userErrors, []);
  assert.deepEqual(payload.unchanged, []);
  assert.equal(payload.creditsCharged, count, 'one credit per photo with a new look');
  assert.deepEqual(payload.edits.map((edit) => edit.photo.id).sort(), [...variables.input.photoIds].sort());
  return payload.creditsCharged;
}

/** Applies a new look to `count` demo photos over HTTP; returns the payload. */
export async function applyNewLook(count) {
  const variables = await newLookInput(count);
  const data = await graphql(contractDocument('ApplyChanges'), { operationName: 'ApplyChanges', variables });
  assertCharged(data.applyChanges, variables);
  return data.applyChanges;
}

// ---------------------------------------------------------------------------
// Waiting for messages.

/** The `ws` WebSocket with a bound on its opening handshake, for every client. */
export class TimedWebSocket extends WebSocket {
  constructor(url, protocols) {
    super(url, protocols, { handshakeTimeout: WAIT_MS });
  }
}

/**
 * Disposes a graphql-ws client, waiting at most `WAIT_MS` (a stuck socket never
 * settles); a socket that failed to open rejects, which must not hide the test's error.
 */
export async function dispose(wsClient) {
  let timer;
  await Promise.race([
    Promise.resolve(wsClient.dispose()).catch(() => {}),
    new Promise((resolve) => {
      timer = setTimeout(resolve, WAIT_MS);
    }),
  ]);
  clearTimeout(timer);
}

/** Messages of one subscription, in order; every wait on them times out. */
export class Inbox {
  #label;
  #items = [];
  #waiter = null;
  #ended = null;
  received = 0;

  constructor(label) {
    this.#label = label;
  }

  /** What a client's `next` callback delivers. */
  push = (item) => {
    this.received += 1;
    this.#items.push(item);
    this.#wake();
  };

  /** What a client's `error` or `complete` callback reports. */
  end = (reason = 'complete') => {
    this.#ended ??= reason;
    this.#wake();
  };

  #wake() {
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter?.();
  }

  /** The next message, or a failure after `ms` or when the subscription ended first. */
  async next(what = 'message', ms = WAIT_MS) {
    const deadline = Date.now() + ms;
    for (;;) {
      if (this.#items.length > 0) return this.#items.shift();
      if (this.#ended !== null) {
        throw new Error(`${this.#label}: ended (${describe(this.#ended)}) while waiting for ${what}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.#label}: waited ${ms} ms for ${what} in vain`);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Fails if a message arrives within `ms`. */
  async nothingFor(ms, what = 'no message') {
    await new Promise((resolve) => setTimeout(resolve, ms));
    assert.deepEqual(this.#items, [], `${this.#label}: expected ${what} within ${ms} ms`);
  }

  get ended() {
    return this.#ended;
  }
}

/** A close event, an error or a GraphQL error list, readably. */
export function describe(reason) {
  if (reason && typeof reason === 'object' && 'code' in reason && 'reason' in reason) {
    return `close ${reason.code} ${reason.reason}`;
  }
  if (reason instanceof Error) return reason.message;
  // A WebSocket error event (ws's ErrorEvent): its message says what went wrong.
  if (reason && typeof reason === 'object' && typeof reason.message === 'string') return `error: ${reason.message}`;
  return JSON.stringify(reason);
}

/** Resolves once `predicate()` holds (checked every 10 ms), or fails after `ms`. */
export async function until(ms, what, predicate) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() >= deadline) throw new Error(`waited ${ms} ms for ${what} in vain`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
