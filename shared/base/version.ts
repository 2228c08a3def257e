/**
 * The version of shoal, read from `deno.json` so there is one place to change it.
 *
 * @module
 */

import denoJson from "../../deno.json" with { type: "json" };

/** shoal's version. */
export const VERSION: string = denoJson.version;
