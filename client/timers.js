/**
 * Named one-shot timers: setting a name again replaces its pending timer.
 * @module timers
 */

export class Timers {
  constructor() {
    /** @type {Map<string, ReturnType<typeof setTimeout>>} */
    this.pending = new Map();
  }

  /**
   * Run `fn` in `ms` (now if negative), replacing the timer of the same name.
   * @param {string} name
   * @param {number} ms
   * @param {() => void} fn
   */
  later(name, ms, fn) {
    clearTimeout(this.pending.get(name));
    this.pending.set(name, setTimeout(() => {
      this.pending.delete(name);
      fn();
    }, Math.max(0, ms)));
  }

  /** @param {string} name */
  cancel(name) {
    clearTimeout(this.pending.get(name));
    this.pending.delete(name);
  }

  cancelAll() {
    for (const name of [...this.pending.keys()]) this.cancel(name);
  }
}
