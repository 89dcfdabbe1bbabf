import type { GlobalSettings } from '../domain/settings/settings.events';
import { BrambleCommand } from './command';
import type { CommandOutcome } from './command-runner';

/** Commands about bramble itself: its settings, its API tokens, and plugins' own facts. */
export class UpdateSettingsCommand extends BrambleCommand<{ changes: Partial<GlobalSettings> }> {}
export class UpdatePluginSettingsCommand extends BrambleCommand<{ plugin: string; values: Record<string, unknown>; reset?: string[] }> {}
export class IssueApiTokenCommand extends BrambleCommand<{ name: string; sha256: string }> {}
/** What CreateApiTokenCommand returns: the token itself, which exists nowhere else from then on. */
export interface CreatedApiToken extends CommandOutcome {
  label: string;
  token: string;
}
/** Generates a token (256 random bits, base64url) and issues its SHA-256 under `label`. */
export class CreateApiTokenCommand extends BrambleCommand<{ label: string }, CreatedApiToken> {}
export class RevokeApiTokenCommand extends BrambleCommand<{ label: string }> {}
export class AppendPluginEventCommand extends BrambleCommand<{
  plugin: string;
  streamSuffix: string;
  type: string;
  data: Record<string, unknown>;
}> {}
