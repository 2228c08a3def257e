/**
 * The WebTorrent tracker protocol: validation of incoming JSON messages and the shapes of the
 * outgoing ones. Pure: text in, plain values out.
 *
 * `info_hash`, `peer_id`, `offer_id` and `to_peer_id` are 20-character "binary" strings (code
 * points 0–255), as WebTorrent sends them; they are used as they are, as map keys.
 *
 * @module
 */

/**
 * Announce events, as numbers on the worker channels. `Rejoin` is a cluster's own: a socket
 * worker tells a swarm's new owner of a peer it holds, and nobody is answered
 * (`connections.ts`'s `rejoin`).
 */
export const WsEvent = {
  None: 0,
  Started: 1,
  Stopped: 2,
  Completed: 3,
  Paused: 4,
  Rejoin: 5,
} as const;

const EVENTS: Record<string, number> = {
  started: WsEvent.Started,
  stopped: WsEvent.Stopped,
  completed: WsEvent.Completed,
  update: WsEvent.None,
  paused: WsEvent.Paused,
  "": WsEvent.None,
};

/** An offer to forward: its id and the SDP object as the client sent it. */
export interface Offer {
  /** 20-character offer id. */
  offerId: string;
  /** `{type: "offer", sdp}`. */
  offer: { type: string; sdp: string };
}

/** A validated announce (without an answer). */
export interface AnnounceRequest {
  /** Discriminator. */
  kind: "announce";
  /** 20-character info hash. */
  infoHash: string;
  /** 20-character peer id. */
  peerId: string;
  /** One of `WsEvent`. */
  event: number;
  /** `left === 0`: the peer seeds. */
  seeder: boolean;
  /** `uploaded`, for a private tracker's accounting (0 when absent or negative). */
  uploaded: number;
  /** `downloaded` (as `uploaded`). */
  downloaded: number;
  /** Offers to forward, at most `max_offers`. */
  offers: Offer[];
}

/** A validated answer to an offer. */
export interface AnswerRequest {
  /** Discriminator. */
  kind: "answer";
  /** 20-character info hash. */
  infoHash: string;
  /** The answering peer. */
  peerId: string;
  /** The peer that sent the offer. */
  toPeerId: string;
  /** The offer being answered. */
  offerId: string;
  /** `{type: "answer", sdp}`. */
  answer: { type: string; sdp: string };
}

/** A validated scrape. */
export interface ScrapeRequest {
  /** Discriminator. */
  kind: "scrape";
  /** Info hashes, at most `max_scrape_torrents`. */
  infoHashes: string[];
}

/** A request shoal refuses; the connection stays open. */
export interface RequestError {
  /** Discriminator. */
  kind: "error";
  /** The `failure reason`. */
  reason: string;
  /** The action, when it was readable. */
  action?: "announce" | "scrape";
  /** The info hash, when it was valid. */
  infoHash?: string;
}

/** What one incoming text message is. */
export type InMessage = AnnounceRequest | AnswerRequest | ScrapeRequest | RequestError;

/** Limits the validation applies. */
export interface ProtocolLimits {
  /** Offers used per announce; more are ignored. */
  maxOffers: number;
  /** Info hashes used per scrape; more are ignored. */
  maxScrapeTorrents: number;
}

/** True for a string of exactly 20 code points, each 0–255. */
export function isBinary20(v: unknown): v is string {
  if (typeof v !== "string" || v.length !== 20) return false;
  for (let i = 0; i < 20; i++) if (v.charCodeAt(i) > 255) return false;
  return true;
}

function sdp(v: unknown, type: string): { type: string; sdp: string } | null {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  if (o.type !== type || typeof o.sdp !== "string") return null;
  return { type, sdp: o.sdp };
}

function fail(reason: string, action?: "announce" | "scrape", infoHash?: string): RequestError {
  return { kind: "error", reason, action, infoHash };
}

/**
 * Validates one parsed message. Every field is checked; anything wrong gives a
 * `RequestError` with the reason to send back.
 */
