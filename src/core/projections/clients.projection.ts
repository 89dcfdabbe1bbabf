import { ClientEventType } from '../domain/client/client.events';
import type { RecordedEvent } from '../event-store/event-store.port';
import type { Projection } from './projection';
import type { ClientView, ReadModelState } from './read-models';

type Data = Record<string, unknown> & { mac: string };

function setIp(state: ReadModelState, client: ClientView, ip: string | null): void {
  if (client.ip === ip) return;
  if (client.ip && state.clientByIp.get(client.ip) === client.mac) state.clientByIp.delete(client.ip);
  client.ip = ip;
  if (ip) state.clientByIp.set(ip, client.mac);
}

function blank(mac: string, at: string): ClientView {
  return {
    mac, status: 'pending', name: null, imageId: null, serial: null, model: null, ip: null,
    configTxt: '', cmdlineArgs: '', preRegistered: false, detectedAt: null, lastSeenAt: null,
    approvedAt: null, updatedAt: at,
  };
}

export const clientsProjection: Projection = {
  name: 'clients',
  handles: Object.values(ClientEventType),
  apply(state: ReadModelState, event: RecordedEvent): void {
    const d = event.data as Data;
    const at = event.metadata.timestamp;
    let c = state.clients.get(d.mac);
    switch (event.type) {
      case ClientEventType.ClientDetected:
      case ClientEventType.ClientRedetected: {
        if (!c || event.type === ClientEventType.ClientDetected) {
          const previous = c;
          c = blank(d.mac, at);
          if (previous) setIp(state, previous, null);
          state.clients.set(d.mac, c);
          c.detectedAt = at;
        }
        c.serial = (d.serial as string | null) ?? c.serial;
        c.model = (d.model as string | null) ?? c.model;
        if (d.ip) setIp(state, c, d.ip as string);
        c.lastSeenAt = at;
        break;
      }
      case ClientEventType.ClientAddressLearned:
        if (!c) return;
        setIp(state, c, d.ip as string);
        c.lastSeenAt = at;
        break;
      case ClientEventType.ClientApproved:
        if (!c) {
          c = blank(d.mac, at);
          state.clients.set(d.mac, c);
        }
        c.status = 'approved';
        c.preRegistered = Boolean(d.preRegistered);
        if (d.name !== null && d.name !== undefined) c.name = d.name as string;
        if (d.imageId !== null && d.imageId !== undefined) c.imageId = d.imageId as string;
        c.approvedAt = at;
        break;
      case ClientEventType.ClientRejected:
        if (!c) return;
        c.status = 'rejected';
        break;
      case ClientEventType.ClientRenamed:
        if (!c) return;
        c.name = d.name as string;
        break;
      case ClientEventType.ClientImageAssigned:
        if (!c) return;
        c.imageId = (d.imageId as string | null) ?? null;
        break;
      case ClientEventType.ClientBootConfigChanged:
        if (!c) return;
        c.configTxt = d.configTxt as string;
        c.cmdlineArgs = d.cmdlineArgs as string;
        break;
      case ClientEventType.ClientRemoved:
        if (!c) return;
        setIp(state, c, null);
        state.clients.delete(d.mac);
        return;
      default:
        return;
    }
    c.updatedAt = at;
  },
};
