// A PNG decoder for the pictures the tests take (Chromium's screenshots): the chunks, IHDR, the
// IDAT stream inflated with node's zlib and the five scanline filters undone, into RGBA pixels.
// 8-bit greyscale, RGB, grey+alpha and RGBA, not interlaced; anything else is refused.
import { inflateSync } from "zlib";

export interface Image {
    width: number;
    height: number;
    /** RGBA, 4 bytes per pixel, row after row. */
    rgba: Buffer;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Channels per pixel of each 8-bit colour type. */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };

function paeth(a: number, b: number, c: number): number {
    const p = a + b - c;
    const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Undoes one scanline's filter into `out` (the row's bytes), from the row above (`prior`, zeros for the first). */
function unfilter(filter: number, line: Buffer, prior: Buffer, out: Buffer, channels: number, row: number): void {
    for (let i = 0; i < line.length; i++) {
        const a = i >= channels ? out[i - channels]! : 0;
        const b = prior[i]!;
        let add: number;
        switch (filter) {
            case 0: add = 0; break;
            case 1: add = a; break;
            case 2: add = b; break;
            case 3: add = (a + b) >> 1; break;
            case 4: add = paeth(a, b, i >= channels ? prior[i - channels]! : 0); break;
            default: throw new Error(`PNG row ${row}: unknown filter ${filter}`);
        }
        out[i] = (line[i]! + add) & 0xff;
    }
}

/** The pixels of a PNG file. */
export function decodePng(file: Buffer): Image {
    if (file.length < 8 || !file.subarray(0, 8).equals(SIGNATURE)) throw new Error("not a PNG (no signature)");
    let width = 0, height = 0, colourType = -1;
    const idat: Buffer[] = [];
    for (let at = 8; at + 8 <= file.length;) {
        const length = file.readUInt32BE(at);
        const type = file.toString("latin1", at + 4, at + 8);
        const data = file.subarray(at + 8, at + 8 + length);
        if (type === "IHDR") {
            width = data.readUInt32BE(0);
            height = data.readUInt32BE(4);
            const [bitDepth, ct, , , interlace] = [data[8]!, data[9]!, data[10]!, data[11]!, data[12]!];
            if (bitDepth !== 8 || CHANNELS[ct] === undefined || interlace !== 0) throw new Error(`unsupported PNG: bit depth ${bitDepth}, colour type ${ct}, interlace ${interlace}`);
            colourType = ct;
        } else if (type === "IDAT") {
            idat.push(data);
        } else if (type === "IEND") {
            break;
        }
        at += 12 + length;
    }
    if (colourType < 0) throw new Error("PNG without IHDR");
    const channels = CHANNELS[colourType]!;
    const stride = width * channels;
    const raw = inflateSync(Buffer.concat(idat));
    if (raw.length < height * (stride + 1)) throw new Error(`PNG data too short: ${raw.length} bytes for ${width}x${height}`);
    const pixels = Buffer.alloc(height * stride);
    let prior = Buffer.alloc(stride);
    for (let y = 0; y < height; y++) {
        const out = pixels.subarray(y * stride, (y + 1) * stride);
        unfilter(raw[y * (stride + 1)]!, raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)), prior, out, channels, y);
        prior = out;
    }
    const rgba = Buffer.alloc(width * height * 4);
    for (let p = 0, s = 0; p < rgba.length; p += 4, s += channels) {
        const grey = channels < 3;
        rgba[p] = pixels[s]!;
        rgba[p + 1] = pixels[grey ? s : s + 1]!;
        rgba[p + 2] = pixels[grey ? s : s + 2]!;
        rgba[p + 3] = channels === 4 ? pixels[s + 3]! : channels === 2 ? pixels[s + 1]! : 255;
    }
    return { width, height, rgba };
}

/** How many pixels have each colour, as "#rrggbb" (alpha ignored), most first. */
export function colourCounts(image: Image): Map<string, number> {
    const counts = new Map<number, number>();
    for (let p = 0; p < image.width * image.height; p++) {
        const rgb = image.rgba.readUInt32BE(p * 4) >>> 8;
        counts.set(rgb, (counts.get(rgb) ?? 0) + 1);
    }
    return new Map([...counts].sort((x, y) => y[1] - x[1]).map(([rgb, n]) => [`#${rgb.toString(16).padStart(6, "0")}`, n]));
}
