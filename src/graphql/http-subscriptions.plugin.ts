import type { ApolloServerPlugin } from '@apollo/server';
import { apiError } from './errors';

/**
 * Subscriptions are served over WebSocket (graphql-ws) on the same path. Over HTTP, Apollo would
 * run one as a plain query and answer a useless null: refuse it with a message that says where to go.
 */
export function rejectHttpSubscriptionsPlugin(path: string): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation }) {
          if (operation?.operation === 'subscription') {
            throw apiError('BAD_REQUEST', `subscriptions are served over WebSocket (graphql-transport-ws) at ${path}`, {
              http: { status: 400 },
            });
          }
        },
      };
    },
  };
}
