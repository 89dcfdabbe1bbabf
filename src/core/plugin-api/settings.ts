/**
 * A plugin declares its settings once, as a TypeBox object schema: each key with its type, its
 * default and a description. The schema is JSON Schema as it stands (the `plugins` query returns it
 * so a dashboard can draw a form); bramble validates every change against it, fills in defaults,
 * and hands the plugin its values typed from the same schema (`Static<typeof schema>`).
 *
 * ```ts
 * const settings = Type.Object({
 *   url: Nullable(Type.String({ format: 'uri' }), { default: null, description: 'Where to POST.' }),
 *   retries: Type.Integer({ minimum: 0, maximum: 10, default: 5, description: 'Attempts per event.' }),
 * });
 * ```
 * Keys not in the schema are refused. Cross-field rules ("the range lies in one subnet") go in the
 * plugin's `checkSettings`, which sees the whole effective settings.
 */
import { Type, type SchemaOptions, type TNull, type TSchema, type TString, type TUnion } from '@sinclair/typebox';

export { Type };
export type { Static, TObject, TProperties, TSchema } from '@sinclair/typebox';

/** A value of the schema, or null. The default and description go in `options`. */
export function Nullable<T extends TSchema>(schema: T, options: SchemaOptions = {}): TUnion<[T, TNull]> {
  return Type.Union([schema, Type.Null()], options);
}

/** A dotted-quad IPv4 address (`10.0.0.1`). */
export function Ipv4(options: SchemaOptions = {}): TString {
  return Type.String({ format: 'ipv4', ...options });
}

/** A contiguous IPv4 netmask (`255.255.255.0`). */
export function Netmask(options: SchemaOptions = {}): TString {
  return Type.String({ format: 'netmask', ...options });
}

/** A MAC address in bramble's canonical form (`aa:bb:cc:dd:ee:ff`). */
export function MacAddress(options: SchemaOptions = {}): TString {
  return Type.String({ format: 'mac', ...options });
}

/** One problem found by a plugin's cross-field check: `field` is a key of its settings (or a dotted path under it). */
export interface SettingsProblem {
  field: string;
  message: string;
}
