// Strict UTF-8 decoding. Every line (JSONL, CSV), array element (JSON) or string value (Parquet) is
// decoded with a fatal decoder, so bad bytes become a rejected row with the byte that is wrong instead
// of silently turning into U+FFFD or crashing the import.

const fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lenient = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

export type Decoded = { ok: true; text: string } | { ok: false; reason: string };

/** Decodes `bytes`; on failure the reason names the first bad byte and its offset within `what`. */
export function decodeUtf8(bytes: Uint8Array, what = 'line'): Decoded {
  try {
    return { ok: true, text: fatal.decode(bytes) };
  } catch {
    const at = firstInvalidUtf8(bytes);
    const hex = at < bytes.length ? `0x${bytes[at]!.toString(16).toUpperCase().padStart(2, '0')}` : 'a truncated sequence';
    return { ok: false, reason: `invalid UTF-8 (${hex} at byte ${at} of the ${what}); re-save the file as UTF-8` };
  }
}

/** Decodes with U+FFFD for bad bytes, for text that is only kept to find record boundaries. */
export const decodeLenient = (bytes: Uint8Array) => lenient.decode(bytes);

/**
 * Offset of the first byte that starts an ill-formed UTF-8 sequence (Unicode 15, table 3-7), or
 * bytes.length if the whole buffer is well formed.
 */
export function firstInvalidUtf8(b: Uint8Array): number {
  const n = b.length;
  let i = 0;
  const cont = (j: number, lo = 0x80, hi = 0xbf) => j < n && b[j]! >= lo && b[j]! <= hi;
  while (i < n) {
    const c = b[i]!;
    if (c < 0x80) { i++; continue; }
    if (c >= 0xc2 && c <= 0xdf) { if (!cont(i + 1)) return i; i += 2; continue; }
    if (c === 0xe0) { if (!cont(i + 1, 0xa0) || !cont(i + 2)) return i; i += 3; continue; }
    if ((c >= 0xe1 && c <= 0xec) || c === 0xee || c === 0xef) { if (!cont(i + 1) || !cont(i + 2)) return i; i += 3; continue; }
    if (c === 0xed) { if (!cont(i + 1, 0x80, 0x9f) || !cont(i + 2)) return i; i += 3; continue; }
    if (c === 0xf0) { if (!cont(i + 1, 0x90) || !cont(i + 2) || !cont(i + 3)) return i; i += 4; continue; }
    if (c >= 0xf1 && c <= 0xf3) { if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return i; i += 4; continue; }
    if (c === 0xf4) { if (!cont(i + 1, 0x80, 0x8f) || !cont(i + 2) || !cont(i + 3)) return i; i += 4; continue; }
    return i;
  }
  return n;
}

/** A string value that was not valid UTF-8 (Parquet cells); the schemas reject the row with `reason`. */
export class InvalidText {
  constructor(readonly reason: string) {}
}
