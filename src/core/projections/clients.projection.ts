import { ClientEventType } from '../domain/client/client.events';
import { defineProjection, unhandled } from './projection';
import type { ClientView, ReadModelState } from './read-models';

function blank(mac: string, at: string): ClientView {
  return {
    mac,
    status: 'pending',
    name: null,
    imageId: null,
    bootedImage: null,
    serial: null,
    model: null,
    ip: null,
    configTxt: '',
    cmdlineArgs: '',
    preRegistered: false,
    detectedAt: null,
    lastSeenAt: null,
    approvedAt: null,
    updatedAt: at,
  };
}

/** Stores the new record (frozen) and keeps the address and serial indexes in step. */
function put(state: ReadModelState, before: ClientView | undefined, after: ClientView | null): void {
  if (before?.ip && before.ip !== after?.ip && state.clientByIp.get(before.ip) === before.mac) state.clientByIp.delete(before.ip);
  if (before?.serial && before.serial !== after?.serial && state.clientBySerial.get(before.serial) === before.mac) {
    state.clientBySerial.delete(before.serial);
  }
  if (!after) {
    if (before) state.clients.delete(before.mac);
    return;
  }
  if (after.ip) state.clientByIp.set(after.ip, after.mac);
  if (after.serial) state.clientBySerial.set(after.serial, after.mac);
  state.clients.set(after.mac, Object.freeze(after));
}

export const clientsProjection = defineProjection({
  name: 'clients',
  // BootProgressed: only the facts that hand a client an image version (detail.imageId/imageVersion).
  handles: [...Object.values(ClientEventType), 'BootProgressed' as const],
  apply(state, event) {
    const at = event.metadata.timestamp;
    const c = state.clients.get(event.data.mac);
    switch (event.type) {
      case 'BootProgressed': {
        const { imageId, imageVersion } = event.data.detail;
        if (!c || typeof imageId !== 'string' || typeof imageVersion !== 'number') return;
        if (c.bootedImage?.imageId === imageId && c.bootedImage.version === imageVersion) return;
        put(state, c, { ...c, bootedImage: Object.freeze({ imageId, version: imageVersion }) });
        return;
      }
      case 'ClientDetected':
      case 'ClientRedetected': {
        const d = event.data;
        // A first detection (or one after removal) starts a fresh record.
        const base = !c || event.type === 'ClientDetected' ? { ...blank(d.mac, at), detectedAt: at } : c;
        put(state, c, {
          ...base,
          serial: d.serial ?? base.serial,
          model: d.model ?? base.model,
          ip: d.ip ?? base.ip,
          lastSeenAt: at,
          updatedAt: at,
        });
        return;
      }
      case 'ClientAddressLearned':
        if (c) put(state, c, { ...c, ip: event.data.ip, lastSeenAt: at, updatedAt: at });
        return;
      case 'ClientApproved': {
        const d = event.data;
        const base = c ?? blank(d.mac, at);
        put(state, c, {
          ...base,
          status: 'approved',
          preRegistered: Boolean(d.preRegistered),
          name: d.name ?? base.name,
          imageId: d.imageId ?? base.imageId,
          approvedAt: at,
          updatedAt: at,
        });
        return;
      }
      case 'ClientRejected':
        if (c) put(state, c, { ...c, status: 'rejected', updatedAt: at });
        return;
      case 'ClientRenamed':
        if (c) put(state, c, { ...c, name: event.data.name, updatedAt: at });
        return;
      case 'ClientImageAssigned':
        if (c) put(state, c, { ...c, imageId: event.data.imageId ?? null, updatedAt: at });
        return;
      case 'ClientBootConfigChanged':
        if (c) put(state, c, { ...c, configTxt: event.data.configTxt, cmdlineArgs: event.data.cmdlineArgs, updatedAt: at });
        return;
      case 'ClientRemoved':
        if (c) put(state, c, null);
        return;
      default:
        unhandled(event);
    }
  },
});
