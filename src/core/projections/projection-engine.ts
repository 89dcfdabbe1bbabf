import { Subject } from 'rxjs';
import type { EventStore, RecordedEvent, Subscription } from '../event-store/event-store.port';
import type { Logger } from '../logging/logger';
import type { Metrics } from '../observability/metrics';
import {
  ACCEPT_EVENT_LOSS_ENV,
  checkNotAheadOfStore,
  readCheckpointFile,
  writeCheckpointFile,
  type CheckpointFile,
} from '../persistence/checkpoint-file';
import {
  CORE_PROJECTIONS,
  READ_MODEL_VERSION,
  ProjectionSet,
  deserializeReadModels,
  emptyReadModels,
  serializeReadModels,
  type SerializedReadModels,
} from './core-projections';
import { validateSerializedReadModels } from './read-model-schema';
import type { ReadModelState } from './read-models';
import { PositionWaiters } from '../events/position-waiters';
import { StoreFingerprint } from '../persistence/store-fingerprint';

/** The snapshot file's `kind` (see persistence/checkpoint-file.ts). */
export const READ_MODEL_SNAPSHOT_KIND = 'read-models';

/**
 * The snapshot: state plus the checkpoint it was taken at, with a checksum and the id of the
 * store's first event as `storeFingerprint` (a snapshot taken of another store is never used).
 */
type SnapshotFile = CheckpointFile<SerializedReadModels>;

export interface ProjectionEngineOptions {
  /** Where read models and their checkpoint are persisted; null keeps them in memory only. */
  snapshotFile: string | null;
  /** Write a snapshot after this many applied events... */
  snapshotEveryEvents?: number;
  /** ...or this long after the first unsaved event. */
  snapshotIntervalMs?: number;
  /**
   * BRAMBLE_ACCEPT_EVENT_LOSS: a snapshot ahead of the store (acknowledged events are missing)
   * refuses the start, unless this is the store's current head position. Default null.
   */
  acceptEventLossAt?: number | null;
  /** The store's identity for the snapshot file; by default one of the engine's own. */
  fingerprint?: StoreFingerprint;
  /** The store's positions have no gaps (sqlite): a refusal can count the missing events. */
  densePositions?: boolean;
}

/** Events a rebuild applies between two turns of the event loop. */
export const REBUILD_BATCH_SIZE = 200;

/**
 * Builds the core read models from the event store: loads the last snapshot (state plus the
 * checkpoint it was taken at), then follows a catch-up subscription from that checkpoint. So a
 * restart replays only what was appended since the snapshot, not the world.
 *
 * After the read models have caught up, every new event is also published on `live$` (after it
 * is applied, so a subscriber that reads the read models sees the event's effect).
 */
export class ProjectionEngine {
  state: ReadModelState = emptyReadModels();
  private checkpointValue: number | undefined;
  private subscription: Subscription | null = null;
  private readonly projections = new ProjectionSet(CORE_PROJECTIONS);
  private readonly knownTypes: Set<string>;
  private readonly warnedTypes = new Set<string>();
  private readonly waiters = new PositionWaiters();
  private unsaved = 0;
  private snapshotTimer: NodeJS.Timeout | null = null;
  private snapshotting: Promise<void> | null = null;
  private readonly fingerprint: StoreFingerprint;
  private caughtUp = false;
  private rebuilding: Promise<{ events: number; ms: number }> | null = null;
  readonly live$ = new Subject<RecordedEvent>();

  constructor(
    private readonly store: EventStore,
    private readonly logger: Logger,
    private readonly metrics: Metrics | null,
    knownTypes: Iterable<string>,
    private readonly options: ProjectionEngineOptions,
  ) {
    this.knownTypes = new Set(knownTypes);
    this.fingerprint = options.fingerprint ?? new StoreFingerprint(store);
  }

  get checkpoint(): number | undefined {
    return this.checkpointValue;
  }

  get isCaughtUp(): boolean {
    return this.caughtUp;
  }

  /** Adds event types that are known but not projected here (plugins' own events). */
  registerKnownTypes(types: Iterable<string>): void {
    for (const t of types) this.knownTypes.add(t);
  }

