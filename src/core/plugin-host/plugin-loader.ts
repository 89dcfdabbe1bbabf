import * as path from 'node:path';
import { Kind } from '@sinclair/typebox';
import { CORE_EVENT_TYPES } from '../plugin-api/events';
import { PLUGIN_NAME_PATTERN, type AnyPlugin, type PluginFactory } from '../plugin-api/plugin';

/** Why a plugin could not be loaded; it is reported `down` in /health with this message. */
export class PluginLoadError extends Error {
  constructor(
    readonly source: string,
    problem: string,
  ) {
    super(`plugin ${source}: ${problem}`);
    this.name = 'PluginLoadError';
  }
}

/**
 * Loads a third-party plugin module (a CommonJS file or package, resolved from `cwd`): its
 * `createPlugin` export, or a default export that is a factory.
 */
export function loadPluginFactory(specifier: string, cwd: string): PluginFactory {
  let mod: Record<string, unknown>;
  try {
    const resolved = require.resolve(specifier, { paths: [cwd, path.join(cwd, 'node_modules')] });
    // A plugin named at run time: loaded with require() by design (CommonJS modules, see the README).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require(resolved) as Record<string, unknown>;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const hint = code === 'ERR_REQUIRE_ESM' ? ' (plugins are CommonJS modules: compile with "module": "commonjs")' : '';
    throw new PluginLoadError(specifier, `cannot be loaded: ${(error as Error).message.split('\n')[0]}${hint}`);
  }
  const fallback = mod.default as Record<string, unknown> | ((...args: unknown[]) => unknown) | undefined;
  const factory = mod.createPlugin ?? (typeof fallback === 'function' ? fallback : fallback?.createPlugin);
  if (typeof factory !== 'function') throw new PluginLoadError(specifier, 'exports no createPlugin function');
  return factory as PluginFactory;
}

function isSchema(value: unknown): boolean {
  return typeof value === 'object' && value !== null && typeof (value as Record<symbol, unknown>)[Kind] === 'string';
}

/** Checks what a factory returned; throws PluginLoadError naming the first problem. */
export function checkPluginShape(plugin: unknown, source: string): AnyPlugin {
  const p = plugin as Partial<AnyPlugin> | null;
  if (!p || typeof p !== 'object' || typeof p.start !== 'function') {
    throw new PluginLoadError(source, 'createPlugin() did not return a plugin (an object with name and start)');
  }
  if (typeof p.name !== 'string' || !PLUGIN_NAME_PATTERN.test(p.name)) {
    throw new PluginLoadError(source, `bad name ${JSON.stringify(p.name)} (must match ${PLUGIN_NAME_PATTERN.source})`);
  }
  if (p.consumes !== undefined && (!Array.isArray(p.consumes) || !p.consumes.every((t) => typeof t === 'string'))) {
    throw new PluginLoadError(source, 'consumes must be a list of event type names');
  }
  if (p.consumes?.length && typeof p.project !== 'function') throw new PluginLoadError(source, 'consumes events but has no project()');
  if (p.emits !== undefined) {
    if (typeof p.emits !== 'object' || p.emits === null || Array.isArray(p.emits)) {
      throw new PluginLoadError(source, 'emits must map each event type to the TypeBox schema of its data');
    }
    for (const [type, schema] of Object.entries(p.emits as Record<string, unknown>)) {
      if (!/^[A-Z][A-Za-z0-9]{1,63}$/.test(type))
        throw new PluginLoadError(source, `emitted type ${JSON.stringify(type)} must be PascalCase, past tense`);
      if ((CORE_EVENT_TYPES as readonly string[]).includes(type))
        throw new PluginLoadError(source, `emitted type ${type} is a core event type`);
      if (!isSchema(schema)) throw new PluginLoadError(source, `emitted type ${type} has no TypeBox schema`);
    }
  }
  if (p.settings !== undefined && (!isSchema(p.settings) || (p.settings as Record<symbol, unknown>)[Kind] !== 'Object')) {
    throw new PluginLoadError(source, 'settings must be a TypeBox object schema (Type.Object({...}))');
  }
  if ((p.snapshot === undefined) !== (p.restore === undefined)) throw new PluginLoadError(source, 'snapshot() and restore() come together');
  return p as AnyPlugin;
}
