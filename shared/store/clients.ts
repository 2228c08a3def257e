/**
 * BitTorrent client names from peer ids (Azureus style `-XX1234-`), for the statistics page.
 *
 * @module
 */

const NAMES: Record<string, string> = {
  AZ: "Vuze",
  BC: "BitComet",
  BI: "BiglyBT",
  BT: "BitTorrent",
  DE: "Deluge",
  FD: "Free Download Manager",
  KT: "KTorrent",
  LT: "libtorrent (rakshasa)",
  lt: "libtorrent (Rasterbar)",
  PI: "PicoTorrent",
  qB: "qBittorrent",
  SB: "shoal bench",
  SD: "Thunder",
  TR: "Transmission",
  TS: "TorrentStorm",
  UT: "µTorrent",
  UW: "µTorrent Web",
  WD: "WebTorrent Desktop",
  WW: "WebTorrent",
  XL: "Xunlei",
};

/** The client of a peer id given as its first 8 character codes (`-XX1234-` style), or "other". */
export function clientName(prefix: string): string {
  if (prefix.length < 8 || prefix[0] !== "-" || prefix[7] !== "-") return "other";
  const code = prefix.slice(1, 3), version = prefix.slice(3, 7);
  if (!/^[A-Za-z]{2}$/.test(code) || !/^[0-9A-Za-z.]{4}$/.test(version)) return "other";
  return `${NAMES[code] ?? code} ${version}`;
}

/** Adds `n` to the count of `key` in `counts`. */
export function tally(counts: Map<string, number>, key: string, n = 1): void {
  counts.set(key, (counts.get(key) ?? 0) + n);
}
