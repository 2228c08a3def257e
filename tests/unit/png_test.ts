import assert from "assert";
import { countColour, crc32, decodePng, parseRgb } from "../helpers/png.ts";

/** A PNG of `pixels`, row `y` filtered with filter `y % 5` (all five kinds in one image). */
async function encode(w: number, h: number, channels: 3 | 4, pixels: Uint8Array) {
  const stride = w * channels, raw = new Uint8Array(h * (stride + 1));
  const at = (y: number, i: number) => (y < 0 || i < 0 ? 0 : pixels[y * stride + i]);
  for (let y = 0; y < h; y++) {
    const f = y % 5;
    raw[y * (stride + 1)] = f;
    for (let i = 0; i < stride; i++) {
      const a = at(y, i - channels), b = at(y - 1, i), c = at(y - 1, i - channels);
      const q = a + b - c, pa = Math.abs(q - a), pb = Math.abs(q - b), pc = Math.abs(q - c);
      const p = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][f];
      raw[y * (stride + 1) + 1 + i] = (pixels[y * stride + i] - p) & 0xff;
    }
  }
  const z = new Uint8Array(
    await new Response(new Blob([raw]).stream().pipeThrough(new CompressionStream("deflate")))
      .arrayBuffer(),
  );
  const chunk = (type: string, body: Uint8Array) => {
    const out = new Uint8Array(12 + body.length), v = new DataView(out.buffer);
    v.setUint32(0, body.length);
    out.set(new TextEncoder().encode(type), 4);
    out.set(body, 8);
    v.setUint32(8 + body.length, crc32(out.subarray(4, 8 + body.length)));
    return out;
  };
  const ihdr = new Uint8Array(13), v = new DataView(ihdr.buffer);
  v.setUint32(0, w);
  v.setUint32(4, h);
  ihdr.set([8, channels === 3 ? 2 : 6, 0, 0, 0], 8);
  // Two IDAT chunks, as encoders may split the stream anywhere.
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", z.subarray(0, 7)),
    chunk("IDAT", z.subarray(7)),
    chunk("IEND", new Uint8Array()),
  ];
  return new Uint8Array(await new Blob(parts).arrayBuffer());
}

Deno.test("png: decodes RGB and RGBA images with every filter type", async () => {
  for (const channels of [3, 4] as const) {
    const w = 7, h = 11, pixels = new Uint8Array(w * h * channels);
    for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 37 + (i >> 3) * 101) & 0xff;
    if (channels === 4) { for (let i = 3; i < pixels.length; i += 4) pixels[i] = 255; }
    const img = await decodePng(await encode(w, h, channels, pixels));
    assert.equal(img.width, w);
    assert.equal(img.height, h);
    assert.equal(img.channels, channels);
    assert.deepEqual(img.data, pixels);
  }
});

Deno.test("png: counts pixels of a colour; refuses damaged files", async () => {
  const w = 4, h = 3, pixels = new Uint8Array(w * h * 4).fill(255); // white
  for (const i of [0, 5, 6]) pixels.set([37, 99, 235, 255], 4 * i); // three #2563eb
  pixels.set([40, 96, 230, 255], 4 * 7); // near it
  pixels.set([37, 99, 235, 100], 4 * 8); // translucent
  const png = await encode(w, h, 4, pixels);
  const img = await decodePng(png);
  assert.deepEqual(parseRgb("rgb(37, 99, 235)"), [37, 99, 235]);
  assert.equal(countColour(img, [37, 99, 235], 0), 3);
  assert.equal(countColour(img, [37, 99, 235], 8), 4);
  assert.equal(countColour(img, [255, 255, 255], 0), 7);
  const bad = png.slice();
  bad[40] ^= 1;
  await assert.rejects(decodePng(bad), /bad CRC|truncated|incorrect|invalid/i);
  await assert.rejects(decodePng(new Uint8Array(16)), /not a PNG/);
});
