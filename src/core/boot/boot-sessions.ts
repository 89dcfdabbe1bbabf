/**
 * Live boot sessions: the thin service around the boot-session decider
 * (domain/boot/boot-session.ts). Every `reportBootFact` of every plugin comes here (command path:
 * commands/client.table.ts), is decided in memory, and only stage changes are appended
 * (`BootStageChanged`, stream `boot-<mac>`), through the command runner, in order per client. A
 * timer ticks once a second and stalls the sessions whose timeout passed. Every change, and every
 * file fact, is published on `progress$` for the `bootProgress` subscription.
 *
 * Why not a projection: the decision needs time (timeouts) and must append; and why not one event
 * per fact: see the decider's header. A fact's promise resolves once the stage changes it caused
 * are stored (an acknowledged change is never lost); a failed append is kept and retried, in
 * order, before the client's next one (and on the next tick).
 *
 * Start-up restores the sessions from a snapshot (`<data>/boot/sessions.snapshot.json`, written
 * like the read models' snapshot: atomic, checksummed, tied to the store's fingerprint) plus the
 * BootStageChanged events after its checkpoint, so it does not replay every boot ever seen.
 * Without a usable snapshot it folds the boot events still in the store (the retention bounds them).
 *
 * Memory is bounded: at most MAX_TRACKED_CLIENTS clients (the least recently active go first), a
 * client's recent facts in a ring of RECENT_FACTS, and the sessions of clients that no longer exist
 * are dropped by a sweep.
 */
import * as path from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import { Observable, Subject } from 'rxjs';
import { CommandRunner, NO_EVENTS, type CommandOutcome } from '../commands/command-runner';
import { commandMeta } from '../commands/meta';
import { BRAMBLE_CONFIG, type BrambleConfig } from '../config/config';
import { bootStream, BootEventType } from '../domain/boot/boot.events';
import {
  bootDeadline,
  decideBoot,
  evolveBoot,
  foldBootSessions,
  initialBootState,
  isFinal,
  progressOf,
  type BootClientState,
  type BootDecision,
  type BootProgress,
  type BootSessionSummary,
  type BootTimeouts,
} from '../domain/boot/boot-session';
import { normalizeMac } from '../domain/client/mac';
import type { CommandMeta } from '../domain/shared/command-meta';
import type { DomainEvent } from '../domain/shared/decider';
import { validationError } from '../domain/shared/domain-error';
import { isPlainObject } from '../domain/shared/json';
import { EVENT_STORE, type EventStore } from '../event-store/event-store.port';
import { APP_LOGGER } from '../logging/logging.tokens';
import type { Logger } from '../logging/logger';
import { readCheckpointFile, writeCheckpointFile } from '../persistence/checkpoint-file';
import { StoreFingerprint } from '../persistence/store-fingerprint';
import type { BootFactInput as PluginBootFact } from '../plugin-api/plugin';
import { ReadModelQueries } from '../projections/read-model-queries';

/** A fact as the command path hands it over: the plugin's input plus the plugin's name. */
export type ReportedBootFact = PluginBootFact & { plugin: string };

/** The port the command table uses (commands/command-deps.ts). */
export interface BootFactSink {
  report(fact: ReportedBootFact, meta: CommandMeta): Promise<CommandOutcome>;
}

/** One fact as kept in memory (diagnostics, tests): never stored. */
export interface RecentBootFact {
  mac: string;
  at: string;
  fact: string;
  plugin: string;
  ip: string | null;
  detail: Readonly<Record<string, string | number | boolean | null>>;
}

