import type {
  ImageClonedData,
  ImageCommandFailedData,
  ImageExportedData,
  ImageImportedData,
  ImageVersionCreatedData,
} from '../plugin-api/events';
import { BrambleCommand } from './command';
import type { CommandOutcome } from './command-runner';

export class RegisterImageCommand extends BrambleCommand<{ name: string; path: string }, { imageId: string } & CommandOutcome> {}
export class RenameImageCommand extends BrambleCommand<{ imageId: string; name: string }> {}
export class DeleteImageCommand extends BrambleCommand<{ imageId: string }> {}

// The image jobs (src/core/images) do the file work, then record what they made with these.
export class RecordImageImportCommand extends BrambleCommand<{ data: ImageImportedData }> {}
export class RecordImageCloneCommand extends BrambleCommand<{ data: ImageClonedData }> {}
export class CreateImageVersionCommand extends BrambleCommand<{ data: ImageVersionCreatedData; activate: boolean }> {}
export class RecordImageCommandFailedCommand extends BrambleCommand<{ data: ImageCommandFailedData }> {}
export class RecordImageExportCommand extends BrambleCommand<{ data: ImageExportedData }> {}
export class ActivateImageVersionCommand extends BrambleCommand<{ imageId: string; version: number }> {}
export class DeleteImageVersionCommand extends BrambleCommand<{ imageId: string; version: number }> {}
