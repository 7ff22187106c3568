/**
 * Runs a generator that yields plain values or promises: synchronously for
 * as long as it yields plain values, awaiting each promise it yields. So one
 * loop serves synchronous adapters (the simulator's) and asynchronous ones
 * (disk and network) alike; a rejected promise is thrown into the generator.
 */
export function runMaybeAsync<T>(gen: Generator<unknown, T, unknown>): T | Promise<T> {
  const resume = (next: () => IteratorResult<unknown, T>): T | Promise<T> => {
    for (;;) {
      const r = next();
      if (r.done) return r.value;
      const value = r.value;
      if (value instanceof Promise) return value.then((x) => resume(() => gen.next(x)), (err) => resume(() => gen.throw(err)));
      next = () => gen.next(value);
    }
  };
  return resume(() => gen.next());
}
