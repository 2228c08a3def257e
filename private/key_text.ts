/**
 * The text of private tracking's keys and info hashes as the admin API and announce URLs carry
 * them: what a key may look like, how a fresh one is made, and how one is shown in logs.
 *
 * @module
 */

const KEY_RE = /^[A-Za-z0-9_-]{16,64}$/;
const INFO_HASH_RE = /^[0-9a-fA-F]{40}$/;

/**
 * Whether `s` is a well-formed key: 16 to 64 characters of `A–Z a–z 0–9 _ -`, so it fits in a
 * URL path segment unescaped and is long enough not to be guessed.
 */
export function isKeyText(s: string): boolean {
  return KEY_RE.test(s);
}

/** A fresh key: 32 characters of URL-safe base64 from 24 random bytes (192 bits). */
export function newKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  // 24 bytes are a whole number of 3-byte groups, so there is no `=` padding to strip.
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
}

/** A key as logs show it: its first 4 characters and `…`, never the whole key. */
export function maskKey(key: string): string {
  return `${key.slice(0, 4)}…`;
}

/** Whether `s` is an info hash as 40 hex characters, in either case. */
export function isInfoHashHex(s: string): boolean {
  return INFO_HASH_RE.test(s);
}
