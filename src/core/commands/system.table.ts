/** Commands about bramble itself: its settings (stream `settings`), API tokens (`auth-tokens`), and plugins' own facts. */
import { createHash, randomBytes } from 'node:crypto';
import { apiTokenDecider } from '../auth/api-token.decider';
import { AUTH_TOKENS_STREAM } from '../auth/auth.events';
import type { BrambleConfig } from '../config/config';
import { settingsDecider, type UpdateGlobalSettings } from '../domain/settings/settings.decider';
import { SETTINGS_STREAM } from '../domain/settings/settings.events';
import { validationError } from '../domain/shared/domain-error';
import { aggregateTable, flow } from './command-table';
import {
  AppendPluginEventCommand,
  CreateApiTokenCommand,
  IssueApiTokenCommand,
  RevokeApiTokenCommand,
  UpdatePluginSettingsCommand,
  UpdateSettingsCommand,
} from './system.commands';

/** Where the environment pins a global setting: field → variable and value. */
function pinsOf(config: BrambleConfig): UpdateGlobalSettings['pinned'] {
  return {
    ...(config.interface ? { interface: { variable: 'BRAMBLE_INTERFACE', value: config.interface } } : {}),
    ...(config.serverIp ? { serverIp: { variable: 'BRAMBLE_SERVER_IP', value: config.serverIp } } : {}),
  };
}

const STREAM_SUFFIX = /^[A-Za-z0-9][A-Za-z0-9:._-]{0,127}$/;

export const SYSTEM_TABLE = aggregateTable({ name: 'settings', decider: settingsDecider, stream: () => SETTINGS_STREAM }, (on) => [
  on(UpdateSettingsCommand, (input, d) => ({
    type: 'UpdateGlobalSettings',
    changes: input.changes,
    pinned: pinsOf(d.config),
    plugins: d.plugins.settingsSpecs(),
  })),
  on(UpdatePluginSettingsCommand, (input, d) => ({
    type: 'UpdatePluginSettings',
    plugin: input.plugin,
    set: input.values,
    unset: input.reset ?? [],
    global: d.queries.settings(),
    plugins: d.plugins.settingsSpecs(),
  })),

  /** A plugin's own facts, in its own streams `plugin-<name>-<suffix>`; only types it declared. */
  flow(AppendPluginEventCommand, (input, meta, d) => {
    if (!d.plugins.emits(input.plugin).includes(input.type)) {
      throw validationError('type', `plugin ${input.plugin} did not declare event type ${input.type} in emits`);
    }
    if (!STREAM_SUFFIX.test(input.streamSuffix)) throw validationError('streamSuffix', `must match ${STREAM_SUFFIX.source}`);
    return d.runner.record(`plugin-${input.plugin}-${input.streamSuffix}`, [{ type: input.type, data: input.data }], meta);
  }),
]);

/** API tokens: only a token's SHA-256 is stored; a created token is returned once and never logged. */
export const API_TOKEN_TABLE = aggregateTable({ name: 'api-token', decider: apiTokenDecider, stream: () => AUTH_TOKENS_STREAM }, (on) => [
  /** A token whose digest the caller made (the first admin token, written to a file first). */
  on(IssueApiTokenCommand, (input) => ({ type: 'IssueApiToken', label: input.name, sha256: input.sha256 })),
  flow(CreateApiTokenCommand, async (input, meta, d) => {
    const token = randomBytes(32).toString('base64url');
    const sha256 = createHash('sha256').update(token, 'utf8').digest('hex');
    const outcome = await d.runner.run(AUTH_TOKENS_STREAM, apiTokenDecider, { type: 'IssueApiToken', label: input.label, sha256 }, meta);
    return { ...outcome, label: input.label, token };
  }),
  /** BRAMBLE_ADMIN_TOKEN (`env`) is not the API's to revoke. */
  on(RevokeApiTokenCommand, (input) => ({ type: 'RevokeApiToken', label: input.label })),
]);
