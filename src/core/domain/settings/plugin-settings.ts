/**
 * Plugin settings against their schemas (pure): defaults filled in, values checked, problems
 * turned into messages a person can act on. Used by the settings decider (before a change is
 * stored) and by the plugin host (to hand a plugin its effective values).
 */
import { FormatRegistry, Kind, type TObject, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { CANONICAL_MAC_PATTERN, isIpv4, netmaskPrefix } from '../../plugin-api/net';
import type { GlobalSettings } from './settings.events';

// The formats the contract's helpers (Ipv4, Netmask, MacAddress) and plugin authors use.
if (!FormatRegistry.Has('ipv4')) FormatRegistry.Set('ipv4', (v) => isIpv4(v));
if (!FormatRegistry.Has('netmask')) FormatRegistry.Set('netmask', (v) => netmaskPrefix(v) !== null);
if (!FormatRegistry.Has('mac')) FormatRegistry.Set('mac', (v) => CANONICAL_MAC_PATTERN.test(v));
if (!FormatRegistry.Has('uri')) {
  FormatRegistry.Set('uri', (v) => {
    try {
      return Boolean(new URL(v).protocol);
    } catch {
      return false;
    }
  });
}

/** One loaded plugin's settings, as the decider needs them. */
export interface PluginSettingsSpec {
  /** Its schema; null when it has none (it then accepts no settings). */
  schema: TObject | null;
  /** Its cross-field check on effective values. */
  check?: (values: Record<string, unknown>, global: GlobalSettings) => { field: string; message: string }[];
}

export interface SettingsFieldProblem {
  /** Path under the plugin: `rangeStart`, `fixedAddresses.dc:a6:32:00:00:01`. */
  field: string;
  message: string;
}

/** The plugin's values with the schema's defaults filled in (never changes `stored`). */
export function effectivePluginSettings(schema: TObject | null, stored: Record<string, unknown> | undefined): Record<string, unknown> {
  const values = structuredClone(stored ?? {});
  if (!schema) return values;
  return Value.Default(schema, values) as Record<string, unknown>;
}

/** Keys of the schema, for messages. */
export function settingKeys(schema: TObject | null): string[] {
  return schema ? Object.keys(schema.properties) : [];
}

/** Why `key` is not one of the schema's settings, or null when it is. */
export function unknownSettingMessage(schema: TObject | null, key: unknown): string | null {
  if (typeof key === 'string' && schema && Object.hasOwn(schema.properties, key)) return null;
  const keys = settingKeys(schema);
  return keys.length ? `unknown setting (known: ${keys.join(', ')})` : 'this plugin has no settings';
}

/** A few words on what a schema accepts: `an IPv4 address or null`, `an integer from 0 to 5000`. */
export function describeSchema(schema: TSchema): string {
  const s = schema as TSchema & Record<string, unknown>;
  if (Array.isArray(s.anyOf)) {
    const parts = (s.anyOf as TSchema[]).map(describeSchema);
    const literals = (s.anyOf as Record<string, unknown>[]).every((o) => 'const' in o);
    return literals ? `one of ${(s.anyOf as Record<string, unknown>[]).map((o) => String(o.const)).join(', ')}` : parts.join(' or ');
  }
  if ('const' in s) return JSON.stringify(s.const);
  switch (s[Kind]) {
    case 'Null':
      return 'null';
    case 'Boolean':
      return 'true or false';
    case 'String': {
      const format = s.format as string | undefined;
      if (format === 'ipv4') return 'an IPv4 address (e.g. 10.0.0.1)';
      if (format === 'netmask') return 'a contiguous netmask (e.g. 255.255.255.0)';
      if (format === 'mac') return 'a lower-case MAC address (aa:bb:cc:dd:ee:ff)';
      if (format === 'uri') return 'a URL';
      const len =
        s.maxLength !== undefined
          ? ` of at most ${String(s.maxLength)} characters`
          : s.minLength !== undefined
            ? ` of at least ${String(s.minLength)} characters`
            : '';
      return s.pattern ? `a string matching ${String(s.pattern)}` : `a string${len}`;
    }
    case 'Integer':
    case 'Number': {
      const noun = s[Kind] === 'Integer' ? 'an integer' : 'a number';
      if (s.minimum !== undefined && s.maximum !== undefined) return `${noun} from ${String(s.minimum)} to ${String(s.maximum)}`;
      if (s.minimum !== undefined) return `${noun} of at least ${String(s.minimum)}`;
      if (s.maximum !== undefined) return `${noun} of at most ${String(s.maximum)}`;
      return noun;
    }
    case 'Array': {
      const max = s.maxItems !== undefined ? ` of at most ${String(s.maxItems)} items` : '';
      return `a list${max}, each ${describeSchema(s.items as TSchema)}`;
    }
    case 'Record': {
      const pattern = Object.keys((s.patternProperties as Record<string, unknown>) ?? {})[0];
      return pattern ? `an object whose keys match ${pattern}` : 'an object';
    }
    case 'Object':
      return 'an object';
    default:
      return 'a valid value';
  }
}

/** The sub-schema at a JSON pointer below `schema` (for messages), or null. */
function schemaAt(schema: TSchema, pointer: string): TSchema | null {
  let current: TSchema | null = schema;
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (!current) return null;
    const c = current as Record<string, unknown>;
    if (c.properties && Object.hasOwn(c.properties as object, part)) current = (c.properties as Record<string, TSchema>)[part];
    else if (c.patternProperties) current = Object.values(c.patternProperties as Record<string, TSchema>)[0] ?? null;
    else if (c.items) current = c.items as TSchema;
    else if (c.anyOf) current = (c.anyOf as TSchema[]).find((o) => (o as Record<string, unknown>).type !== 'null') ?? null;
    else return null;
  }
  return current;
}

function pathToField(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

/**
 * Checks a plugin's whole stored values against its schema (unknown keys included) and returns
 * the first problem, or null.
 */
export function checkPluginValues(schema: TObject | null, stored: Record<string, unknown>): SettingsFieldProblem | null {
  for (const key of Object.keys(stored)) {
    const message = unknownSettingMessage(schema, key);
    if (message) return { field: key, message };
  }
  if (!schema) return null;
  // Each value as given (defaults would paper over a wrong type), then the whole with defaults.
  for (const [key, value] of Object.entries(stored)) {
    const problem = firstProblem(schema, schema.properties[key], value, `/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`);
    if (problem) return problem;
  }
  return firstProblem(schema, schema, effectivePluginSettings(schema, stored), '');
}

function firstProblem(root: TObject, schema: TSchema, value: unknown, prefix: string): SettingsFieldProblem | null {
  const first = Value.Errors(schema, value).First();
  if (!first) return null;
  const pointer = prefix + first.path;
  const field = pathToField(pointer);
  const sub = schemaAt(root, pointer);
  if (first.message === 'Unexpected property') {
    // A key a record does not accept (fixedAddresses: a MAC that is not canonical...).
    const parent = schemaAt(root, pointer.slice(0, pointer.lastIndexOf('/')));
    const pattern = parent ? Object.keys(((parent as Record<string, unknown>).patternProperties as object) ?? {})[0] : undefined;
    return { field, message: pattern ? `not an accepted key (keys match ${pattern})` : 'not an accepted key' };
  }
  return { field, message: sub ? `must be ${describeSchema(sub)}` : first.message };
}
