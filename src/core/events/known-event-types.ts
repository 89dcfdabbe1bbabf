/** Every event type the core writes (the catalogue in plugin-api/events.ts). Plugins add theirs (`emits`). */
export { CORE_EVENT_TYPES } from '../plugin-api/events';
