/**
 * Membership process manager: keeps each group's members (on the group streams, what LDAP
 * serves) in step with each user's `groups` (on the user streams, what the admin asked for).
 *
 * It follows the user events from its own checkpoint and, for each, brings that user's membership
 * to the user's current `groups`: added to the groups it should be in, removed from those it left.
 * Its commands are idempotent (the group decider records nothing when a member is already there),
 * so a crash or a full disk between the user's append and the groups' appends converges: after a
 * restart it handles the event again from its checkpoint; while the store refuses writes it
 * retries the same event, never skipping it.
 *
 * State (saved with the checkpoint): the groups each user was put in, so a change or a deletion
 * knows which memberships to take away.
 */
import { Inject, Injectable } from '@nestjs/common';
import * as path from 'node:path';
import { CommandRunner, type CommandOutcome } from '../commands/command-runner';
import type { MembershipSettling } from '../commands/command-deps';
import { BRAMBLE_CONFIG, type BrambleConfig } from '../config/config';
import { groupDecider } from '../domain/group/group.decider';
import { groupStream } from '../domain/group/group.events';
import { isExistingUser, userDecider } from '../domain/user/user.decider';
import { userStream } from '../domain/user/user.events';
import type { CommandMeta } from '../domain/shared/command-meta';
import { DomainError, ErrorCode } from '../domain/shared/domain-error';
import { isPlainObject } from '../domain/shared/json';
import { EVENT_STORE, type EventStore, type Subscription } from '../event-store/event-store.port';
import { APP_LOGGER } from '../logging/logging.tokens';
import type { Logger } from '../logging/logger';
import { checkNotAheadOfStore, readCheckpointFile, writeCheckpointFile } from '../persistence/checkpoint-file';
import { StoreFingerprint } from '../persistence/store-fingerprint';
import type { CoreEvent } from '../plugin-api/events';
import { PositionWaiters } from '../events/position-waiters';

const KIND = 'process-manager:membership';
const VERSION = 1;
const CONSUMES = ['UserCreated', 'UserGroupsChanged', 'UserDeleted'] as const;
type Handled = CoreEvent<(typeof CONSUMES)[number]>;

/** Groups each user was put in, by username. */
type MembershipState = Record<string, string[]>;

export interface MembershipHealth {
  status: 'up' | 'degraded' | 'down';
  detail?: string;
  position: number;
}

function validState(state: unknown): string | null {
  if (!isPlainObject(state)) return 'not an object';
  for (const groups of Object.values(state)) {
    if (!Array.isArray(groups) || !groups.every((g) => typeof g === 'string')) return 'not a map of group lists';
  }
  return null;
}

@Injectable()
export class MembershipProcessManager implements MembershipSettling {
  private readonly logger: Logger;
  private state: MembershipState = {};
  /** Last user event fully handled. */
  private position = 0;
  /** Position of the last group change this manager appended. */
  private lastAppended: number | null = null;
  private subscription: Subscription | null = null;
  private failing: string | null = null;
  private stopped = false;
  private running = false;
  private readonly waiters = new PositionWaiters();
  private saving: Promise<void> = Promise.resolve();
  /** Wait between retries of an event the store refused (ms); doubled up to `maxRetryMs`. */
  retryMs = 100;
  maxRetryMs = 5000;

  constructor(
    private readonly runner: CommandRunner,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly fingerprint: StoreFingerprint,
    @Inject(BRAMBLE_CONFIG) private readonly config: BrambleConfig,
    @Inject(APP_LOGGER) logger: Logger,
  ) {
    this.logger = logger.child('membership');
  }

  private get file(): string {
    return path.join(this.config.dataDir, 'process-managers', 'membership.checkpoint.json');
  }

  /** Loads the checkpoint and follows the user events until caught up. */
  async start(): Promise<void> {
    const fingerprint = await this.fingerprint.get();
    const saved = await readCheckpointFile<MembershipState>(this.file, { kind: KIND, version: VERSION, validateState: validState });
    let after: number | undefined;
    if (saved.status === 'invalid') this.logger.warn('ignoring the membership checkpoint; replaying user events', { reason: saved.reason });
    if (saved.status === 'ok' && saved.body.storeFingerprint === fingerprint && saved.body.checkpoint !== null) {
      const head = await this.store.headPosition();
      const verdict = checkNotAheadOfStore('the membership checkpoint', saved.body.checkpoint, head, {
        acceptLossAt: this.config.acceptEventLossAt,
        dense: this.config.eventStore.kind === 'sqlite',
      });
      if (verdict === 'ok') {
        this.state = saved.body.state;
        after = this.position = saved.body.checkpoint;
      }
    }
    this.running = true;
    this.subscription = this.store.subscribe(
      { after, filter: { types: [...CONSUMES] } },
      {
        onEvents: async (events) => {
          for (const event of events) await this.handleUntilDone(event as Handled);
          await this.save();
        },
        onError: (error) => {
          this.failing = `subscription failed: ${error.message}`;
          this.logger.error('membership subscription failed', { error: error.message });
        },
      },
    );
    await this.subscription.caughtUp;
  }

