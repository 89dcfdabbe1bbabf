import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { bootStream, BootEventType } from '../domain/boot/boot.events';
import { parseClientsCsv } from '../domain/client/client-import';
import { clientDecider } from '../domain/client/client.decider';
import { clientStream } from '../domain/client/client.events';
import { normalizeMac } from '../domain/client/mac';
import { DomainError, ErrorCode } from '../domain/shared/domain-error';
import { ReadModelQueries } from '../projections/read-model-queries';
import { CommandRunner, type CommandOutcome } from './command-runner';
import {
  ApproveClientCommand,
  AssignImageCommand,
  DetectClientCommand,
  ImportClientsCommand,
  LearnClientAddressCommand,
  RejectClientCommand,
  RemoveClientCommand,
  RenameClientCommand,
  ReportBootFactCommand,
  SetClientBootConfigCommand,
  type ImportRowResult,
} from './client.commands';

@CommandHandler(DetectClientCommand)
export class DetectClientHandler implements ICommandHandler<DetectClientCommand> {
  constructor(private readonly runner: CommandRunner) {}
  execute({ input, meta }: DetectClientCommand): Promise<CommandOutcome> {
    const mac = normalizeMac(input.mac);
    return this.runner.run(clientStream(mac), clientDecider, {
      type: 'DetectClient', mac, serial: input.serial ?? null, model: input.model ?? null,
      ip: input.ip ?? null, via: input.via, bootId: input.bootId ?? null,
    }, meta);
  }
}

@CommandHandler(LearnClientAddressCommand)
export class LearnClientAddressHandler implements ICommandHandler<LearnClientAddressCommand> {
  constructor(private readonly runner: CommandRunner) {}
  execute({ input, meta }: LearnClientAddressCommand): Promise<CommandOutcome> {
    const mac = normalizeMac(input.mac);
    return this.runner.run(clientStream(mac), clientDecider, { type: 'LearnClientAddress', mac, ip: input.ip }, meta);
  }
}

@CommandHandler(ApproveClientCommand)
export class ApproveClientHandler implements ICommandHandler<ApproveClientCommand> {
  constructor(private readonly runner: CommandRunner, private readonly queries: ReadModelQueries) {}
  execute({ input, meta }: ApproveClientCommand): Promise<CommandOutcome> {
    const mac = normalizeMac(input.mac);
    if (input.imageId) this.queries.requireImage(input.imageId);
    return this.runner.run(clientStream(mac), clientDecider, {
      type: 'ApproveClient', mac, name: input.name ?? null, imageId: input.imageId ?? null,
    }, meta);
  }
}

@CommandHandler(RejectClientCommand)
export class RejectClientHandler implements ICommandHandler<RejectClientCommand> {
  constructor(private readonly runner: CommandRunner) {}
  execute({ input, meta }: RejectClientCommand): Promise<CommandOutcome> {
    const mac = normalizeMac(input.mac);
    return this.runner.run(clientStream(mac), clientDecider, { type: 'RejectClient', mac }, meta);
  }
}

@CommandHandler(RemoveClientCommand)
export class RemoveClientHandler implements ICommandHandler<RemoveClientCommand> {
  constructor(private readonly runner: CommandRunner) {}
  execute({ input, meta }: RemoveClientCommand): Promise<CommandOutcome> {
    const mac = normalizeMac(input.mac);
    return this.runner.run(clientStream(mac), clientDecider, { type: 'RemoveClient', mac }, meta);
  }
}

@CommandHandler(RenameClientCommand)
export class RenameClientHandler implements ICommandHandler<RenameClientCommand> {
  constructor(private readonly runner: CommandRunner) {}
  execute({ input, meta }: RenameClientCommand): Promise<CommandOutcome> {
    const mac = normalizeMac(input.mac);
    return this.runner.run(clientStream(mac), clientDecider, { type: 'RenameClient', mac, name: input.name }, meta);
  }
}

@CommandHandler(AssignImageCommand)
export class AssignImageHandler implements ICommandHandler<AssignImageCommand> {
  constructor(private readonly runner: CommandRunner, private readonly queries: ReadModelQueries) {}
  execute({ input, meta }: AssignImageCommand): Promise<CommandOutcome> {
    const mac = normalizeMac(input.mac);
    if (input.imageId) this.queries.requireImage(input.imageId);
    return this.runner.run(clientStream(mac), clientDecider, { type: 'AssignImage', mac, imageId: input.imageId }, meta);
  }
}

@CommandHandler(SetClientBootConfigCommand)
export class SetClientBootConfigHandler implements ICommandHandler<SetClientBootConfigCommand> {
  constructor(private readonly runner: CommandRunner) {}
  execute({ input, meta }: SetClientBootConfigCommand): Promise<CommandOutcome> {
    const mac = normalizeMac(input.mac);
    return this.runner.run(clientStream(mac), clientDecider, {
      type: 'SetClientBootConfig', mac, configTxt: input.configTxt, cmdlineArgs: input.cmdlineArgs,
    }, meta);
  }
}

/** Approves (pre-registers) every MAC of a CSV list; a bad row does not stop the others. */
@CommandHandler(ImportClientsCommand)
export class ImportClientsHandler implements ICommandHandler<ImportClientsCommand> {
  constructor(private readonly runner: CommandRunner, private readonly queries: ReadModelQueries) {}
  async execute({ input, meta }: ImportClientsCommand): Promise<ImportRowResult[]> {
    const results: ImportRowResult[] = [];
    for (const row of parseClientsCsv(input.csv)) {
      if (!row.ok) {
        results.push({ line: row.line, key: null, ok: false, code: row.code, message: row.message });
        continue;
      }
      try {
        if (row.imageId) this.queries.requireImage(row.imageId);
        await this.runner.run(clientStream(row.mac), clientDecider, {
          type: 'ApproveClient', mac: row.mac, name: row.name, imageId: row.imageId,
        }, meta);
        results.push({ line: row.line, key: row.mac, ok: true, code: null, message: null });
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        results.push({ line: row.line, key: row.mac, ok: false, code: error.code, message: error.message });
      }
    }
    return results;
  }
}

/** Boot progress facts reported by protocol plugins: appended to `boot-<mac>`, no decision. */
@CommandHandler(ReportBootFactCommand)
export class ReportBootFactHandler implements ICommandHandler<ReportBootFactCommand> {
  constructor(private readonly runner: CommandRunner) {}
  execute({ input, meta }: ReportBootFactCommand): Promise<CommandOutcome> {
    const mac = normalizeMac(input.mac);
    if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(input.stage)) {
      throw new DomainError(ErrorCode.VALIDATION, `stage: must match ^[a-z0-9][a-z0-9._-]{0,63}$`, 'stage');
    }
    return this.runner.record(bootStream(mac), [{
      type: BootEventType.BootProgressed,
      data: { mac, stage: input.stage, plugin: input.plugin, ip: input.ip ?? null, detail: input.detail ?? {} },
    }], meta);
  }
}

export const CLIENT_HANDLERS = [
  DetectClientHandler,
  LearnClientAddressHandler,
  ApproveClientHandler,
  RejectClientHandler,
  RemoveClientHandler,
  RenameClientHandler,
  AssignImageHandler,
  SetClientBootConfigHandler,
  ImportClientsHandler,
  ReportBootFactHandler,
];
