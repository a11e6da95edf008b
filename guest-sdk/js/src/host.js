// What pier's host gives a plugin, installed by the component glue (`pier-sdk/component`)
// when the module runs inside a pier component. Outside one (a plain `node --test`),
// nothing is installed: registering and calling tools works, asking the host fails with
// an error that says why.

const installed = {};

/** Installs the host's interfaces (`context`, `storage`, `config`). */
export function install(interfaces) {
  Object.assign(installed, interfaces);
}

/** The host interface `name`, or an error naming what needs it. */
export function host(name, what) {
  const found = installed[name];
  if (!found) {
    throw new Error(`pier-sdk: ${what} works only inside a pier plugin (a component built with \`pier build\`)`);
  }
  return found;
}

/** The text of an error a host call threw (a WIT `error` variant: `{ tag, val }`). */
export function hostErrorText(e) {
  const payload = e && typeof e === 'object' && 'payload' in e ? e.payload : e;
  if (payload && typeof payload === 'object' && 'val' in payload) {
    return typeof payload.val === 'string' ? payload.val : String(payload.tag);
  }
  return e instanceof Error ? e.message : String(e);
}

/** The WIT `error` variant a host call threw, when it threw one. */
export function hostErrorTag(e) {
  const payload = e && typeof e === 'object' && 'payload' in e ? e.payload : e;
  return payload && typeof payload === 'object' && typeof payload.tag === 'string' ? payload.tag : undefined;
}

let calls = 0;

/** Runs `body` (async) as a call pier made into the plugin. */
export async function during(body) {
  calls += 1;
  try {
    return await body();
  } finally {
    calls -= 1;
  }
}

/** Whether pier is calling into the plugin now (its request's context is valid). */
export function inCall() {
  return calls > 0;
}
