import { AuthEventType } from '../auth/auth.events';
import type { RecordedEvent } from '../event-store/event-store.port';
import type { Projection } from './projection';
import type { ReadModelState } from './read-models';

export const tokensProjection: Projection = {
  name: 'tokens',
  handles: Object.values(AuthEventType),
  apply(state: ReadModelState, event: RecordedEvent): void {
    const d = event.data as { name: string; sha256?: string };
    if (event.type === AuthEventType.ApiTokenIssued && d.sha256) {
      state.tokens.set(d.sha256, { name: d.name, sha256: d.sha256, issuedAt: event.metadata.timestamp, issuedBy: event.metadata.actor });
    } else if (event.type === AuthEventType.ApiTokenRevoked) {
      for (const [hash, token] of state.tokens) if (token.name === d.name) state.tokens.delete(hash);
    }
  },
};
