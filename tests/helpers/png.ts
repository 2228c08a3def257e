/**
 * A small PNG decoder for checking screenshots: 8-bit RGB or RGBA, not interlaced (what
 * Chromium writes). zlib is inflated with `DecompressionStream("deflate")`; CRCs are checked.
 *
 * @module
 */

/** Decoded pixels, row by row, `channels` bytes each. */
export interface Image {
  width: number;
  height: number;
  channels: 3 | 4;
  data: Uint8Array;
}

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32 of `bytes`, as PNG chunks carry it. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Decodes `png`; throws on anything it does not support or a damaged file. */
export async function decodePng(png: Uint8Array): Promise<Image> {
  if (!SIGNATURE.every((b, i) => png[i] === b)) throw new Error("not a PNG");
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let width = 0, height = 0, channels: 3 | 4 = 4;
  const idat: Uint8Array<ArrayBuffer>[] = [];
  for (let at = 8; at + 12 <= png.length;) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...png.subarray(at + 4, at + 8));
    const body = png.subarray(at + 8, at + 8 + length);
    if (crc32(png.subarray(at + 4, at + 8 + length)) !== view.getUint32(at + 8 + length)) {
      throw new Error(`bad CRC in ${type}`);
    }
    if (type === "IHDR") {
      width = view.getUint32(at + 8);
      height = view.getUint32(at + 12);
      const [depth, colour, , , interlace] = body.subarray(8, 13);
      if (depth !== 8 || (colour !== 2 && colour !== 6) || interlace !== 0) {
        throw new Error(`unsupported PNG: depth ${depth}, colour type ${colour}`);
      }
      channels = colour === 2 ? 3 : 4;
    } else if (type === "IDAT") idat.push(body.slice());
    else if (type === "IEND") break;
    at += 12 + length;
  }
  const inflated = new Uint8Array(
    await new Response(new Blob(idat).stream().pipeThrough(new DecompressionStream("deflate")))
      .arrayBuffer(),
  );
  const stride = width * channels;
  if (inflated.length !== height * (stride + 1)) throw new Error("truncated image data");
  const data = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = inflated[y * (stride + 1)];
    const src = inflated.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = y * stride, up = row - stride;
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? data[row + i - channels] : 0;
      const b = y > 0 ? data[up + i] : 0;
      const c = y > 0 && i >= channels ? data[up + i - channels] : 0;
      let p: number;
      switch (filter) {
        case 0:
          p = 0;
          break;
        case 1:
          p = a;
          break;
        case 2:
          p = b;
          break;
        case 3:
          p = (a + b) >> 1;
          break;
        case 4: {
          const q = a + b - c, pa = Math.abs(q - a), pb = Math.abs(q - b), pc = Math.abs(q - c);
          p = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default:
          throw new Error(`bad filter ${filter} in row ${y}`);
      }
      data[row + i] = (src[i] + p) & 0xff;
    }
  }
  return { width, height, channels, data };
}

/** Pixels within `tolerance` (per channel) of `rgb`, and opaque. */
export function countColour(img: Image, rgb: [number, number, number], tolerance = 16): number {
  let n = 0;
  for (let i = 0; i < img.data.length; i += img.channels) {
    if (img.channels === 4 && img.data[i + 3] < 250) continue;
    if (
      Math.abs(img.data[i] - rgb[0]) <= tolerance &&
      Math.abs(img.data[i + 1] - rgb[1]) <= tolerance &&
      Math.abs(img.data[i + 2] - rgb[2]) <= tolerance
    ) n++;
  }
  return n;
}

/** `rgb(r, g, b)` (a computed CSS colour) as numbers. */
export function parseRgb(css: string): [number, number, number] {
  const m = css.match(/^rgba?\((\d+),\s*(\d+),\s*(\d+)/);
  if (!m) throw new Error(`not an rgb() colour: ${css}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}
