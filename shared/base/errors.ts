/**
 * Errors that are the operator's to fix (bad flags, bad config, a port in use): shoal prints
 * their one-line message and exits with status 2, never a stack trace.
 *
 * @module
 */

/** Exit status for operator mistakes. */
export const EXIT_USAGE = 2;

/** An operator mistake with a one-line message that names the problem. */
export class OperatorError extends Error {
  /** Creates the error; `message` must be a single line. */
  constructor(message: string) {
    super(message);
    this.name = "OperatorError";
  }
}

/** Error thrown when a socket cannot be opened; `code` is a short reason such as `EADDRINUSE`. */
export class SocketOpenError extends Error {
  /** Short machine-readable reason, e.g. `EADDRINUSE`, `EAFNOSUPPORT`, `EACCES`. */
  readonly code: string;
  /** Creates the error. */
  constructor(code: string, message: string) {
    super(message);
    this.name = "SocketOpenError";
    this.code = code;
  }
}

/**
 * The short reason (`EADDRINUSE`, `EADDRNOTAVAIL`, `EACCES`, `EAFNOSUPPORT`, else `EUNKNOWN`)
 * of an error from opening a socket, whether a `SocketOpenError` or one of Deno's.
 */
export function socketErrorCode(err: unknown): string {
  if (err instanceof SocketOpenError) return err.code;
  if (err instanceof Deno.errors.AddrInUse) return "EADDRINUSE";
  if (err instanceof Deno.errors.AddrNotAvailable) return "EADDRNOTAVAIL";
  if (err instanceof Deno.errors.PermissionDenied) return "EACCES";
  return /family not supported/i.test(String(err)) ? "EAFNOSUPPORT" : "EUNKNOWN";
}
