import type { Clock } from '../../src/core/clock.ts';

/** A clock that only moves when told to, or when code sleeps on it (sleeping advances it at once). */
export class FakeClock implements Clock {
  constructor(public t = 1_700_000_000_000) {}
  readonly sleeps: number[] = [];
  now() {
    return this.t;
  }
  async sleep(ms: number, signal?: AbortSignal) {
    this.sleeps.push(ms);
    if (signal?.aborted) return;
    this.t += ms;
    await Promise.resolve();
  }
  advance(ms: number) {
    this.t += ms;
  }
}
