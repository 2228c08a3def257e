/**
 * A database URL as logs and errors may show it: no password, no query (where `password=`
 * may be). Its own module, so that naming the database needs no driver loaded.
 *
 * @module
 */

/**
 * `url` without its password or query parameters (where `password=` may be), for messages:
 * `postgres://user:secret@host/db?sslmode=require` reads `postgres://user@host/db`.
 */
export function redactUrl(url: string): string {
  const scheme = url.indexOf("://");
  const start = scheme < 0 ? 0 : scheme + 3;
  const rest = url.slice(start).replace(/[?#].*$/s, "");
  const at = rest.lastIndexOf("@");
  const user = at < 0 ? "" : rest.slice(0, at).split(":")[0];
  return url.slice(0, start) + (user ? `${user}@` : "") + rest.slice(at + 1);
}
