import { BrambleCommand } from './command';
import type { CommandOutcome } from './command-runner';

export class RegisterImageCommand extends BrambleCommand<{ name: string; path: string }, { imageId: string } & CommandOutcome> {}
export class RenameImageCommand extends BrambleCommand<{ imageId: string; name: string }> {}
export class DeleteImageCommand extends BrambleCommand<{ imageId: string }> {}
