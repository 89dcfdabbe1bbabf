/** Commands about bramble itself: its settings (stream `settings`), API tokens, and plugins' own facts. */
import { AUTH_TOKENS_STREAM, AuthEventType } from '../auth/auth.events';
import type { BrambleConfig } from '../config/config';
import { settingsDecider } from '../domain/settings/settings.decider';
import { SETTINGS_STREAM, type GlobalSettings } from '../domain/settings/settings.events';
import { validationError } from '../domain/shared/domain-error';
import { aggregateTable, flow } from './command-table';
import { AppendPluginEventCommand, IssueApiTokenCommand, UpdatePluginSettingsCommand, UpdateSettingsCommand } from './system.commands';

/** Where the environment pins a global setting: field → variable. */
function pinsOf(config: BrambleConfig): Partial<Record<keyof GlobalSettings, string>> {
  return {
    ...(config.interface ? { interface: 'BRAMBLE_INTERFACE' } : {}),
    ...(config.serverIp ? { serverIp: 'BRAMBLE_SERVER_IP' } : {}),
  };
}

const STREAM_SUFFIX = /^[A-Za-z0-9][A-Za-z0-9:._-]{0,127}$/;

export const SYSTEM_TABLE = aggregateTable(
  { name: 'settings', decider: settingsDecider, stream: () => SETTINGS_STREAM },
  (on) => [
    on(UpdateSettingsCommand, (input, d) => {
      const changes = { ...input.changes };
      // A pinned field sent back with the value it shows (the environment's) is not a change.
      if (d.config.interface && changes.interface === d.config.interface) delete changes.interface;
      if (d.config.serverIp && changes.serverIp === d.config.serverIp) delete changes.serverIp;
      return { type: 'UpdateGlobalSettings', changes, pinned: pinsOf(d.config), plugins: d.plugins.settingsSpecs() };
    }),
    on(UpdatePluginSettingsCommand, (input, d) => ({
      type: 'UpdatePluginSettings', plugin: input.plugin, set: input.values, unset: input.reset ?? [],
      global: d.queries.settings(), plugins: d.plugins.settingsSpecs(),
    })),

    flow(IssueApiTokenCommand, (input, meta, d) => {
      if (!/^[0-9a-f]{64}$/.test(input.sha256)) throw validationError('sha256', 'not a SHA-256 hex digest');
      return d.runner.record(AUTH_TOKENS_STREAM, [{ type: AuthEventType.ApiTokenIssued, data: { name: input.name, sha256: input.sha256 } }], meta);
    }),

    /** A plugin's own facts, in its own streams `plugin-<name>-<suffix>`; only types it declared. */
    flow(AppendPluginEventCommand, (input, meta, d) => {
      if (!d.plugins.emits(input.plugin).includes(input.type)) {
        throw validationError('type', `plugin ${input.plugin} did not declare event type ${input.type} in emits`);
      }
      if (!STREAM_SUFFIX.test(input.streamSuffix)) throw validationError('streamSuffix', `must match ${STREAM_SUFFIX.source}`);
      return d.runner.record(`plugin-${input.plugin}-${input.streamSuffix}`, [{ type: input.type, data: input.data }], meta);
    }),
  ],
);