  /**
   * Loads the snapshot and follows the store until caught up. Throws EventsMissingError when the
   * snapshot is ahead of the store (see loadSnapshot).
   */
  async start(): Promise<void> {
    const snapshot = await this.loadSnapshot(await this.fingerprint.get(), await this.store.headPosition());
    if (snapshot) {
      this.state = deserializeReadModels(snapshot.state);
      this.checkpointValue = snapshot.checkpoint ?? undefined;
      this.logger.info('read models loaded from snapshot', { checkpoint: this.checkpointValue ?? 0 });
    }
    const started = Date.now();
    const before = this.checkpointValue ?? 0;
    this.subscription = this.follow(this.checkpointValue, () => this.state);
    await this.subscription.caughtUp;
    this.caughtUp = true;
    const replayed = (this.checkpointValue ?? 0) - before;
    this.logger.info('read models caught up', { position: this.checkpointValue ?? 0, ms: Date.now() - started });
    if ((replayed > 0 || snapshot === null) && this.unsaved > 0) await this.saveSnapshot();
  }

  private follow(after: number | undefined, target: () => ReadModelState): Subscription {
    return this.store.subscribe(
      { after, batchSize: 2000 },
      {
        onEvents: (events) => this.applyBatch(events, target()),
        onError: (error) => this.logger.error('read model subscription failed', { error }),
      },
    );
  }

  private applyBatch(events: RecordedEvent[], state: ReadModelState): void {
    for (const event of events) {
      if (!this.projections.apply(state, event) && !this.knownTypes.has(event.type) && !this.warnedTypes.has(event.type)) {
        this.warnedTypes.add(event.type);
        this.logger.warn('skipping events of an unknown type', { type: event.type, position: event.position });
      }
    }
    const last = events[events.length - 1];
    if (!last || state !== this.state) return;
    this.checkpointValue = last.position;
    this.unsaved += events.length;
    if (this.metrics) {
      this.metrics.eventsProjected.inc(events.length);
      this.metrics.projectionPosition.set(last.position);
    }
    if (this.caughtUp) for (const e of events) this.live$.next(e);
    this.waiters.reached(this.checkpointValue ?? 0);
    this.scheduleSnapshot();
  }

  /** Resolves once the read models include the event at `position` (read-your-writes). */
  async waitFor(position: number | null, timeoutMs = 5000): Promise<void> {
    if (position === null || (this.checkpointValue ?? 0) >= position) return;
    if (!(await this.waiters.wait(position, timeoutMs))) {
      throw new Error(`read models did not reach position ${position} within ${timeoutMs} ms`);
    }
  }

  /** Projection lag in events: the store's head position minus the read models' position. */
  async lag(): Promise<number> {
    return this.lagAt(await this.store.headPosition());
  }

  /** The lag against a head position the caller already read (also updates the gauge). */
  lagAt(head: number): number {
    const lag = Math.max(0, head - (this.checkpointValue ?? 0));
    this.metrics?.projectionLag.set(lag);
    return lag;
  }

  /**
   * Rebuilds every read model from the first event, into a fresh state; the live state keeps
   * serving until the new one has caught up, then they are swapped.
   */
  rebuild(): Promise<{ events: number; ms: number }> {
    if (!this.rebuilding) {
      this.rebuilding = this.doRebuild().finally(() => {
        this.rebuilding = null;
      });
    }
    return this.rebuilding;
  }

  private async doRebuild(): Promise<{ events: number; ms: number }> {
    const started = Date.now();
    const fresh = emptyReadModels();
    let count = 0;
    let position: number | undefined;
    // Small batches: a rebuild runs while bramble serves (DHCP shares the event loop), and the
    // subscription lets the loop turn between two batches.
    const sub = this.store.subscribe(
      { batchSize: REBUILD_BATCH_SIZE },
      {
        onEvents: (events) => {
          if (fresh !== this.state) {
            count += events.length;
            position = events[events.length - 1]?.position ?? position;
          }
          // Before the swap this only fills `fresh`; after it, it is the live subscription.
          this.applyBatch(events, fresh);
        },
        onError: (error) => this.logger.error('rebuild subscription failed', { error }),
      },
    );
    await sub.caughtUp;
    const old = this.subscription;
    this.subscription = sub;
    await old?.close();
    this.state = fresh;
    this.checkpointValue = position;
    this.unsaved = Math.max(count, 1);
    this.waiters.reached(this.checkpointValue ?? 0);
    await this.saveSnapshot();
    const ms = Date.now() - started;
    this.logger.info('read models rebuilt', { events: count, ms });
    return { events: count, ms };
  }

