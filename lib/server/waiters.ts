/**
 * Waiting for a condition that changes when something arrives (an applied
 * batch, a thread's report): each waiter's condition is checked at once and
 * again at every wake(), and gives up at its deadline. One timer per waiter,
 * no polling.
 */

/** Conditions waited for, woken by whoever changes what they read. */
export class Waiters {
  readonly #checks = new Set<() => void>();

  /**
   * Resolves true once `ready()` holds, false after `ms`; rejects with the
   * error `broken()` returns as soon as it returns one while `ready()` does not hold.
   */
  until(ready: () => boolean, ms: number, broken: () => Error | undefined = () => undefined): Promise<boolean> {
    if (ready()) return Promise.resolve(true);
    const failed = broken();
    if (failed) return Promise.reject(failed);
    return new Promise<boolean>((resolve, reject) => {
      const finish = () => {
        clearTimeout(timer);
        this.#checks.delete(check);
      };
      const timer = setTimeout(() => {
        finish();
        resolve(false);
      }, ms);
      const check = () => {
        if (ready()) {
          finish();
          resolve(true);
          return;
        }
        const err = broken();
        if (!err) return;
        finish();
        reject(err);
      };
      this.#checks.add(check);
    });
  }

  /** Checks every waiter's condition again. */
  wake(): void {
    for (const check of [...this.#checks]) check();
  }
}
