import { AuthEventType } from '../auth/auth.events';
import { defineProjection, unhandled } from './projection';

export const tokensProjection = defineProjection({
  name: 'tokens',
  handles: Object.values(AuthEventType),
  apply(state, event) {
    switch (event.type) {
      case 'ApiTokenIssued':
        state.tokens.set(
          event.data.sha256,
          Object.freeze({
            name: event.data.name,
            sha256: event.data.sha256,
            issuedAt: event.metadata.timestamp,
            issuedBy: event.metadata.actor,
          }),
        );
        return;
      case 'ApiTokenRevoked':
        for (const [hash, token] of state.tokens) if (token.name === event.data.name) state.tokens.delete(hash);
        return;
      default:
        unhandled(event);
    }
  },
});
