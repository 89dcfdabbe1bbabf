import type { ReadModelView } from '../core/projections/read-model-queries';

const VIEW = Symbol('bramble.graphql.readView');

/**
 * Entities of a past state (stateAt) carry the view they came from, so that their relation
 * fields (Client.image, Image.clients) answer from that same past state and not from now.
 */
export function bindView<T extends object>(view: ReadModelView, entity: T): T {
  return Object.defineProperty({ ...entity }, VIEW, { value: view, enumerable: false });
}

export function viewOf(entity: object, live: ReadModelView): ReadModelView {
  return (entity as { [VIEW]?: ReadModelView })[VIEW] ?? live;
}
