import type { Observable } from 'rxjs';
import { AuthEventType, type ApiTokenRevoked } from '../core/auth/auth.events';
import type { RecordedEvent } from '../core/event-store/event-store.port';

export interface ClosableSocket {
  close(code: number, reason: string): void;
}

/**
 * The open graphql-ws connections and the actor each authenticated as. When a token is revoked
 * (ApiTokenRevoked reaches the live feed, before the revoking mutation returns), every connection
 * made with it is closed with `closeCode`: a revoked token keeps no subscription open.
 */
export class WsSessions {
  private readonly actors = new Map<ClosableSocket, string>();

  constructor(
    live$: Observable<RecordedEvent>,
    private readonly closeCode: number,
  ) {
    live$.subscribe((event) => {
      if (event.type === AuthEventType.ApiTokenRevoked) this.closeActor(`admin:${(event.data as ApiTokenRevoked['data']).name}`);
    });
  }

  opened(socket: ClosableSocket, actor: string): void {
    this.actors.set(socket, actor);
  }

  closed(socket: ClosableSocket): void {
    this.actors.delete(socket);
  }

  /** How many connections are open (for tests). */
  get size(): number {
    return this.actors.size;
  }

  private closeActor(actor: string): void {
    for (const [socket, a] of this.actors) {
      if (a !== actor) continue;
      this.actors.delete(socket);
      socket.close(this.closeCode, 'UNAUTHENTICATED: the token was revoked');
    }
  }
}
