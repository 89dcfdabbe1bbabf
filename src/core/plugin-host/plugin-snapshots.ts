/**
 * Snapshots of plugins' views (`snapshot()` / `restore()`): saved with the position of the last
 * event the plugin projected, so that a start restores the view and delivers only later events.
 * One file per plugin, `<data>/plugins/<name>/view.snapshot.json`, written atomically and
 * owner-only with a checksum (persistence/checkpoint-file.ts).
 */
import * as path from 'node:path';
import type { Logger } from '../logging/logger';
import type { AnyPlugin } from '../plugin-api/plugin';
import { readCheckpointFile, writeCheckpointFile, type CheckpointFile } from '../persistence/checkpoint-file';

export interface SnapshotPolicy {
  /** Save after this many projected events... */
  everyEvents: number;
  /** ...or this long after the first unsaved one. */
  intervalMs: number;
}

export const DEFAULT_SNAPSHOT_POLICY: SnapshotPolicy = { everyEvents: 10_000, intervalMs: 30_000 };

export function snapshotFileOf(pluginDir: string): string {
  return path.join(pluginDir, 'view.snapshot.json');
}

/** Takes and saves one plugin's snapshots; never two writes at once, never in the middle of a batch. */
export class PluginSnapshotter {
  private unsaved = 0;
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private due = false;
  /** True while a batch is being projected: a snapshot then would not match any position. */
  delivering = false;
  /** Position of the last event projected. */
  checkpoint: number | undefined;

  constructor(
    private readonly plugin: AnyPlugin,
    private readonly file: string,
    private readonly fingerprint: () => Promise<string | null>,
    private readonly policy: SnapshotPolicy,
    private readonly logger: Logger,
  ) {}

  get kind(): string {
    return `plugin:${this.plugin.name}`;
  }

  get version(): number {
    return this.plugin.snapshotVersion ?? 1;
  }

  /** The saved snapshot, when there is a usable one. */
  async load(): Promise<CheckpointFile<unknown> | null> {
    const result = await readCheckpointFile<unknown>(this.file, { kind: this.kind, version: this.version, validateState: () => null });
    if (result.status === 'missing') return null;
    if (result.status === 'invalid') {
      this.logger.warn('ignoring the plugin snapshot; replaying its events instead', { reason: result.reason });
      return null;
    }
    if (result.body.storeFingerprint !== (await this.fingerprint())) {
      this.logger.warn('ignoring a plugin snapshot of another event store; replaying its events instead');
      return null;
    }
    return result.body;
  }

  /** After each projected batch. */
  projected(count: number, position: number): void {
    this.checkpoint = position;
    this.unsaved += count;
    if (this.due || this.unsaved >= this.policy.everyEvents) {
      this.capture();
      return;
    }
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        if (this.delivering) this.due = true;
        else this.capture();
      }, this.policy.intervalMs);
      this.timer.unref();
    }
  }

  /** Takes the snapshot now (synchronously, between batches) and queues its write. */
  private capture(): void {
    this.due = false;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.unsaved === 0 || this.checkpoint === undefined) return;
    let state: unknown;
    try {
      state = this.plugin.snapshot!();
    } catch (error) {
      this.logger.warn('plugin snapshot() threw; no snapshot taken', { error: (error as Error).message });
      return;
    }
    const body: Omit<CheckpointFile<unknown>, 'storeFingerprint'> = {
      kind: this.kind,
      version: this.version,
      checkpoint: this.checkpoint,
      takenAt: new Date().toISOString(),
      state,
    };
    this.unsaved = 0;
    this.writing = this.writing
      .then(async () => writeCheckpointFile(this.file, { ...body, storeFingerprint: await this.fingerprint() }))
      .catch((error: Error) => this.logger.error('could not write the plugin snapshot', { error: error.message, file: this.file }));
  }

  /** Saves what is unsaved and waits for every write (at stop). */
  async flush(): Promise<void> {
    this.capture();
    await this.writing;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
