// The plugin's own key-value storage (pier's `storage` interface): only this plugin's
// keys, whatever the key string. Values are bytes; `getText`/`getJson` and
// `set` of a string or JSON helpers convert.

import { host } from './host.js';

/** Why a storage operation failed: `kind` is `invalid-key`, `quota-exceeded`,
 * `unavailable` or `unsupported`. */
export class StorageError extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind;
    this.name = 'StorageError';
  }
}

const backend = () => host('storage', 'storage');

function ok(call) {
  try {
    return call();
  } catch (e) {
    const payload = e && typeof e === 'object' && 'payload' in e ? e.payload : e;
    if (payload && typeof payload === 'object' && typeof payload.tag === 'string') {
      throw new StorageError(payload.tag, String(payload.val));
    }
    throw e;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function bytes(value) {
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string') return encoder.encode(value);
  throw new TypeError('pier-sdk: storage values are strings or Uint8Arrays (setJson stores JSON)');
}

export const storage = {
  /** The bytes under `key`, or undefined. */
  get(key) {
    return ok(() => backend().get(key));
  },
  /** The text under `key` (UTF-8), or undefined. */
  getText(key) {
    const value = this.get(key);
    return value === undefined ? undefined : decoder.decode(value);
  },
  /** The JSON value under `key`, or undefined. */
  getJson(key) {
    const text = this.getText(key);
    return text === undefined ? undefined : JSON.parse(text);
  },
  /** Stores a string or bytes under `key`; `ttlMs` makes it expire. */
  set(key, value, { ttlMs } = {}) {
    ok(() => backend().set(key, bytes(value), ttlMs === undefined ? undefined : BigInt(ttlMs)));
  },
  /** Stores `value` as JSON under `key`. */
  setJson(key, value, options) {
    this.set(key, JSON.stringify(value), options);
  },
  /** Removes `key`; true when it existed. */
  delete(key) {
    return ok(() => backend().delete(key));
  },
  /** One page of keys starting with `prefix`: `{ keys, nextCursor }`. */
  listPage(prefix = '', cursor = undefined) {
    return ok(() => backend().listKeys(prefix, cursor));
  },
  /** Every key starting with `prefix`, in order (page by page). */
  *keys(prefix = '') {
    let cursor;
    do {
      const page = this.listPage(prefix, cursor);
      yield* page.keys;
      cursor = page.nextCursor;
    } while (cursor !== undefined);
  },
  /** Atomically adds `by` to the integer under `key` (absent: 0); the new value. */
  increment(key, by = 1) {
    return Number(ok(() => backend().increment(key, BigInt(by))));
  },
  /** Sets `key` to `next` only if it holds `expected` (undefined: absent); true when it did. */
  compareAndSet(key, expected, next) {
    return ok(() => backend().compareAndSet(key, expected === undefined ? undefined : bytes(expected), bytes(next)));
  },
};