const FACT_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const MAX_TRACKED_CLIENTS = 10_000;
export const RECENT_FACTS = 64;
/** Stage changes appended per tick at most (the rest on the next tick). */
export const MAX_CHANGES_PER_TICK = 1000;
/** Failed appends kept per client for a retry; older ones are dropped (their callers were told). */
const MAX_PENDING_PER_CLIENT = 256;
const TICK_MS = 1000;
const SWEEP_MS = 60_000;
const SNAPSHOT_INTERVAL_MS = 30_000;
const SNAPSHOT_KIND = 'boot-sessions';
const SNAPSHOT_VERSION = 1;
/** Events read per page when restoring (the loop turns between pages). */
const RESTORE_PAGE = 2000;

interface PendingAppend {
  events: DomainEvent[];
  meta: CommandMeta;
  settled: boolean;
  resolve(outcome: CommandOutcome): void;
  reject(error: unknown): void;
}

interface SnapshotState {
  clients: BootClientState[];
}

function validSnapshot(state: unknown): string | null {
  if (!isPlainObject(state) || !Array.isArray(state.clients)) return 'not a list of clients';
  for (const c of state.clients as unknown[]) {
    if (!isPlainObject(c) || typeof c.mac !== 'string') return 'a client without a MAC';
    if (c.session !== null && (!isPlainObject(c.session) || typeof c.session.sessionId !== 'string' || !Array.isArray(c.session.stages))) {
      return `${c.mac}: not a session`;
    }
  }
  return null;
}

@Injectable()
export class BootSessions implements BootFactSink {
  private readonly logger: Logger;
  /** By MAC, least recently active first (re-inserted on activity). */
  private readonly clients = new Map<string, BootClientState>();
  /** MACs whose session may time out (open sessions). */
  private readonly open = new Set<string>();
  private readonly recent = new Map<string, RecentBootFact[]>();
  private readonly pending = new Map<string, PendingAppend[]>();
  private readonly flushing = new Set<string>();
  private readonly lastActive = new Map<string, number>();
  private readonly progressSubject = new Subject<BootProgress>();
  private listeners = 0;
  /** Every stage change and every file fact, live (not stored). */
  readonly progress$: Observable<BootProgress> = new Observable<BootProgress>((subscriber) => {
    this.listeners++;
    const subscription = this.progressSubject.subscribe(subscriber);
    return () => {
      this.listeners--;
      subscription.unsubscribe();
    };
  });
  private readonly factsSubject = new Subject<RecentBootFact>();
  /** Every fact received, as it comes (live, not stored: diagnostics and tests follow it). */
  readonly facts$: Observable<RecentBootFact> = this.factsSubject.asObservable();
  /** Most clients tracked (the least recently active are forgotten first). */
  maxClients = MAX_TRACKED_CLIENTS;
  /** How the last start restored the sessions. */
  restored: { fromSnapshot: boolean; eventsFolded: number } = { fromSnapshot: false, eventsFolded: 0 };
  /** Position of the last event folded or appended (the snapshot's checkpoint). */
  private position = 0;
  private dirty = false;
  private tickTimer: NodeJS.Timeout | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private snapshotTimer: NodeJS.Timeout | null = null;
  private snapshotting: Promise<void> = Promise.resolve();
  private started = false;
  /** The clock (tests move it). */
  now: () => number = Date.now;
  /** The timeouts in effect: the `bootTimeouts` setting (tests may replace this). */
  timeouts: () => BootTimeouts = () => {
    const t = this.queries.bootSettings().bootTimeouts;
    return {
      dhcpMs: t.dhcpSeconds * 1000,
      fileMs: t.fileSeconds * 1000,
      rootMountMs: t.rootMountSeconds * 1000,
      bootedMs: t.bootedSeconds * 1000,
      failAfterStallMs: t.failAfterStallSeconds * 1000,
    };
  };

  constructor(
    private readonly runner: CommandRunner,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly queries: ReadModelQueries,
    private readonly fingerprint: StoreFingerprint,
    @Inject(BRAMBLE_CONFIG) private readonly config: BrambleConfig,
    @Inject(APP_LOGGER) logger: Logger,
  ) {
    this.logger = logger.child('boot');
  }

