/**
 * One node's membership in its cluster, on the main thread, through NATS (nothing of its own
 * for consensus): a JetStream KV bucket per cluster and kind holds one key per live node,
 * `nodes.<node>`. The bucket's TTL is `node_timeout`, and each node refreshes its key four
 * times per TTL with a revision check (compare-and-set), so:
 * - a name already live is refused at start (`create` fails while the key exists);
 * - a node killed without a word vanishes from the bucket, and from every other node's view,
 *   within `node_timeout` (`members.ts` times heartbeats on each node's own clock);
 * - a node that lost its key (NATS restarted, or another process took the name) notices at
 *   its next heartbeat.
 *
 * Without NATS, a node serves alone, owning every shard; it logs that once, counts it, and
 * rejoins when NATS is back (the client reconnects by itself). Who owns what follows from the
 * live set alone (`shards.ts`).
 *
 * @module
 */

import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { KV, KvEntry } from "@nats-io/kv";
import { OperatorError } from "../shared/base/errors.ts";
import { VERSION } from "../shared/base/version.ts";
import { FORMAT, Members, type NodeInfo, type NodeLoad, parseNodeInfo } from "./members.ts";
import {
  clusterMetrics,
  type ClusterOverview,
  clusterOverview,
  type ClusterState,
} from "./view.ts";
import { assignShards, ClusterShards, SHARDS, shardsOf } from "../shared/store/cluster_shards.ts";
import type { ClusterSettings } from "./settings.ts";
import type { ClusterWorkerInit, ShardOwners } from "../shared/runtime/cluster_init.ts";
import type { SwarmAccess } from "../shared/runtime/tracker.ts";
import { Handoffs } from "./handoff.ts";
import { authText, claimKey, connectOptions, isAuthError, openBucket } from "./bucket.ts";
import { firstLine, type Log } from "./log.ts";

/** A shoal node's membership in a cluster. */
export class ClusterNode {
  /** Times NATS was lost (or never reached at start). */
  outages = 0;
  /** Times the live set changed. */
  changes = 0;
  #s: ClusterSettings;
  #log: Log;
  #members: Members;
  #shards: ClusterShards;
  /** Swarms moving with their shards. */
  readonly handoffs: Handoffs;
  #info: NodeInfo;
  #nc: NatsConnection | null = null;
  #kv: KV | null = null;
  #revision = 0;
  #state: ClusterState = "alone";
  #timer: ReturnType<typeof setTimeout> | undefined;
  #ticks = 0;
  #refreshing = false;
  #stopped = false;
  #lastLive = "";
  #watchStop: (() => void) | null = null;
  #joining: Promise<void> | null = null;
  #onOwners: (o: ShardOwners) => void = () => {};

