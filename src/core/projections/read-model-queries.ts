import { Inject, Injectable } from '@nestjs/common';
import { BRAMBLE_CONFIG, type BrambleConfig } from '../config/config';
import { effectiveBootSettings, type GlobalSettings, type SettingsState } from '../domain/settings/settings.events';
import { DomainError, ErrorCode } from '../domain/shared/domain-error';
import { ProjectionEngine } from './projection-engine';
import type { ApiTokenView, ClientView, GroupView, ImageView, ReadModelState, UserView } from './read-models';

export type ClientStatus = ClientView['status'];

/** Read-only questions asked of the read models (live, or a past state from stateAt). */
export class ReadModelView {
  constructor(
    protected readonly read: () => ReadModelState,
    private readonly pins: Partial<GlobalSettings> = {},
  ) {}

  clients(status?: ClientStatus): ClientView[] {
    const all = [...this.read().clients.values()];
    return (status ? all.filter((c) => c.status === status) : all).sort((a, b) => a.mac.localeCompare(b.mac));
  }

  client(mac: string): ClientView | null {
    return this.read().clients.get(mac) ?? null;
  }

  clientByIp(ip: string): ClientView | null {
    const mac = this.read().clientByIp.get(ip);
    return mac ? this.client(mac) : null;
  }

  users(): UserView[] {
    return [...this.read().users.values()].sort((a, b) => a.username.localeCompare(b.username));
  }

  user(username: string): UserView | null {
    return this.read().users.get(username) ?? null;
  }

  groups(): GroupView[] {
    return [...this.read().groups.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  group(name: string): GroupView | null {
    return this.read().groups.get(name) ?? null;
  }

  images(): ImageView[] {
    return [...this.read().images.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  image(id: string): ImageView | null {
    return this.read().images.get(id) ?? null;
  }

  /** MACs of the clients assigned to an image. */
  clientsUsingImage(imageId: string): string[] {
    return this.clients()
      .filter((c) => c.imageId === imageId)
      .map((c) => c.mac);
  }

  /** The global settings with the environment's pins (BRAMBLE_INTERFACE, BRAMBLE_SERVER_IP) applied. */
  settings(): GlobalSettings {
    const g = this.read().settings.global;
    return { ...g, interface: this.pins.interface ?? g.interface, serverIp: this.pins.serverIp ?? g.serverIp };
  }

  /** The boot settings in effect (stored values over the defaults). */
  bootSettings(): ReturnType<typeof effectiveBootSettings> {
    return effectiveBootSettings(this.read().settings.global);
  }

  /** The stored settings: global (without pins) and each plugin's values that were set. */
  storedSettings(): SettingsState {
    return this.read().settings;
  }

  requireImage(id: string): ImageView {
    const image = this.image(id);
    if (!image) throw new DomainError(ErrorCode.IMAGE_NOT_FOUND, `image ${id} not found`);
    return image;
  }

  requireGroup(name: string): GroupView {
    const group = this.group(name);
    if (!group) throw new DomainError(ErrorCode.GROUP_NOT_FOUND, `group ${name} not found`);
    return group;
  }
}

/** The live read models, as the API and command handlers see them. */
@Injectable()
export class ReadModelQueries extends ReadModelView {
  constructor(
    readonly engine: ProjectionEngine,
    @Inject(BRAMBLE_CONFIG) config: BrambleConfig,
  ) {
    super(() => engine.state, {
      ...(config.interface ? { interface: config.interface } : {}),
      ...(config.serverIp ? { serverIp: config.serverIp } : {}),
    });
  }

  /** Name of the API token with this SHA-256, if any. */
  tokenName(sha256: string): string | null {
    return this.engine.state.tokens.get(sha256)?.name ?? null;
  }

  /** The live API tokens issued through the event store, by label (BRAMBLE_ADMIN_TOKEN is not one). */
  apiTokens(): ApiTokenView[] {
    return [...this.engine.state.tokens.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}
