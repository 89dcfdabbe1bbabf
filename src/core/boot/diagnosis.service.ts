import { Inject, Injectable } from '@nestjs/common';
import { bootStream } from '../domain/boot/boot.events';
import { normalizeMac } from '../domain/client/mac';
import { EVENT_STORE, type EventStore } from '../event-store/event-store.port';
import type { DiagnosisFinding, DiagnosisInput } from '../plugin-api/plugin';
import { PluginRegistry } from '../plugin-host/plugin-registry';
import { ReadModelQueries } from '../projections/read-model-queries';
import { coreFindings, lastBootOf, summarise } from './diagnose';

export interface Diagnosis {
  mac: string;
  /** No finding of severity `error`. */
  ok: boolean;
  /** Errors first. `source`: `core` or the plugin that found it. */
  findings: (DiagnosisFinding & { source: string })[];
}

/**
 * Gathers a diagnosis: the client and its image from the read models, its latest boot session
 * from its boot stream (bounded by the boot retention), the core's findings (diagnose.ts) and each
 * started plugin's (ctx.diagnostics.provide). Read-only: it never records anything.
 */
@Injectable()
export class DiagnosisService {
  constructor(
    private readonly queries: ReadModelQueries,
    private readonly plugins: PluginRegistry,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  async diagnose(macText: string): Promise<Diagnosis> {
    const mac = normalizeMac(macText);
    const client = this.queries.client(mac);
    const lastBoot = lastBootOf(await this.store.readStream(bootStream(mac)));
    const input: DiagnosisInput = { mac, client, lastBoot };
    const own = coreFindings(input, (id) => this.queries.image(id)).map((f) => ({ ...f, source: 'core' }));
    // Plugins only have something to say about a client bramble knows.
    const theirs = client ? await this.plugins.diagnosisFindings(input) : [];
    return { mac, ...summarise([...own, ...theirs]) };
  }
}