  /** A node of the cluster `s` describes, logging to `log`; nothing happens before `start`. */
  constructor(s: ClusterSettings, log: Log) {
    this.#s = s;
    this.#log = log;
    // Gone after three heartbeats missed (3/4 of the timeout), found within 1/8 more: a
    // killed node's shards move within the timeout.
    this.#members = new Members(s.nodeTimeoutMs * 3 / 4);
    this.#shards = new ClusterShards(s.shardKey);
    this.handoffs = new Handoffs(
      this.#shards,
      (node) => `${this.prefix}.${node}.handoff`,
      s.node,
      log,
      () => this.#nc,
      () => this.#state === "member" ? this.owners() : null,
      s.nodeTimeoutMs / 4,
    );
    this.#info = {
      node: s.node,
      formatMin: FORMAT.min,
      formatMax: FORMAT.max,
      started: Date.now(),
      instance: crypto.randomUUID(),
      version: VERSION,
    };
  }

  /** What this node holds now (published with its next heartbeat). */
  setLoad(load: NodeLoad): void {
    this.#info.load = load;
  }

  /**
   * The statistics page's view of the cluster: each live node with what it last published
   * (this one with what it holds now), and their total.
   */
  overview(): { cluster: ClusterOverview } {
    const here = this.#s.node;
    return {
      cluster: clusterOverview(
        this.#s.name,
        here,
        this.#state,
        this.live,
        (node) => node === here ? this.#info : this.#members.info(node),
      ),
    };
  }

  /** Where this node stands. */
  get state(): ClusterState {
    return this.#state;
  }

  /** Live nodes of the cluster, this one included (only this one while alone). */
  get live(): string[] {
    if (this.#state !== "member") return [this.#s.node];
    const live = this.#members.live();
    return live.includes(this.#s.node) ? live : [...live, this.#s.node].sort();
  }

  /** Which node owns each shard now (this node every one while alone). */
  owners(): ShardOwners {
    const a = assignShards(this.live);
    const workers = a.nodes.map((n) =>
      (n === this.#s.node ? this.#info : this.#members.info(n))?.requestWorkers ?? 1
    );
    return { nodes: a.nodes, owner: a.owner, workers };
  }

  /** This node's request workers (published with its heartbeats: others address each). */
  setRequestWorkers(n: number): void {
    this.#info.requestWorkers = n;
  }

  /** Calls `f` with each new assignment of shards (the socket workers must know). */
  onOwners(f: (o: ShardOwners) => void): void {
    this.#onOwners = f;
  }

  /** The NATS subjects' prefix of this cluster and kind. */
  get prefix(): string {
    return `shoal.${this.#s.name}.${this.#s.kind === "bittorrent" ? "bt" : "ws"}`;
  }

  /** What each socket worker starts with. */
  workerInit(): ClusterWorkerInit {
    const s = this.#s;
    return {
      servers: s.servers,
      user: s.user,
      password: s.password,
      token: s.token,
      tlsCaFile: s.tlsCaFile,
      prefix: this.prefix,
      node: s.node,
      instance: this.#info.instance,
      shardKey: this.#s.shardKey,
      owners: this.owners(),
    };
  }

  /** The KV bucket of this cluster and kind. */
  get bucket(): string {
    return `shoal_${this.#s.name}_${this.#s.kind === "bittorrent" ? "bt" : "ws"}`;
  }

  /**
   * Connects and joins. A name already live in the cluster, or NATS refusing the credentials,
   * is an `OperatorError` (exit 2). NATS unreachable is not: the node starts alone and joins
   * when it can.
   */
  async start(): Promise<void> {
    let nc: NatsConnection;
    try {
      nc = await connect(connectOptions(this.#s));
    } catch (err) {
      if (isAuthError(err)) throw new OperatorError(`cluster: ${authText(err)}`);
      this.#down(err);
      void this.#connectLater();
      this.#tick();
      return;
    }
    await this.#use(nc, true);
    this.#tick();
  }

  /** Leaves the cluster (its key deleted, so others take its shards at once) and disconnects. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.handoffs.stop();
    this.#watchStop?.();
    const kv = this.#kv, nc = this.#nc;
    const others = this.live.filter((n) => n !== this.#s.node);
    const member = this.#state === "member";
    this.#kv = null;
    if (kv !== null && member) {
      // Out of the bucket first: the others route to the new owners at once, and what they
      // take meanwhile meets the swarms handed over below (merged: peers united).
      await kv.delete(this.#key, { previousSeq: this.#revision }).catch(() => {});
    }
    if (nc !== null && member && others.length > 0) {
      await this.handoffs.all(others, assignShards(others));
    }
    this.#nc = null;
    await nc?.close().catch(() => {});
  }

  /**
   * Resolves once every worker's NATS link is up, or gives up after a while: a node claims its
   * shards only then, or the first requests the others send it would find no one subscribed.
   */
  linksReady: () => Promise<void> = () => Promise.resolve();

  /** Where the node reaches its own swarms: handoffs out and in start once it is given. */
  attachSwarms(swarms: SwarmAccess): void {
    this.handoffs.attach(swarms);
  }

  /** Prometheus lines of the cluster. */
  metrics(): string {
    return clusterMetrics({
      member: this.#state === "member",
      nodes: this.live.length,
      shards: this.ownedShards(),
      outages: this.outages,
      changes: this.changes,
    });
  }

  /** Shards this node owns now. */
  ownedShards(): number {
    return this.#state === "member" ? shardsOf(this.#s.node, assignShards(this.live)) : SHARDS;
  }

  /** A line for the log once it serves. */
  describe(): string {
    return `cluster "${this.#s.name}" as node "${this.#s.node}" over ${this.#s.servers.length} NATS server(s): ` +
      (this.#state === "member" ? `member, nodes ${this.live.join(", ")}` : "alone for now");
  }

  get #key(): string {
    return `nodes.${this.#s.node}`;
  }

  /** Keeps trying to reach NATS after a failed start; joins once it does. */
  async #connectLater(): Promise<void> {
    while (!this.#stopped) {
      try {
        const nc = await connect(connectOptions(this.#s));
        if (this.#stopped) {
          await nc.close();
          return;
        }
        await this.#use(nc, false);
        return;
      } catch (err) {
        if (isAuthError(err)) this.#log.error(`cluster: ${authText(err)}; serving alone`);
        await new Promise((r) => setTimeout(r, Math.min(1000, this.#s.nodeTimeoutMs / 3)));
      }
    }
  }

  /** Takes a connection: opens the bucket, claims the name, follows NATS's status. */
  async #use(nc: NatsConnection, atStart: boolean): Promise<void> {
    this.#nc = nc;
    this.handoffs.listen(nc);
    void (async () => {
      for await (const st of nc.status()) {
        if (st.type === "disconnect") this.#down(new Error("connection lost"));
        else if (st.type === "reconnect") void this.#join(false);
      }
    })();
    void nc.closed().then(() => {
      if (!this.#stopped) this.#down(new Error("connection closed"));
    });
    await this.#join(atStart);
  }

  /** Opens the bucket and claims this node's key; at start, a live holder is an error. */
  #join(atStart: boolean): Promise<void> {
    this.#joining ??= this.#joinOnce(atStart).finally(() => {
      this.#joining = null;
    });
    return this.#joining;
  }

  async #joinOnce(atStart: boolean): Promise<void> {
    const nc = this.#nc;
    if (nc === null || this.#stopped) return;
    try {
      const kv = await openBucket(nc, this.bucket, this.#s.nodeTimeoutMs);
      await this.linksReady();
      this.#kv = kv;
      const r = await claimKey(kv, this.#key, this.#info, {
        timeoutMs: this.#s.nodeTimeoutMs + 1000,
        stopped: () => !atStart && this.#stopped,
        taken: (holder) =>
          new OperatorError(
            `cluster: node "${this.#s.node}" is already live in cluster "${this.#s.name}"` +
              (holder ? ` (started ${new Date(holder.started).toISOString()})` : "") +
              `: give this node another cluster.node`,
          ),
      });
      if (r === null) return;
      this.#revision = r;
      await this.#watch(kv);
      const foreign = this.#members.foreign();
      if (foreign.length > 0) {
        const f = foreign[0];
        this.#log.error(
          `cluster: node "${f.node}" speaks cluster formats ${f.formatMin}–${f.formatMax}, this node ` +
            `${FORMAT.min}–${FORMAT.max}: staying out of the cluster, serving alone`,
        );
        await kv.delete(this.#key, { previousSeq: this.#revision }).catch(() => {});
        this.#state = "out";
        return;
      }
      if (this.#state !== "member") {
        this.#log.info(`cluster: joined "${this.#s.name}" as "${this.#s.node}"`);
      }
      this.#state = "member";
      this.#changed();
    } catch (err) {
      if (err instanceof OperatorError) {
        if (atStart) throw err;
        this.#log.error(`${err.message}; serving alone`);
        return;
      }
      this.#down(err);
    }
  }

  /** Follows the bucket: every node's heartbeats and departures. */
  async #watch(kv: KV): Promise<void> {
    this.#watchStop?.();
    this.#members.clear();
    const w = await kv.watch({ key: "nodes.>" });
    this.#watchStop = () => w.stop();
    void (async () => {
      try {
        for await (const e of w) this.#entry(e);
      } catch {
        // the watch ends with the connection; a reconnect starts a new one
      }
    })();
  }

  #entry(e: KvEntry): void {
    const node = e.key.slice("nodes.".length);
    if (e.operation !== "PUT") {
      this.#members.left(node);
      this.#changed();
      return;
    }
    const info = parseNodeInfo(e.string());
    if (info === null || info.node !== node) return;
    this.#members.heard(info, performance.now());
    this.#changed();
  }

  /** Every eighth of the timeout: forget nodes not heard from; every second time, a heartbeat. */
  #tick(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#beat();
      this.#tick();
    }, this.#s.nodeTimeoutMs / 8);
  }

  /**
   * Forgets nodes gone silent, and refreshes this node's key every second time. The refresh runs
   * apart, one at a time: a NATS that stops answering without closing (frozen, or cut off by
   * the network) holds the refresh until its timeout, and must not hold up the forgetting, which
   * is what lets this node take every shard within `node_timeout`.
   */
  #beat(): void {
    if (this.#members.expire(performance.now()).length > 0) this.#changed();
    if (++this.#ticks % 2 !== 0 || this.#refreshing) return;
    this.#refreshing = true;
    void this.#refresh().finally(() => (this.#refreshing = false));
  }

  /** Refreshes this node's key (compare-and-set); refused, it claims its name again. */
  async #refresh(): Promise<void> {
    const kv = this.#kv;
    if (kv === null || this.#state !== "member" || this.#nc?.isClosed()) return;
    try {
      const value = new TextEncoder().encode(JSON.stringify(this.#info));
      this.#revision = await kv.update(this.#key, value, this.#revision);
    } catch (err) {
      if (this.#nc === null || this.#stopped) return;
      // The key is gone or someone else's: NATS lost it (a restart) or the name was taken.
      this.#log.warn(`cluster: heartbeat refused (${firstLine(err)}); claiming the name again`);
      this.#state = "alone";
      this.#changed();
      await this.#join(false);
    }
  }

  #down(err: unknown): void {
    if (this.#stopped) return;
    if (this.#state === "member" || this.outages === 0) {
      this.outages++;
      this.#log.error(
        `cluster: NATS unreachable (${
          firstLine(err)
        }): serving alone, owning every shard, until it is back`,
      );
    }
    this.#state = "alone";
    this.#members.clear();
    this.#changed();
  }

  /** Logs the live set when it changed. */
  #changed(): void {
    const live = this.live.join(", ");
    if (live === this.#lastLive) return;
    this.#lastLive = live;
    this.changes++;
    this.#log.info(`cluster: nodes ${live} (${this.ownedShards()} of ${SHARDS} shards here)`);
    const owners = this.owners();
    this.#onOwners(owners);
    if (this.#state === "member") this.handoffs.strays(owners);
  }
}
