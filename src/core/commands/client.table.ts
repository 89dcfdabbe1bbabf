/**
 * The client aggregate's command table (stream `client-<mac>`), the client import, and boot facts
 * (handed to the live boot sessions, core/boot).
 */
import { parseClientsCsv } from '../domain/client/client-import';
import { clientDecider } from '../domain/client/client.decider';
import { clientStream } from '../domain/client/client.events';
import { normalizeMac } from '../domain/client/mac';
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
} from './client.commands';
import { aggregateTable, flow } from './command-table';
import { importRows } from './import-rows';

export const CLIENT_TABLE = aggregateTable({ name: 'client', decider: clientDecider, stream: (c) => clientStream(c.mac) }, (on) => [
  on(DetectClientCommand, (i) => ({
    type: 'DetectClient',
    mac: normalizeMac(i.mac),
    serial: i.serial ?? null,
    model: i.model ?? null,
    ip: i.ip ?? null,
    via: i.via,
    bootId: i.bootId ?? null,
  })),
  on(LearnClientAddressCommand, (i) => ({ type: 'LearnClientAddress', mac: normalizeMac(i.mac), ip: i.ip })),
  on(ApproveClientCommand, (i, d) => {
    const mac = normalizeMac(i.mac);
    if (i.imageId) d.queries.requireImage(i.imageId);
    return { type: 'ApproveClient', mac, name: i.name ?? null, imageId: i.imageId ?? null };
  }),
  on(RejectClientCommand, (i) => ({ type: 'RejectClient', mac: normalizeMac(i.mac) })),
  on(RemoveClientCommand, (i) => ({ type: 'RemoveClient', mac: normalizeMac(i.mac) })),
  on(RenameClientCommand, (i) => ({ type: 'RenameClient', mac: normalizeMac(i.mac), name: i.name })),
  on(AssignImageCommand, (i, d) => {
    const mac = normalizeMac(i.mac);
    if (i.imageId) d.queries.requireImage(i.imageId);
    return { type: 'AssignImage', mac, imageId: i.imageId };
  }),
  on(SetClientBootConfigCommand, (i) => ({
    type: 'SetClientBootConfig',
    mac: normalizeMac(i.mac),
    configTxt: i.configTxt,
    cmdlineArgs: i.cmdlineArgs,
  })),

  /** Approves (pre-registers) every MAC of a CSV list; a bad row does not stop the others. */
  flow(ImportClientsCommand, (input, meta, d) =>
    importRows(
      parseClientsCsv(input.csv),
      (row) => row.mac,
      1,
      async (row) => {
        if (row.imageId) d.queries.requireImage(row.imageId);
        await d.runner.run(
          clientStream(row.mac),
          clientDecider,
          { type: 'ApproveClient', mac: row.mac, name: row.name, imageId: row.imageId },
          meta,
        );
      },
    ),
  ),

  /**
   * Boot facts reported by protocol plugins: decided by the live boot sessions (core/boot), which
   * append only stage changes (and `tftp.image-version` as BootProgressed) to `boot-<mac>`.
   */
  flow(ReportBootFactCommand, (input, meta, d) => d.boot.report(input, meta)),
]);
