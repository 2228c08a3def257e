/**
 * A node's view of who is in its cluster: every heartbeat it hears (from the cluster's JetStream
 * KV bucket, `node.ts`) marks a node live, and a node not heard from for `timeoutMs` is gone.
 * Times are this process's own monotonic milliseconds, so nodes' clocks need not agree.
 * Pure bookkeeping: no NATS here.
 *
 * @module
 */

/** The cluster message formats this build speaks: a node speaks every one from `min` to `max`. */
export const FORMAT = { min: 1, max: 1 } as const;

/** What a node publishes about itself under `nodes.<name>`. */
export interface NodeInfo {
  /** Its name. */
  node: string;
  /** The lowest cluster format it speaks. */
  formatMin: number;
  /** The highest cluster format it speaks. */
  formatMax: number;
  /** When it started (wall-clock milliseconds): tells two processes of one name apart. */
  started: number;
  /** A random id of the process. */
  instance: string;
  /** Its shoal version. */
  version: string;
  /** Its request workers (another node's batches go to each by the shard key; absent: 1). */
  requestWorkers?: number;
  /** What it holds, as of its heartbeat (absent before its first count). */
  load?: NodeLoad;
}

/** What a node holds, published with its heartbeats for every node's statistics page. */
export interface NodeLoad {
  /** Torrents. */
  torrents: number;
  /** Peers, and seeders among them. */
  peers: number;
  seeders: number;
}

/** Reads a heartbeat's JSON; null when it is not a node's. */
export function parseNodeInfo(text: string): NodeInfo | null {
  try {
    const v = JSON.parse(text);
    if (
      typeof v?.node === "string" && Number.isInteger(v.formatMin) &&
      Number.isInteger(v.formatMax) && typeof v.instance === "string" &&
      typeof v.started === "number" && typeof v.version === "string"
    ) return v as NodeInfo;
  } catch {
    // not JSON: not a node's
  }
  return null;
}

/** Whether a node speaking `info`'s formats can work with this build. */
export function speaksOurFormat(info: NodeInfo): boolean {
  return info.formatMin <= FORMAT.max && info.formatMax >= FORMAT.min;
}

/** Who is live, as this node has heard it. */
export class Members {
  #timeoutMs: number;
  #heard = new Map<string, { info: NodeInfo; at: number }>();

  /** Nodes not heard from for `timeoutMs` are gone. */
  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /** A heartbeat of `info` heard at `now`. */
  heard(info: NodeInfo, now: number): void {
    this.#heard.set(info.node, { info, at: now });
  }

  /** `node` deleted its entry (a graceful stop). */
  left(node: string): void {
    this.#heard.delete(node);
  }

  /** Forgets every node (the connection to NATS was lost: what was heard may be stale). */
  clear(): void {
    this.#heard.clear();
  }

  /** Drops nodes not heard from since `now - timeoutMs`; returns the names dropped. */
  expire(now: number): string[] {
    const gone: string[] = [];
    for (const [node, h] of this.#heard) {
      if (now - h.at > this.#timeoutMs) {
        this.#heard.delete(node);
        gone.push(node);
      }
    }
    return gone;
  }

  /** Live nodes that speak a format this build speaks, sorted by name. */
  live(): string[] {
    return [...this.#heard.values()].filter((h) => speaksOurFormat(h.info)).map((h) => h.info.node)
      .sort();
  }

  /** Live nodes this build cannot work with. */
  foreign(): NodeInfo[] {
    return [...this.#heard.values()].filter((h) => !speaksOurFormat(h.info)).map((h) => h.info);
  }

  /** What was last heard from `node`, if it is live. */
  info(node: string): NodeInfo | undefined {
    return this.#heard.get(node)?.info;
  }
}
