/**
 * Admission of TCP connections under two limits: open connections in all and from one IP
 * (of one socket worker). Counts its refusals, which the limit log and the metrics read.
 *
 * @module
 */

/** Counts open connections, in all and by client IP, against their limits. */
export class Admission {
  /** Connections refused at the total limit. */
  refusedTotal = 0;
  /** Connections refused at the per-IP limit. */
  refusedPerIp = 0;
  #open = 0;
  #perIp = new Map<string, number>();
  #max: number;
  #maxPerIp: number;

  /** At most `max` open connections, and `maxPerIp` from one IP. */
  constructor(max = Infinity, maxPerIp = Infinity) {
    this.#max = max;
    this.#maxPerIp = maxPerIp;
  }

  /** Open connections. */
  get open(): number {
    return this.#open;
  }

  /** Admits a connection from `ip`; false (and counted) when a limit refuses it. */
  admit(ip: string): boolean {
    if (this.#open >= this.#max) {
      this.refusedTotal++;
      return false;
    }
    const fromIp = this.#perIp.get(ip) ?? 0;
    if (fromIp >= this.#maxPerIp) {
      this.refusedPerIp++;
      return false;
    }
    this.#perIp.set(ip, fromIp + 1);
    this.#open++;
    return true;
  }

  /**
   * Refusals by limit key, with `outOfFiles` failed accepts. When the total limit is what the
   * open-file limit leaves room for (`fitsFiles`), its refusals are for want of descriptors.
   */
  refusals(outOfFiles: number, fitsFiles: boolean): Record<string, number> {
    return {
      max_connections: fitsFiles ? 0 : this.refusedTotal,
      max_connections_per_ip: this.refusedPerIp,
      open_files: outOfFiles + (fitsFiles ? this.refusedTotal : 0),
    };
  }

  /** A connection from `ip` that was admitted has closed. */
  release(ip: string): void {
    this.#open--;
    const n = (this.#perIp.get(ip) ?? 1) - 1;
    if (n <= 0) this.#perIp.delete(ip);
    else this.#perIp.set(ip, n);
  }
}
