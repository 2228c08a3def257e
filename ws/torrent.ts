/**
 * One WebTorrent torrent of a request worker: its peers, and on each peer the offers it made
 * that may still be answered. `swarms.ts` routes offers and answers through these.
 *
 * @module
 */

/**
 * Announces' worth of offers a peer may have waiting for answers: older ones are forgotten,
 * so a peer that announces in a loop cannot grow the table.
 */
export const PENDING_OFFERS_PER_ANNOUNCE = 8;

/** Slots per pending offer in `Peer.offers`: offer id, the peer it went to, expiry. */
const OFFER_SLOTS = 3;

/** Length of a peer's offer ring when announces carry up to `maxOffers` offers. */
export function offerRingLength(maxOffers: number): number {
  return OFFER_SLOTS * PENDING_OFFERS_PER_ANNOUNCE * maxOffers;
}

/** A peer of one torrent, on the connection (socket worker, connection id) it announced on. */
export class Peer {
  /**
   * Offers this peer made that may still be answered, `OFFER_SLOTS` each: a ring once full, so
   * the newest overwrite the oldest. Kept on the offerer, so that neither an offer nor an answer
   * makes or hashes a key (peer id + offer id) to find its place. An answered offer's peer
   * becomes "".
   */
  offers: (string | number)[] = [];
  /** Where the next offer goes once `offers` is full. */
  offerAt = 0;
  /** A peer and where it lives: its index in `WsTorrent.ids`, and what it last announced. */
  constructor(
    readonly peerId: string,
    readonly worker: number,
    readonly conn: number,
    readonly key: number,
    public index: number,
    public seeder: boolean,
    public seen: number,
    public completed = false,
  ) {}
}

/** One torrent's peers (with their pending offers) and counts. */
export class WsTorrent {
  /** Peer ids, for random selection (swap-removed). */
  ids: string[] = [];
  /** Peers by peer id. */
  peers = new Map<string, Peer>();
  /** Peer id by connection key. */
  byConn = new Map<number, string>();
  /** Peers with `left = 0`. */
  seeders = 0;
  /** Completed downloads (once per peer). */
  completed = 0;
  /** Kept without peers until then (seconds): restored torrents wait for their peers. */
  keepUntil = 0;

  /** Peers still downloading. */
  get leechers(): number {
    return this.ids.length - this.seeders;
  }

  /** Offers its peers made that were not answered yet (expired ones go at cleaning). */
  pendingOffers(): number {
    let n = 0;
    for (const p of this.peers.values()) {
      for (let i = 1; i < p.offers.length; i += OFFER_SLOTS) if (p.offers[i] !== "") n++;
    }
    return n;
  }
}

/**
 * Records that `p` sent the offer `offerId` to peer `to`, answerable until `expires`, in its
 * ring of `ring` slots (`offerRingLength`): over the oldest once the ring is full.
 */
export function addOffer(
  p: Peer,
  offerId: string,
  to: string,
  expires: number,
  ring: number,
): void {
  const o = p.offers;
  if (o.length < ring) {
    o.push(offerId, to, expires);
    return;
  }
  const at = p.offerAt;
  o[at] = offerId;
  o[at + 1] = to;
  o[at + 2] = expires;
  p.offerAt = at + OFFER_SLOTS >= ring ? 0 : at + OFFER_SLOTS;
}

/**
 * Where in `p.offers` the offer `offerId` to peer `to` waits, unanswered and unexpired at
 * `now`; -1 if it does not. Looks from the newest: answers follow their offers closely.
 */
export function pendingOffer(p: Peer, offerId: string, to: string, now: number): number {
  const o = p.offers, n = o.length;
  // Until the ring is full, `offerAt` stays 0 and the newest is last.
  const newest = (p.offerAt === 0 ? n : p.offerAt) - OFFER_SLOTS;
  for (let k = 0, at = newest; k < n; k += OFFER_SLOTS, at -= OFFER_SLOTS) {
    if (at < 0) at += n;
    if (o[at] === offerId) {
      return o[at + 1] === to && (o[at + 2] as number) >= now ? at : -1;
    }
  }
  return -1;
}

/** The pending offer at `at` (from `pendingOffer`) was answered: it takes no other answer. */
export function markAnswered(p: Peer, at: number): void {
  p.offers[at + 1] = "";
}

/** Forgets all of `p`'s offers when even the newest has expired at `now`. */
export function dropExpiredOffers(p: Peer, now: number): void {
  const o = p.offers;
  if (o.length === 0) return;
  const newest = (p.offerAt === 0 ? o.length : p.offerAt) - OFFER_SLOTS;
  if ((o[newest + 2] as number) >= now) return;
  p.offers = [];
  p.offerAt = 0;
}