  /** Handles one event, retrying while the store refuses writes; never skips it. */
  private async handleUntilDone(event: Handled): Promise<void> {
    let wait = this.retryMs;
    for (;;) {
      try {
        await this.handle(event);
        this.failing = null;
        break;
      } catch (error) {
        if (this.stopped) throw error;
        this.failing = `cannot update the groups of ${event.data.username} (event ${event.position}): ${(error as Error).message}; retrying`;
        this.logger.warn('membership update failed; retrying', { position: event.position, error: (error as Error).message });
        // Not unref'd: an event still to be handled is work this process has to do.
        await new Promise((r) => setTimeout(r, wait));
        wait = Math.min(wait * 2, this.maxRetryMs);
      }
    }
    this.position = event.position;
    this.waiters.reached(this.position);
  }

  private async handle(event: Handled): Promise<void> {
    const username = event.data.username;
    const before = this.state[username] ?? [];
    // The user as it is now, not as the event left it: a replay (or a late catch-up) goes straight
    // to the current membership and passes through no state in between.
    const current = (await this.runner.load(userStream(username), userDecider)).state;
    const after = isExistingUser(current) ? [...current.groups] : [];
    const meta: CommandMeta = {
      actor: 'system:membership',
      correlationId: event.metadata.correlationId,
      causationId: event.id,
      timestamp: event.metadata.timestamp,
    };
    // On a replay `before` may already hold the groups: adding again is a no-op, so add all.
    for (const name of after) await this.change(name, { add: [username], remove: [] }, meta);
    for (const name of before.filter((g) => !after.includes(g))) await this.change(name, { add: [], remove: [username] }, meta);
    if (after.length) this.state[username] = after;
    else delete this.state[username];
  }

  private async change(name: string, members: { add: string[]; remove: string[] }, meta: CommandMeta): Promise<void> {
    try {
      const outcome = await this.runner.run(groupStream(name), groupDecider, { type: 'ChangeGroupMembers', name, ...members }, meta);
      if (outcome.position !== null) this.lastAppended = Math.max(this.lastAppended ?? 0, outcome.position);
    } catch (error) {
      // A group deleted (or never created) meanwhile has no membership to keep.
      if (error instanceof DomainError && error.code === ErrorCode.GROUP_NOT_FOUND) {
        this.logger.info('group gone; membership not recorded', { group: name });
        return;
      }
      throw error;
    }
  }

  private save(): Promise<void> {
    const body = {
      kind: KIND,
      version: VERSION,
      checkpoint: this.position,
      takenAt: new Date().toISOString(),
      state: structuredClone(this.state),
    };
    this.saving = this.saving
      .then(async () => writeCheckpointFile(this.file, { ...body, storeFingerprint: await this.fingerprint.get() }))
      .catch((error: Error) => this.logger.error('could not save the membership checkpoint', { error: error.message }));
    return this.saving;
  }

  /** Resolves once every user event up to `position` has been handled (or after `timeoutMs`: false). */
  waitFor(position: number, timeoutMs = 10_000): Promise<boolean> {
    return this.position >= position ? Promise.resolve(true) : this.waiters.wait(position, timeoutMs);
  }

  /**
   * For the user flows: waits for the membership of the outcome's events, and returns the outcome
   * with the position of the last group change (so read-your-writes covers the groups too). When
   * the store refuses the group writes, the answer still comes (the user was written and the
   * membership will follow): health says why it is late.
   */
  async settled(outcome: CommandOutcome): Promise<CommandOutcome> {
    if (outcome.position === null || !this.running) return outcome;
    const done = await this.waitFor(outcome.position);
    if (!done) this.logger.warn('membership is late; the answer goes out before it', { position: outcome.position });
    const position = done && this.lastAppended !== null ? Math.max(outcome.position, this.lastAppended) : outcome.position;
    return { ...outcome, position };
  }

  health(): MembershipHealth {
    if (!this.running) return { status: 'down', detail: 'not started', position: this.position };
    if (this.failing) return { status: 'degraded', detail: this.failing, position: this.position };
    return { status: 'up', position: this.position };
  }

  /** The groups the manager has put each user in (tests). */
  memberships(): Readonly<MembershipState> {
    return this.state;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.subscription?.close();
    this.running = false;
    await this.save();
  }
}
