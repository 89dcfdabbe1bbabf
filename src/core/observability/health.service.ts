import { Inject, Injectable } from '@nestjs/common';
import { EVENT_STORE, type EventStore } from '../event-store/event-store.port';
import { InstrumentedEventStore } from '../event-store/instrumented.event-store';
import { PluginRegistry } from '../plugin-host/plugin-registry';
import type { PluginHealth } from '../plugin-api/plugin';
import { MembershipProcessManager, type MembershipHealth } from '../process-managers/membership.process-manager';
import { ProjectionEngine } from '../projections/projection-engine';

export interface HealthReport {
  /** ok: everything up; degraded: serving, the event store or some plugin degraded or down; down: the core cannot serve. */
  status: 'ok' | 'degraded' | 'down';
  /**
   * up, degraded (appends or some reads failing) or down (the store cannot answer, a subscription
   * failed, or the integrity check failed); `detail` says why and `since` when (see
   * InstrumentedEventStore for the rule). `integrityCheck`: the start-up check's state.
   */
  eventStore: {
    status: 'up' | 'degraded' | 'down';
    headPosition: number | null;
    detail?: string;
    since?: string;
    integrityCheck?: 'running' | 'passed' | 'failed' | 'skipped';
  };
  projections: { caughtUp: boolean; position: number; lag: number | null };
  /** Cross-stream flows (user ↔ group membership): degraded while one cannot write and retries. */
  processManagers: { membership: MembershipHealth };
  plugins: Record<string, PluginHealth & { state: string; source: string }>;
  uptimeSeconds: number;
}

/** What `/health` and the GraphQL `health` query report, plugins included. */
@Injectable()
export class HealthService {
  private readonly started = Date.now();

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly engine: ProjectionEngine,
    private readonly plugins: PluginRegistry,
    private readonly membership: MembershipProcessManager,
  ) {}

  async report(): Promise<HealthReport> {
    let eventStore: HealthReport['eventStore'];
    let lag: number | null = null;
    const instrumented = this.store instanceof InstrumentedEventStore ? this.store : null;
    try {
      const head = await this.store.headPosition();
      lag = this.engine.lagAt(head);
      eventStore = { status: 'up', headPosition: head };
    } catch (error) {
      eventStore = { status: 'down', headPosition: null, detail: (error as Error).message };
    }
    const condition = instrumented?.condition();
    if (condition && condition.status !== 'up' && eventStore.status !== 'down') {
      eventStore = { ...eventStore, status: condition.status, detail: condition.detail, since: condition.at };
    }
    const integrity = instrumented?.integrityStatus();
    if (integrity && integrity !== 'none') eventStore.integrityCheck = integrity === 'running' ? 'running' : integrity.status;
    const plugins = this.plugins.health();
    const core = eventStore.status !== 'down' && this.engine.isCaughtUp;
    const processManagers = { membership: this.membership.health() };
    const allUp =
      eventStore.status === 'up' && processManagers.membership.status === 'up' && Object.values(plugins).every((p) => p.status === 'up');
    return {
      status: !core ? 'down' : allUp ? 'ok' : 'degraded',
      eventStore,
      projections: { caughtUp: this.engine.isCaughtUp, position: this.engine.checkpoint ?? 0, lag },
      processManagers,
      plugins,
      uptimeSeconds: Math.round((Date.now() - this.started) / 1000),
    };
  }
}