export function validate(msg: unknown, limits: ProtocolLimits): InMessage {
  if (typeof msg !== "object" || msg === null || Array.isArray(msg)) {
    return fail("invalid message: expected a JSON object");
  }
  const m = msg as Record<string, unknown>;
  if (m.action === "scrape") return validateScrape(m, limits);
  if (m.action !== "announce") return fail("invalid action");

  if (!isBinary20(m.info_hash)) return fail("invalid info_hash", "announce");
  const infoHash = m.info_hash;
  if (!isBinary20(m.peer_id)) return fail("invalid peer_id", "announce", infoHash);
  const peerId = m.peer_id;

  // Optional fields set to null count as absent, as bittorrent-tracker and aquatic_ws take them
  // (some clients send `offers: null`, `event: null`, `answer: null`).
  if (m.answer != null) {
    const answer = sdp(m.answer, "answer");
    if (answer === null) return fail("invalid answer", "announce", infoHash);
    if (!isBinary20(m.to_peer_id)) return fail("invalid to_peer_id", "announce", infoHash);
    if (!isBinary20(m.offer_id)) return fail("invalid offer_id", "announce", infoHash);
    return {
      kind: "answer",
      infoHash,
      peerId,
      toPeerId: m.to_peer_id,
      offerId: m.offer_id,
      answer,
    };
  }

  let event: number = WsEvent.None;
  if (m.event != null) {
    if (typeof m.event !== "string" || !Object.hasOwn(EVENTS, m.event)) {
      return fail("invalid event", "announce", infoHash);
    }
    event = EVENTS[m.event];
  }
  // WebTorrent sends `left: null` while it does not know the size yet (a magnet link).
  if (m.left != null && (typeof m.left !== "number" || !(m.left >= 0))) {
    return fail("invalid left", "announce", infoHash);
  }
  for (const k of ["numwant", "uploaded", "downloaded"]) {
    if (m[k] != null && (typeof m[k] !== "number" || !Number.isFinite(m[k]))) {
      return fail(`invalid ${k}`, "announce", infoHash);
    }
  }
  const offers: Offer[] = [];
  if (m.offers != null) {
    if (!Array.isArray(m.offers)) return fail("invalid offers", "announce", infoHash);
    const n = Math.min(m.offers.length, limits.maxOffers);
    for (let i = 0; i < n; i++) {
      const o = m.offers[i] as Record<string, unknown> | null;
      if (typeof o !== "object" || o === null || !isBinary20(o.offer_id)) {
        return fail("invalid offer_id", "announce", infoHash);
      }
      const offer = sdp(o.offer, "offer");
      if (offer === null) return fail("invalid offer", "announce", infoHash);
      offers.push({ offerId: o.offer_id, offer });
    }
  }
  const count = (v: unknown) => typeof v === "number" && v > 0 ? Math.floor(v) : 0;
  return {
    kind: "announce",
    infoHash,
    peerId,
    event,
    seeder: m.left === 0,
    uploaded: count(m.uploaded),
    downloaded: count(m.downloaded),
    offers,
  };
}

function validateScrape(m: Record<string, unknown>, limits: ProtocolLimits): InMessage {
  const h = m.info_hash;
  if (h == null) return fail("full scrapes are not allowed", "scrape");
  const list = typeof h === "string" ? [h] : h;
  if (!Array.isArray(list) || list.length === 0) return fail("invalid info_hash", "scrape");
  const infoHashes: string[] = [];
  const n = Math.min(list.length, limits.maxScrapeTorrents);
  for (let i = 0; i < n; i++) {
    if (!isBinary20(list[i])) return fail("invalid info_hash", "scrape");
    infoHashes.push(list[i]);
  }
  return { kind: "scrape", infoHashes };
}

/** The reply to an announcer. */
export function announceReply(
  infoHash: string,
  interval: number,
  complete: number,
  incomplete: number,
): string {
  return JSON.stringify({
    action: "announce",
    info_hash: infoHash,
    interval,
    complete,
    incomplete,
  });
}

/**
 * Makes the message that forwards an offer or an answer (`sdp`, as `{type, sdp}`) of peer
 * `fromPeerId`, for offer `offerId` in torrent `infoHash`.
 */
export type ForwardMessage = (
  infoHash: string,
  fromPeerId: string,
  offerId: string,
  sdp: unknown,
) => string;

/** The `ForwardMessage` that carries its `sdp` under `key`. */
function forwardMessage(key: "offer" | "answer"): ForwardMessage {
  return (infoHash, fromPeerId, offerId, sdp) =>
    JSON.stringify({
      action: "announce",
      info_hash: infoHash,
      peer_id: fromPeerId,
      offer_id: offerId,
      [key]: sdp,
    });
}

/** An offer forwarded to another peer. */
export const offerMessage: ForwardMessage = forwardMessage("offer");

/** An answer forwarded to the peer that made the offer. */
export const answerMessage: ForwardMessage = forwardMessage("answer");

/** A scrape reply; `files` maps info hashes to their counts. */
export function scrapeReply(
  files: Record<string, { complete: number; incomplete: number; downloaded: number }>,
): string {
  return JSON.stringify({ action: "scrape", files });
}

/** A failure reply. */
export function failureMessage(reason: string, action?: string, infoHash?: string): string {
  const o: Record<string, string> = { "failure reason": reason };
  if (action !== undefined) o.action = action;
  if (infoHash !== undefined) o.info_hash = infoHash;
  return JSON.stringify(o);
}