  private get snapshotFile(): string {
    return path.join(this.config.dataDir, 'boot', 'sessions.snapshot.json');
  }

  // -------------------------------------------------------------------------------------------
  // Life cycle

  /** Restores the sessions (snapshot + tail), then starts the timers. */
  async start(): Promise<void> {
    const started = Date.now();
    const fromSnapshot = await this.loadSnapshot();
    const folded = await this.foldTail();
    this.restored = { fromSnapshot, eventsFolded: folded };
    for (const [mac, state] of this.clients) if (state.session && !isFinal(state.session.stage)) this.open.add(mac);
    this.logger.info('boot sessions restored', {
      clients: this.clients.size,
      fromSnapshot,
      eventsFolded: folded,
      ms: Date.now() - started,
    });
    this.started = true;
    this.tickTimer = setInterval(() => this.tick(), TICK_MS);
    this.tickTimer.unref();
    this.sweepTimer = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweepTimer.unref();
    this.snapshotTimer = setInterval(() => void this.saveSnapshot(), SNAPSHOT_INTERVAL_MS);
    this.snapshotTimer.unref();
  }

  /** Stops the timers, waits for the appends in flight, saves the snapshot. */
  async stop(): Promise<void> {
    for (const timer of [this.tickTimer, this.sweepTimer, this.snapshotTimer]) if (timer) clearInterval(timer);
    this.tickTimer = this.sweepTimer = this.snapshotTimer = null;
    if (!this.started) return;
    this.started = false;
    for (const mac of [...this.pending.keys()]) await this.flush(mac);
    await this.saveSnapshot();
    this.progressSubject.complete();
    this.factsSubject.complete();
  }

  // -------------------------------------------------------------------------------------------
  // Facts

  async report(input: ReportedBootFact, meta: CommandMeta): Promise<CommandOutcome> {
    const mac = normalizeMac(input.mac);
    if (typeof input.stage !== 'string' || !FACT_NAME.test(input.stage)) throw validationError('stage', `must match ${FACT_NAME.source}`);
    const detail = input.detail ?? {};
    if (!isPlainObject(detail)) throw validationError('detail', 'must be an object of strings, numbers, booleans or null');
    const ip = input.ip ?? null;
    const now = this.now();
    const received: RecentBootFact = { mac, at: new Date(now).toISOString(), fact: input.stage, plugin: input.plugin, ip, detail };
    this.remember(mac, received);
    this.factsSubject.next(received);

    const events: DomainEvent[] = [];
    if (input.stage === 'tftp.image-version') {
      // The image version a client was handed: still one event (the clients projection's bootedImage).
      events.push({ type: BootEventType.BootProgressed, data: { mac, stage: input.stage, plugin: input.plugin, ip, detail } });
    }
    const model = this.queries.client(mac)?.model ?? null;
    const decision = decideBoot(this.stateOf(mac), { kind: 'fact', fact: input.stage, ip, detail, model }, now, this.timeouts());
    events.push(...this.apply(mac, decision));
    if (events.length === 0) return NO_EVENTS;
    return this.enqueue(mac, events, meta);
  }

  /** Times out the sessions whose deadline passed (at most MAX_CHANGES_PER_TICK of them). */
  tick(now = this.now()): void {
    const timeouts = this.timeouts();
    let changes = 0;
    for (const mac of this.open) {
      if (changes >= MAX_CHANGES_PER_TICK) break;
      const state = this.clients.get(mac);
      const deadline = bootDeadline(state?.session ?? null, timeouts);
      if (!state || deadline === null) {
        this.open.delete(mac);
        continue;
      }
      if (now < deadline) continue;
      const events = this.apply(mac, decideBoot(state, { kind: 'tick' }, now, timeouts));
      if (events.length > 0) {
        changes++;
        this.enqueue(mac, events, commandMeta('system')).catch(() => undefined);
      }
    }
    for (const mac of this.pending.keys()) if (!this.flushing.has(mac)) void this.flush(mac);
  }

