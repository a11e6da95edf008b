// The plugin's configuration and secrets (`wasi:config/store`): the sidecar's
// `[config]` values and the operator's secrets granted to the plugin.

import { host, hostErrorText } from './host.js';

const store = () => host('config', 'config');

/** The configuration key under which `pier dev` hands its interpreter the module. */
export const DEV_MODULE = 'pier:dev-module';

function ok(call) {
  try {
    return call();
  } catch (e) {
    throw new Error(`pier-sdk: configuration: ${hostErrorText(e)}`);
  }
}

export const config = {
  /** The value of `key`, or `fallback` (default undefined). */
  get(key, fallback = undefined) {
    return ok(() => store().get(key)) ?? fallback;
  },
  /** Every key and value, as an object. */
  getAll() {
    // `pier dev` hands its interpreter the plugin's module under a key of its own.
    return Object.fromEntries(ok(() => store().getAll()).filter(([key]) => key !== DEV_MODULE));
  },
};
