/**
 * Callers waiting for a follower of the store (the read models, a process manager) to reach a
 * position: `wait` resolves true once `reached` passes it, false after the timeout.
 */
export class PositionWaiters {
  private readonly waiting: { position: number; resolve: () => void }[] = [];

  wait(position: number, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const waiter = {
        position,
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        resolve(false);
      }, timeoutMs);
      timer.unref();
      this.waiting.push(waiter);
    });
  }

  /** The follower is at `position`: releases everyone waiting for it or an earlier one. */
  reached(position: number): void {
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      if (this.waiting[i].position <= position) {
        this.waiting[i].resolve();
        this.waiting.splice(i, 1);
      }
    }
  }
}