  /** Applies a decision to memory: the new state, the live updates; returns the events to append. */
  private apply(mac: string, decision: BootDecision): DomainEvent[] {
    this.track(mac, decision.state);
    const events: DomainEvent[] = [];
    for (const effect of decision.effects) {
      if (effect.kind === 'append') events.push({ type: BootEventType.BootStageChanged, data: effect.event });
      else this.progressSubject.next(effect.progress);
    }
    if (events.length > 0) this.dirty = true;
    return events;
  }

  private stateOf(mac: string): BootClientState {
    return this.clients.get(mac) ?? initialBootState(mac);
  }

  private track(mac: string, state: BootClientState): void {
    this.clients.delete(mac);
    this.clients.set(mac, state);
    this.lastActive.set(mac, this.now());
    if (state.session && !isFinal(state.session.stage)) this.open.add(mac);
    else this.open.delete(mac);
    while (this.clients.size > this.maxClients) {
      const oldest = this.clients.keys().next().value as string;
      this.forget(oldest);
    }
  }

  private forget(mac: string): void {
    this.clients.delete(mac);
    this.open.delete(mac);
    this.recent.delete(mac);
    this.lastActive.delete(mac);
  }

  private remember(mac: string, fact: RecentBootFact): void {
    let ring = this.recent.get(mac);
    if (!ring) {
      ring = [];
      this.recent.set(mac, ring);
      if (this.recent.size > this.maxClients) this.recent.delete(this.recent.keys().next().value as string);
    }
    ring.push(fact);
    if (ring.length > RECENT_FACTS) ring.shift();
  }

  /** Drops the sessions of clients that no longer exist (idle for a sweep period). */
  sweep(now = this.now()): number {
    let dropped = 0;
    for (const mac of [...this.clients.keys()]) {
      if (this.queries.client(mac)) continue;
      if (now - (this.lastActive.get(mac) ?? 0) < SWEEP_MS || this.pending.has(mac)) continue;
      this.forget(mac);
      dropped++;
    }
    for (const mac of [...this.recent.keys()]) if (!this.clients.has(mac) && !this.queries.client(mac)) this.recent.delete(mac);
    if (dropped > 0) this.dirty = true;
    return dropped;
  }

  // -------------------------------------------------------------------------------------------
  // Appends, in order per client

  private enqueue(mac: string, events: DomainEvent[], meta: CommandMeta): Promise<CommandOutcome> {
    return new Promise<CommandOutcome>((resolve, reject) => {
      let list = this.pending.get(mac);
      if (!list) {
        list = [];
        this.pending.set(mac, list);
      }
      list.push({ events, meta, settled: false, resolve, reject });
      if (list.length > MAX_PENDING_PER_CLIENT) {
        const dropped = list.shift()!;
        this.logger.error('boot stage changes dropped after failed appends', { mac, events: dropped.events.length });
      }
      void this.flush(mac);
    });
  }

