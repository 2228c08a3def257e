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
import { type KV, type KvEntry, Kvm } from "@nats-io/kv";
import { OperatorError } from "../shared/base/errors.ts";
import type { Logger } from "../shared/base/log.ts";
import { VERSION } from "../shared/base/version.ts";
import { MetricsText } from "../shared/observe/prometheus.ts";
import { FORMAT, Members, type NodeInfo, type NodeLoad, parseNodeInfo } from "./members.ts";

/** The cluster as the statistics page shows it. */
export interface ClusterOverview {
  /** The cluster's name. */
  name: string;
  /** Where this node stands. */
  state: ClusterState;
  /** Each live node: its name, whether it is this one, its shards, and what it holds. */
  nodes: ({ node: string; here: boolean; shards: number } & NodeLoad)[];
  /** What the nodes hold together. */
  total: NodeLoad;
}
import {
  assignShards,
  ClusterShards,
  handOffArg,
  SHARDS,
  shardsOf,
} from "../shared/store/cluster_shards.ts";
import type { ClusterSettings } from "./settings.ts";
import type { ClusterWorkerInit, ShardOwners } from "../shared/runtime/cluster_init.ts";
import type { SwarmAccess } from "../shared/runtime/tracker.ts";
import { entries } from "../shared/config/state_file.ts";
import { ByteBuffer } from "../shared/base/byte_buffer.ts";

/** Where a node's lines go. */
export type Log = Pick<Logger, "info" | "warn" | "error">;

/** The first byte of a handoff message: the format of the state file entries after it. */
const HANDOFF_FORMAT = 1;

/** Most bytes of entries in one handoff message (NATS takes 1 MiB by default). */
const HANDOFF_CHUNK = 512 * 1024;

/** How long the first connection to NATS may take before the node starts alone. */
const FIRST_CONNECT_MS = 3000;

