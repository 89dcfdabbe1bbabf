/**
 * `@bramble/plugin` (also `bramble/plugin`): the plugin contract. Start with plugin.ts.
 * Nothing here imports from the rest of bramble: this folder is published on its own.
 */
export * from './plugin';
export * from './events';
export * from './views';
export * from './settings';
export * from './net';
