/**
 * Leveled logging to stdout (info, debug) and stderr (warn, error), one line per message.
 *
 * @module
 */

/** Log levels, most severe first. */
export const LOG_LEVELS = ["error", "warn", "info", "debug"] as const;

/** One of `LOG_LEVELS`. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Writes messages at or above its level. */
export class Logger {
  #rank: number;
  #prefix: string;

  /** Creates a logger that writes messages of `level` and more severe, prefixed by `prefix`. */
  constructor(level: LogLevel, prefix = "") {
    this.#rank = LOG_LEVELS.indexOf(level);
    this.#prefix = prefix;
  }

  /** True when messages of `level` are written. */
  enabled(level: LogLevel): boolean {
    return LOG_LEVELS.indexOf(level) <= this.#rank;
  }

  /** Logs an error (always written). */
  error(msg: string): void {
    console.error(`${this.#prefix}error: ${msg}`);
  }

  /** Logs a warning. */
  warn(msg: string): void {
    if (this.#rank >= 1) console.error(`${this.#prefix}warning: ${msg}`);
  }

  /** Logs information. */
  info(msg: string): void {
    if (this.#rank >= 2) console.log(`${this.#prefix}${msg}`);
  }

  /** Logs details for debugging. */
  debug(msg: string): void {
    if (this.#rank >= 3) console.log(`${this.#prefix}debug: ${msg}`);
  }
}