/** Where a node stands. */
export type ClusterState =
  /** Connected, its key held: a member. */
  | "member"
  /** NATS unreachable (or its key lost): serving alone, owning every shard. */
  | "alone"
  /** Another node speaks no cluster format this one does: serving alone on purpose. */
  | "out";

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
  #info: NodeInfo;
  #nc: NatsConnection | null = null;
  #kv: KV | null = null;
  #revision = 0;
  #state: ClusterState = "alone";
  #timer: ReturnType<typeof setTimeout> | undefined;
  #ticks = 0;
  #stopped = false;
  #lastLive = "";
  #watchStop: (() => void) | null = null;
  #joining: Promise<void> | null = null;
  #onOwners: (o: ShardOwners) => void = () => {};
  #swarms: SwarmAccess | null = null;
  #sweep: ReturnType<typeof setTimeout> | undefined;
  /** Whether the last handoff left torrents here that another node owns. */
  #untaken = false;
  /** The handoff running now (they run one at a time). */
  #handing: Promise<unknown> = Promise.resolve();
  /** Torrents handed over to other nodes, and taken from them. */
  handedOut = 0;
  handedIn = 0;

  /** A node of the cluster `s` describes, logging to `log`; nothing happens before `start`. */
  constructor(s: ClusterSettings, log: Log) {
    this.#s = s;
    this.#log = log;
    // Gone after three heartbeats missed (3/4 of the timeout), found within 1/8 more: a
    // killed node's shards move within the timeout.
    this.#members = new Members(s.nodeTimeoutMs * 3 / 4);
    this.#shards = new ClusterShards(s.shardKey);
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
    const owners = assignShards(this.live);
    const nodes = this.live.map((node) => {
      const info = node === this.#s.node ? this.#info : this.#members.info(node);
      const load = info?.load ?? { torrents: 0, peers: 0, seeders: 0 };
      return { node, here: node === this.#s.node, shards: shardsOf(node, owners), ...load };
    });
    const total = { torrents: 0, peers: 0, seeders: 0 };
    for (const n of nodes) {
      total.torrents += n.torrents;
      total.peers += n.peers;
      total.seeders += n.seeders;
    }
    return { cluster: { name: this.#s.name, state: this.#state, nodes, total } };
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
      nc = await connect(this.#options(false));
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
    clearTimeout(this.#sweep);
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
      await this.#handing;
      const owners = assignShards(others);
      const moved = await this.#handOff(new Uint8Array(SHARDS).fill(1), owners).catch((err) => {
        this.#log.error(`cluster: swarms not handed over at stop (${firstLine(err)})`);
        return 0;
      });
      this.#log.info(`cluster: ${moved} torrents handed over to ${others.join(", ")} at stop`);
    }
    this.#nc = null;
    await nc?.close().catch(() => {});
  }

  /** Where the node reaches its own swarms: handoffs out and in start once it is given. */
  attachSwarms(swarms: SwarmAccess): void {
    this.#swarms = swarms;
  }

  /** Prometheus lines of the cluster. */
  metrics(): string {
    const m = new MetricsText();
    const live = this.live;
    m.gauge(
      "shoal_cluster_member",
      "1 when this node is a member of its cluster, 0 alone.",
      +(this.#state === "member"),
    );
    m.gauge(
      "shoal_cluster_nodes",
      "Live nodes of the cluster this node sees (itself included).",
      live.length,
    );
    m.gauge(
      "shoal_cluster_shards",
      "Shards of the info-hash space this node owns.",
      this.ownedShards(),
    );
    m.counter("shoal_cluster_outages_total", "Times NATS was lost or unreachable.", this.outages);
    m.counter(
      "shoal_cluster_membership_changes_total",
      "Times the live set changed.",
      this.changes,
    );
    return m.toString();
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

  #options(waitOnFirst: boolean) {
    const s = this.#s;
    return {
      servers: s.servers,
      name: `shoal ${s.name}/${s.node}`,
      user: s.user || undefined,
      pass: s.password || undefined,
      token: s.token || undefined,
      tls: s.tlsCaFile ? { caFile: s.tlsCaFile } : undefined,
      timeout: FIRST_CONNECT_MS,
      maxReconnectAttempts: -1,
      reconnectTimeWait: Math.min(1000, s.nodeTimeoutMs / 3),
      waitOnFirstConnect: waitOnFirst,
    };
  }

  /** Keeps trying to reach NATS after a failed start; joins once it does. */
  async #connectLater(): Promise<void> {
    while (!this.#stopped) {
      try {
        const nc = await connect({ ...this.#options(false) });
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
    const handoffs = nc.subscribe(`${this.prefix}.${this.#s.node}.handoff`);
    void (async () => {
      for await (const m of handoffs) {
        if (m.data.length < 1 || m.data[0] !== HANDOFF_FORMAT) {
          m.respond(new Uint8Array([0]));
          continue;
        }
        const body = m.data.subarray(1);
        let n = 0;
        try {
          for (const _ of entries(body)) n++;
        } catch {
          m.respond(new Uint8Array([0])); // malformed: not taken
          continue;
        }
        this.#swarms?.merge(body);
        this.handedIn += n;
        m.respond(new Uint8Array([1]));
        this.#sweepSoon();
      }
    })();
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
      this.#kv = kv;
      await this.#claim(kv, atStart);
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

  /**
   * Creates this node's key. When it exists, its holder may be a process that died less than
   * a TTL ago: wait out one TTL, then refuse.
   */
  async #claim(kv: KV, atStart: boolean): Promise<void> {
    const value = new TextEncoder().encode(JSON.stringify(this.#info));
    const deadline = Date.now() + this.#s.nodeTimeoutMs + 1000;
    for (;;) {
      try {
        this.#revision = await kv.create(this.#key, value);
        return;
      } catch (err) {
        const held = await kv.get(this.#key).catch(() => null);
        const holder = held?.value.length ? parseNodeInfo(held.string()) : null;
        if (held && held.operation === "PUT" && holder?.instance === this.#info.instance) {
          // Our own key, kept through a short outage: carry on from its revision.
          this.#revision = held.revision;
          return;
        }
        if (!/wrong last sequence/i.test(String((err as Error).message)) && held === null) {
          throw err;
        }
        if (Date.now() > deadline) {
          throw new OperatorError(
            `cluster: node "${this.#s.node}" is already live in cluster "${this.#s.name}"` +
              (holder ? ` (started ${new Date(holder.started).toISOString()})` : "") +
              `: give this node another cluster.node`,
          );
        }
        if (!atStart && this.#stopped) return;
        await new Promise((r) => setTimeout(r, 250));
      }
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

  /** Every third of a TTL: refresh this node's key, forget nodes not heard from. */
  #tick(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      void this.#beat().finally(() => this.#tick());
    }, this.#s.nodeTimeoutMs / 8);
  }

  /** Every eighth of the timeout: forget nodes gone silent; every second time, a heartbeat. */
  async #beat(): Promise<void> {
    if (this.#members.expire(performance.now()).length > 0) this.#changed();
    if (++this.#ticks % 2 !== 0) return;
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
    if (this.#state === "member") this.#handOffStrays(owners);
  }

  /**
   * Hands the swarms of every shard another node owns under `owners` to that node (what this
   * node held while alone, or what a node joining takes over), one handoff at a time.
   */
  #handOffStrays(owners: ShardOwners): void {
    const self = owners.nodes.indexOf(this.#s.node);
    const mask = new Uint8Array(SHARDS);
    let any = false;
    for (let s = 0; s < SHARDS; s++) {
      if (owners.owner[s] !== self) {
        mask[s] = 1;
        any = true;
      }
    }
    if (!any) return;
    this.#handing = this.#handing.then(() => this.#handOff(mask, owners)).then((n) => {
      if (n > 0) this.#log.info(`cluster: ${n} torrents handed over to their owners`);
    }, (err) => {
      this.#log.warn(`cluster: handoff failed (${firstLine(err)}); kept here`);
      this.#untaken = true;
    }).then(() => {
      // An owner not there yet (NATS back, and its old key seen before it reconnected): again
      // in a moment, to whoever owns them then.
      if (!this.#untaken) return;
      this.#untaken = false;
      this.#sweepSoon();
    });
  }

  /**
   * Hands on, in a moment, whatever this node holds that another owns: torrents an owner did
   * not take, or torrents another node handed here while the two saw different live sets.
   */
  #sweepSoon(): void {
    if (this.#sweep !== undefined || this.#stopped) return;
    this.#sweep = setTimeout(() => {
      this.#sweep = undefined;
      if (this.#state === "member" && !this.#stopped) this.#handOffStrays(this.owners());
    }, this.#s.nodeTimeoutMs / 4);
  }

  /**
   * Takes the swarms of the shards `mask` marks out of the request workers and sends each to
   * its owner under `owners`, in messages NATS takes (at most `HANDOFF_CHUNK` bytes), each
   * acknowledged. What an owner does not take comes back here. Returns the torrents sent.
   */
  async #handOff(
    mask: Uint8Array,
    owners: { nodes: string[]; owner: Int16Array },
  ): Promise<number> {
    const swarms = this.#swarms, nc = this.#nc;
    if (swarms === null || nc === null) return 0;
    const parts = await swarms.handOff(handOffArg(this.#shards, mask));
    if (parts === null) throw new Error("a request worker did not answer");
    const byNode = new Map<string, ByteBuffer>();
    let n = 0;
    for (const body of parts) {
      for (const e of entries(body)) {
        const node = owners.nodes[owners.owner[this.#shards.of(body, e.hash)]];
        let w = byNode.get(node);
        if (w === undefined) byNode.set(node, w = new ByteBuffer());
        if (w.len > 0 && w.len + (e.end - e.hash + 4) > HANDOFF_CHUNK) {
          n += await this.#sendHandoff(nc, swarms, node, w.bytes());
          w.len = 0;
        }
        w.append(body.subarray(e.hash - 4, e.end));
      }
    }
    for (const [node, w] of byNode) {
      if (w.len > 0) n += await this.#sendHandoff(nc, swarms, node, w.bytes());
    }
    this.handedOut += n;
    return n;
  }

  /** Sends one chunk of entries to `node`; on no acknowledgement they are merged back here. */
  async #sendHandoff(
    nc: NatsConnection,
    swarms: SwarmAccess,
    node: string,
    body: Uint8Array,
  ): Promise<number> {
    let count = 0;
    for (const _ of entries(body)) count++;
    const m = new Uint8Array(1 + body.length);
    m[0] = HANDOFF_FORMAT;
    m.set(body, 1);
    try {
      const r = await nc.request(`${this.prefix}.${node}.handoff`, m, { timeout: 5000 });
      if (r.data[0] === 1) return count;
      throw new Error(`node "${node}" refused the handoff's format`);
    } catch (err) {
      swarms.merge(body);
      this.#untaken = true;
      this.#log.warn(
        `cluster: ${count} torrents not taken by "${node}" (${firstLine(err)}); kept here`,
      );
      return 0;
    }
  }
}

/** Opens the cluster's bucket, creating it with a TTL of `ttlMs` when it does not exist. */
async function openBucket(nc: NatsConnection, name: string, ttlMs: number): Promise<KV> {
  const kvm = new Kvm(nc);
  try {
    return await kvm.create(name, { ttl: ttlMs, history: 1 });
  } catch {
    // Made by a node with another node_timeout: use it as it is.
    return await kvm.open(name);
  }
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split("\n")[0];
}

function isAuthError(err: unknown): boolean {
  const text = `${(err as Error)?.name} ${firstLine(err)} ${String((err as Error)?.cause ?? "")}`;
  return /authoriz|authentic/i.test(text);
}

function authText(err: unknown): string {
  return `NATS refused this node's credentials (${firstLine(err)}): check cluster.user, ` +
    `cluster.password and cluster.token`;
}
