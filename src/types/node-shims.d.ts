// The one Node API the Worker uses (available with nodejs_compat). Declared here rather
// than pulling in @types/node, whose globals (crypto, Buffer, timers) clash with the
// Workers runtime types.
declare module 'node:async_hooks' {
  export class AsyncLocalStorage<T> {
    getStore(): T | undefined;
    run<R>(store: T, callback: () => R): R;
  }
}
