// zod schemas as the official TypeScript SDK's McpServer reads them: a raw shape
// (`{ a: z.number() }`) or an object schema, converted to JSON Schema with zod's own
// `toJSONSchema` (draft 7, the input side for arguments and the output side for
// results), parsed with zod (defaults, transforms and refinements apply).
// zod 4 schemas only (zod ≥ 4, or `zod/v4` of zod 3.25).

import * as z from 'zod/v4-mini';

export const EMPTY_OBJECT_JSON_SCHEMA = { type: 'object', properties: {} };

const isZod4 = (s) => !!s && typeof s === 'object' && !!s._zod;
const isZod3 = (s) => !!s && typeof s === 'object' && !s._zod && !!s._def;
const isSchemaLike = (v) => isZod4(v) || isZod3(v) || (!!v && typeof v === 'object' && typeof v.parse === 'function');

function refuseZod3(what) {
  return new Error(
    `pier-sdk: ${what} is a zod 3 schema; pier-sdk reads zod 4 schemas (import { z } from "zod" with zod 4, or from "zod/v4" with zod 3.25)`,
  );
}

/** Whether `value` is a raw shape: an object whose values are schemas (or empty). */
export function isRawShape(value) {
  if (!value || typeof value !== 'object' || isSchemaLike(value)) return false;
  const values = Object.values(value);
  return values.length === 0 || values.some(isSchemaLike);
}

/** A schema given at registration (raw shape or schema) as a zod 4 schema, or undefined. */
export function toSchema(value, what) {
  if (value === undefined || value === null) return undefined;
  if (isRawShape(value)) {
    for (const [key, field] of Object.entries(value)) {
      if (isZod3(field)) throw refuseZod3(`${what} (its field \`${key}\`)`);
    }
    return z.object(value);
  }
  if (isZod3(value)) throw refuseZod3(what);
  if (!isZod4(value)) throw new Error(`pier-sdk: ${what} must be a zod schema or a raw shape of zod schemas`);
  return value;
}

/** The object schema of `schema`, when it is one. */
function objectSchema(schema) {
  const def = schema?._zod?.def;
  return def && (def.type === 'object' || def.shape !== undefined) ? schema : undefined;
}

/** The JSON Schema published for `schema` (`io`: `input` or `output`). */
export function jsonSchema(schema, io) {
  const object = objectSchema(schema);
  if (!object) return io === 'input' ? EMPTY_OBJECT_JSON_SCHEMA : undefined;
  return z.toJSONSchema(object, { target: 'draft-7', io });
}

/** The fields of an object schema, as `[name, schema]`. */
export function fields(schema) {
  const shape = objectSchema(schema)?._zod.def.shape;
  return shape ? Object.entries(shape) : [];
}

/** Whether a field may be left out. */
export function isOptional(schema) {
  return schema?._zod?.def?.type === 'optional';
}

/** `data` parsed with `schema`: `{ success, data }` or `{ success: false, error }`. */
export async function parse(schema, data) {
  return z.safeParseAsync(objectSchema(schema) ?? schema, data);
}

function dotPath(path) {
  if (path.length === 0) return 'object root';
  return path.reduce((acc, seg, index) => {
    if (index === 0) return String(seg);
    return typeof seg === 'number' ? `${acc}[${seg}]` : `${acc}.${seg}`;
  }, '');
}

/** The message of a parse error, as the official SDK words it. */
export function parseErrorMessage(error) {
  if (error && typeof error === 'object') {
    if (Array.isArray(error.issues) && error.issues.length > 0) {
      return error.issues.map((i) => (i.path?.length ? `${i.message} at ${dotPath(i.path)}` : i.message)).join('\n');
    }
    if (typeof error.message === 'string') return error.message;
  }
  return String(error);
}

export const COMPLETABLE = Symbol.for('mcp.completable');

/** Marks a prompt argument's schema with a function that suggests its values. */
export function completable(schema, complete) {
  Object.defineProperty(schema, COMPLETABLE, { value: { complete }, enumerable: false });
  return schema;
}

/** The completer of a field, looking through `.optional()`. */
export function completer(schema) {
  const own = schema?.[COMPLETABLE]?.complete;
  if (own) return own;
  const inner = schema?._zod?.def?.innerType;
  return inner?.[COMPLETABLE]?.complete;
}
