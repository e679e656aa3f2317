/** Runs at most `size` tasks at a time, in the order they were submitted. */
export type Limiter = <T>(task: () => Promise<T>) => Promise<T>;

export function createLimiter(size: number): Limiter {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`pool size must be a whole number >= 1, got ${size}`);
  let running = 0;
  const queue: (() => void)[] = [];
  const next = () => {
    if (running >= size) return;
    const start = queue.shift();
    if (start) {
      running++;
      start();
    }
  };
  return <T>(task: () => Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      queue.push(() => {
        // A task that throws synchronously still frees its slot.
        Promise.resolve()
          .then(task)
          .then(resolve, reject)
          .finally(() => {
            running--;
            next();
          });
      });
      next();
    });
}

/** Maps `items` through `fn` with at most `size` in flight; results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], size: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const limit = createLimiter(size);
  return Promise.all(items.map((item, i) => limit(() => fn(item, i))));
}
