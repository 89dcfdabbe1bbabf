/**
 * Throttled progress for an image job: `ImageJobOptions.onProgress` is called at most every 100 ms
 * while work goes on, and always once at the end (`finish`), with the totals.
 */
import type { ImageProgress } from '../../commands/image-ports';

export const PROGRESS_INTERVAL_MS = 100;

export class ProgressReporter {
  private state: ImageProgress;
  private last = 0;

  constructor(
    private readonly onProgress: ((progress: ImageProgress) => void) | undefined,
    bytesTotal: number | null,
    private readonly now: () => number = Date.now,
  ) {
    this.state = { phase: 'reading', bytesDone: 0, bytesTotal, files: 0 };
  }

  get current(): ImageProgress {
    return { ...this.state };
  }

  /** Updates the state; reports when the last report is 100 ms old (or the phase changed). */
  update(change: Partial<ImageProgress>): void {
    const phaseChanged = change.phase !== undefined && change.phase !== this.state.phase;
    this.state = { ...this.state, ...change };
    const t = this.now();
    if (phaseChanged || t - this.last >= PROGRESS_INTERVAL_MS) this.emit(t);
  }

  addBytes(n: number): void {
    this.update({ bytesDone: this.state.bytesDone + n });
  }

  addFiles(n: number): void {
    this.update({ files: this.state.files + n });
  }

  /** The final report, unthrottled. */
  finish(change: Partial<ImageProgress>): void {
    this.state = { ...this.state, ...change };
    this.emit(this.now());
  }

  private emit(t: number): void {
    this.last = t;
    if (!this.onProgress) return;
    try {
      this.onProgress({ ...this.state });
    } catch {
      // A listener's failure is not the import's.
    }
  }
}
