import type { DetectClientInput, BootFactInput } from '../plugin-api/plugin';
import { BrambleCommand } from './command';

export class DetectClientCommand extends BrambleCommand<DetectClientInput> {}
export class LearnClientAddressCommand extends BrambleCommand<{ mac: string; ip: string }> {}
export class ApproveClientCommand extends BrambleCommand<{ mac: string; name?: string | null; imageId?: string | null }> {}
export class RejectClientCommand extends BrambleCommand<{ mac: string }> {}
export class RemoveClientCommand extends BrambleCommand<{ mac: string }> {}
export class RenameClientCommand extends BrambleCommand<{ mac: string; name: string }> {}
export class AssignImageCommand extends BrambleCommand<{ mac: string; imageId: string | null }> {}
export class SetClientBootConfigCommand extends BrambleCommand<{ mac: string; configTxt: string; cmdlineArgs: string }> {}

export interface ImportRowResult {
  line: number;
  /** The row's key (MAC or username) when it could be read. */
  key: string | null;
  ok: boolean;
  code: string | null;
  message: string | null;
}

export class ImportClientsCommand extends BrambleCommand<{ csv: string }, ImportRowResult[]> {}
export class ReportBootFactCommand extends BrambleCommand<BootFactInput & { plugin: string }> {}
