/**
 * Whether browser tests can run here. Kept apart from the driver so that checking costs no
 * playwright-core import (which needs `--allow-all`).
 *
 * @module
 */

/** The Chromium binary the tests drive (Debian's package). */
export const CHROMIUM = "/usr/bin/chromium";

/** Why browser tests cannot run here, or null when they can. */
export async function browserMissing(): Promise<string | null> {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    return `${CHROMIUM} is missing (apt-get install chromium; .ci/run does)`;
  }
  return null;
}
