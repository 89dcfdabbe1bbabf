import type { GlobalSettings } from '../domain/settings/settings.events';
import { BrambleCommand } from './command';

/** Commands about bramble itself: its settings, its API tokens, and plugins' own facts. */
export class UpdateSettingsCommand extends BrambleCommand<{ changes: Partial<GlobalSettings> }> {}
export class UpdatePluginSettingsCommand extends BrambleCommand<{ plugin: string; values: Record<string, unknown>; reset?: string[] }> {}
export class IssueApiTokenCommand extends BrambleCommand<{ name: string; sha256: string }> {}
export class AppendPluginEventCommand extends BrambleCommand<{ plugin: string; streamSuffix: string; type: string; data: Record<string, unknown> }> {}
