import type { DetectClientInput, BootFactInput } from '../plugin-api/plugin';
import { BrambleCommand } from './command';
import type { ImportRowResult } from './import-rows';

export type { ImportRowResult };

export class DetectClientCommand extends BrambleCommand<DetectClientInput> {}
export class LearnClientAddressCommand extends BrambleCommand<{ mac: string; ip: string }> {}
export class ApproveClientCommand extends BrambleCommand<{ mac: string; name?: string | null; imageId?: string | null }> {}
export class RejectClientCommand extends BrambleCommand<{ mac: string }> {}
export class RemoveClientCommand extends BrambleCommand<{ mac: string }> {}
export class RenameClientCommand extends BrambleCommand<{ mac: string; name: string }> {}
export class AssignImageCommand extends BrambleCommand<{ mac: string; imageId: string | null }> {}
export class SetClientBootConfigCommand extends BrambleCommand<{ mac: string; configTxt: string; cmdlineArgs: string }> {}

export class ImportClientsCommand extends BrambleCommand<{ csv: string }, ImportRowResult[]> {}
export class ReportBootFactCommand extends BrambleCommand<BootFactInput & { plugin: string }> {}
