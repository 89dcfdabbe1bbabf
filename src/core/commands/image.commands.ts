import type { Settings } from '../domain/settings/settings.events';
import { BrambleCommand } from './command';

export class RegisterImageCommand extends BrambleCommand<{ name: string; path: string }, { imageId: string } & import('./command-runner').CommandOutcome> {}
export class RenameImageCommand extends BrambleCommand<{ imageId: string; name: string }> {}
export class DeleteImageCommand extends BrambleCommand<{ imageId: string }> {}
export class UpdateSettingsCommand extends BrambleCommand<{ changes: Partial<Settings> }> {}
export class IssueApiTokenCommand extends BrambleCommand<{ name: string; sha256: string }> {}
export class AppendPluginEventCommand extends BrambleCommand<{ plugin: string; streamSuffix: string; type: string; data: Record<string, unknown> }> {}
