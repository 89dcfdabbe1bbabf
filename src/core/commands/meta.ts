import { randomUUID } from 'node:crypto';
import type { CommandMeta } from '../domain/shared/command-meta';

/** Metadata for a command issued now by `actor`. */
export function commandMeta(actor: string, correlationId: string = randomUUID(), causationId: string | null = null): CommandMeta {
  return { actor, correlationId, causationId, timestamp: new Date().toISOString() };
}