  private async flush(mac: string): Promise<void> {
    if (this.flushing.has(mac)) return;
    this.flushing.add(mac);
    try {
      const list = this.pending.get(mac);
      while (list && list.length > 0) {
        const next = list[0];
        let outcome: CommandOutcome;
        try {
          outcome = await this.runner.record(bootStream(mac), next.events, next.meta);
        } catch (error) {
          // Kept for the retry (next fact or tick); everyone waiting is told now.
          for (const p of list) {
            if (!p.settled) {
              p.settled = true;
              p.reject(error);
            }
          }
          this.logger.warn('could not append a boot stage change; retrying later', { mac, error: (error as Error).message });
          return;
        }
        list.shift();
        if (outcome.position !== null && outcome.position > this.position) this.position = outcome.position;
        if (!next.settled) {
          next.settled = true;
          next.resolve(outcome);
        }
      }
      this.pending.delete(mac);
    } finally {
      this.flushing.delete(mac);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Reading

  /** A client's boot state (current session and last boot), or null when none is tracked. */
  state(mac: string): BootClientState | null {
    return this.clients.get(mac) ?? null;
  }

  /** The live view of a client's current session. */
  progress(mac: string): BootProgress | null {
    const session = this.clients.get(mac)?.session;
    return session ? progressOf(mac, session, this.now()) : null;
  }

  /** The client's last facts, oldest first (memory only: at most RECENT_FACTS). */
  recentFacts(mac: string): readonly RecentBootFact[] {
    return this.recent.get(mac) ?? [];
  }

  /** Subscriptions listening to `progress$` now. */
  get subscribers(): number {
    return this.listeners;
  }

  /** Number of clients tracked. */
  get size(): number {
    return this.clients.size;
  }

  /** The client's last `last` sessions from its stored events, newest first. */
  async history(mac: string, last: number): Promise<BootSessionSummary[]> {
    const events = await this.store.readStream(bootStream(mac));
    return foldBootSessions(events).slice(-Math.max(0, last)).reverse();
  }

  // -------------------------------------------------------------------------------------------
  // Snapshot and restore

  private async loadSnapshot(): Promise<boolean> {
    const read = await readCheckpointFile<SnapshotState>(this.snapshotFile, {
      kind: SNAPSHOT_KIND,
      version: SNAPSHOT_VERSION,
      validateState: validSnapshot,
    });
    if (read.status === 'missing') return false;
    if (read.status === 'invalid') {
      this.logger.warn('ignoring the boot sessions snapshot; folding the boot events instead', { reason: read.reason });
      return false;
    }
    const body = read.body;
    const head = await this.store.headPosition();
    if (body.storeFingerprint !== (await this.fingerprint.get()) || (body.checkpoint ?? 0) > head) {
      this.logger.warn('the boot sessions snapshot is not of this store (or ahead of it); folding the boot events instead');
      return false;
    }
    for (const state of body.state.clients) this.clients.set(state.mac, state);
    this.position = body.checkpoint ?? 0;
    return true;
  }

  /** Folds the BootStageChanged events after the checkpoint; returns how many. */
  private async foldTail(): Promise<number> {
    let count = 0;
    for (;;) {
      const page = await this.store.readAll({
        after: this.position,
        limit: RESTORE_PAGE,
        filter: { types: [BootEventType.BootStageChanged] },
      });
      for (const event of page) {
        const mac = (event.data as { mac?: unknown }).mac;
        if (typeof mac === 'string') {
          const state = evolveBoot(this.stateOf(mac), event);
          this.clients.delete(mac);
          this.clients.set(mac, state);
        }
        this.position = event.position;
        count++;
      }
      while (this.clients.size > this.maxClients) this.clients.delete(this.clients.keys().next().value as string);
      if (page.length < RESTORE_PAGE) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (count > 0) this.dirty = true;
    return count;
  }

  /** Saves the sessions with the position of the last stored change (skipped while appends are pending). */
  saveSnapshot(): Promise<void> {
    this.snapshotting = this.snapshotting.then(async () => {
      if (!this.dirty || this.pending.size > 0) return;
      this.dirty = false;
      // Taken now, together: the state and the position of the last change it holds.
      const state: SnapshotState = { clients: structuredClone([...this.clients.values()]) };
      const checkpoint = this.position;
      try {
        await writeCheckpointFile<SnapshotState>(this.snapshotFile, {
          kind: SNAPSHOT_KIND,
          version: SNAPSHOT_VERSION,
          storeFingerprint: await this.fingerprint.get(),
          checkpoint,
          takenAt: new Date().toISOString(),
          state,
        });
      } catch (error) {
        this.dirty = true;
        this.logger.error('could not write the boot sessions snapshot', { error: (error as Error).message });
      }
    });
    return this.snapshotting;
  }
}
