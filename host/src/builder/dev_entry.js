// `pier dev`'s JavaScript interpreter: the SDK and zod, built once; the plugin's module,
// bundled by esbuild as CommonJS with `pier-sdk` and `zod` left to this interpreter, is
// handed over in the configuration key `DEV_MODULE` (`pier:dev-module`) and run at the
// first call of each instance.
export { plugin } from 'pier-sdk/component';
import { DEV_MODULE, _loadWith } from 'pier-sdk/component';
import * as sdk from 'pier-sdk';
import * as zod from 'zod';
import { get } from 'wasi:config/store@0.2.0-rc.1';

const provided = { 'pier-sdk': sdk, zod, 'zod/v4': zod };

_loadWith(() => {
  const source = get(DEV_MODULE);
  if (source === undefined) throw { tag: 'failed', val: 'pier dev handed its interpreter no module' };
  const module = { exports: {} };
  const require = (name) => {
    const found = provided[name];
    if (!found) throw new Error(`Cannot find module '${name}' (pier dev provides pier-sdk and zod; bundle the rest)`);
    return found;
  };
  new Function('require', 'module', 'exports', source)(require, module, module.exports);
});