  private scheduleSnapshot(): void {
    if (!this.options.snapshotFile || !this.caughtUp) return;
    if (this.unsaved >= (this.options.snapshotEveryEvents ?? 10_000)) {
      void this.saveSnapshot();
      return;
    }
    if (!this.snapshotTimer) {
      this.snapshotTimer = setTimeout(() => {
        this.snapshotTimer = null;
        void this.saveSnapshot();
      }, this.options.snapshotIntervalMs ?? 5000);
      this.snapshotTimer.unref();
    }
  }

  /** Writes state and checkpoint atomically, owner-only, with a checksum (persistence/checkpoint-file.ts). */
  async saveSnapshot(): Promise<void> {
    const file = this.options.snapshotFile;
    if (!file) return;
    if (this.snapshotting) await this.snapshotting;
    if (this.unsaved === 0) return;
    if (this.snapshotTimer) {
      clearTimeout(this.snapshotTimer);
      this.snapshotTimer = null;
    }
    this.snapshotting = (async () => {
      const storeFingerprint = await this.fingerprint.get();
      const saved = this.unsaved;
      const body: SnapshotFile = {
        kind: READ_MODEL_SNAPSHOT_KIND,
        version: READ_MODEL_VERSION,
        storeFingerprint,
        checkpoint: this.checkpointValue ?? null,
        takenAt: new Date().toISOString(),
        state: serializeReadModels(this.state),
      };
      // The snapshot holds password hashes: owner-only (writeCheckpointFile: 0600).
      await writeCheckpointFile(file, body);
      this.unsaved = Math.max(0, this.unsaved - saved);
    })()
      .catch((error) => this.logger.error('could not write read model snapshot', { error, file }))
      .finally(() => {
        this.snapshotting = null;
      });
    await this.snapshotting;
  }

  /**
   * The snapshot to start from, or null to rebuild from the first event. A snapshot is trusted
   * only when its checksum and schema hold (else: a warning, and a rebuild). A valid snapshot
   * AHEAD of the store means acknowledged events are missing (a lost WAL, an older backup): that
   * refuses the start (EventsMissingError) unless BRAMBLE_ACCEPT_EVENT_LOSS names the current head.
   */
  private async loadSnapshot(fingerprint: string | null, head: number): Promise<SnapshotFile | null> {
    const file = this.options.snapshotFile;
    if (!file) return null;
    const read = await readCheckpointFile<SerializedReadModels>(file, {
      kind: READ_MODEL_SNAPSHOT_KIND,
      version: READ_MODEL_VERSION,
      validateState: validateSerializedReadModels,
    });
    if (read.status === 'missing') return null;
    if (read.status === 'invalid') {
      this.logger.warn('read model snapshot is not valid, not trusting it; rebuilding from the event store', { file, reason: read.reason });
      return null;
    }
    const body = read.body;
    const acceptLossAt = this.options.acceptEventLossAt ?? null;
    const lossCheck = { acceptLossAt, dense: this.options.densePositions ?? false, logger: this.logger };
    if (body.storeFingerprint !== fingerprint) {
      // An empty store behind a snapshot of a non-empty one lost everything (the whole WAL of a
      // young store); a non-empty store with another first event is another store.
      if (fingerprint === null && checkNotAheadOfStore('read-model snapshot', body.checkpoint, head, lossCheck) === 'accepted')
        return this.replaceSnapshot();
      this.logger.warn('read model snapshot belongs to another event store; rebuilding', { file });
      return null;
    }
    if (checkNotAheadOfStore('read-model snapshot', body.checkpoint, head, lossCheck) === 'accepted') return this.replaceSnapshot();
    if (acceptLossAt !== null) {
      this.logger.warn(`${ACCEPT_EVENT_LOSS_ENV} is set but the read models miss no event: remove it`, {
        [ACCEPT_EVENT_LOSS_ENV]: acceptLossAt,
        head,
      });
    }
    return body;
  }

  /** After an accepted loss: the snapshot ahead of the store is overwritten once caught up, even with nothing to replay. */
  private replaceSnapshot(): null {
    this.unsaved = Math.max(this.unsaved, 1);
    return null;
  }

  async stop(): Promise<void> {
    if (this.snapshotTimer) clearTimeout(this.snapshotTimer);
    this.snapshotTimer = null;
    await this.subscription?.close();
    this.subscription = null;
    await this.saveSnapshot();
    this.live$.complete();
  }
}
