#!/usr/bin/env python3
"""Generates nfc-tables.bin.gz, the NFC data that NfcNormalizer.cs reads.

Provenance: python3's `unicodedata` module (CPython 3.11, Unicode 14.0.0). Hugging Face tokenizers
normalizes with the `unicode-normalization-alignments` crate, whose tables are older than Unicode 14: the
code points in HF_UNKNOWN below were found by probing HF tokenizers 0.22.2 (through Tokenizers.DotNet 1.4.1)
with every code point that has a canonical decomposition or a non-zero combining class, and with the
canonical decomposition of every composite (see NfcProbeTests / the differential test). HF treats them as
having no decomposition and combining class 0, so we leave them out too.

Format (little-endian, then gzip):
  "NFC1"
  int32 n, then n x (int32 code point, int32 combining class)          -- non-zero classes only
  int32 n, then n x (int32 code point, int32 first, int32 second|-1)   -- one-level canonical decompositions
  int32 n, then n x (int32 first, int32 second, int32 composite)       -- primary composites (what NFC recomposes)
Hangul syllables are algorithmic and not listed.

Run: python3 generate_nfc_tables.py  (writes nfc-tables.bin.gz next to this script)
"""
import gzip, os, struct, sys, unicodedata

# Code points whose NFC data HF's normalizer does not have (newer than its Unicode version), found by
# probing HF tokenizers 0.22.2: combining marks added in Unicode 10-14 (HF gives them class 0) and the
# composites whose decompositions came after its version (U+11938 = U+11935 U+11930 among them).
HF_UNKNOWN = {
    0x7FD, 0x898, 0x899, 0x89A, 0x89B, 0x89C, 0x89D, 0x89E, 0x89F, 0x8CA, 0x8CB, 0x8CC, 0x8CD, 0x8CE,
    0x8CF, 0x8D0, 0x8D1, 0x8D2, 0x8D3, 0x9FE, 0xC3C, 0xD3B, 0xD3C, 0xEBA, 0x1715, 0x1ABF, 0x1AC0,
    0x1AC1, 0x1AC2, 0x1AC3, 0x1AC4, 0x1AC5, 0x1AC6, 0x1AC7, 0x1AC8, 0x1AC9, 0x1ACA, 0x1ACB, 0x1ACC,
    0x1ACD, 0x1ACE, 0x1DF6, 0x1DF7, 0x1DF8, 0x1DF9, 0x1DFA, 0xA82C, 0x10D24, 0x10D25, 0x10D26, 0x10D27,
    0x10EAB, 0x10EAC, 0x10F46, 0x10F47, 0x10F48, 0x10F49, 0x10F4A, 0x10F4B, 0x10F4C, 0x10F4D, 0x10F4E,
    0x10F4F, 0x10F50, 0x10F82, 0x10F83, 0x10F84, 0x10F85, 0x11070, 0x1133B, 0x1145E, 0x11839, 0x1183A,
    0x11938, 0x1193D, 0x1193E, 0x11943, 0x119E0, 0x11A34, 0x11A47, 0x11A99, 0x11D42, 0x11D44, 0x11D45,
    0x11D97, 0x16FF0, 0x16FF1, 0x1E130, 0x1E131, 0x1E132, 0x1E133, 0x1E134, 0x1E135, 0x1E136, 0x1E2AE,
    0x1E2EC, 0x1E2ED, 0x1E2EE, 0x1E2EF
}

def is_hangul_syllable(cp):
    return 0xAC00 <= cp <= 0xD7A3

def main():
    ccc, decomp, comp = [], [], []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF or cp in HF_UNKNOWN or is_hangul_syllable(cp):
            continue
        c = chr(cp)
        k = unicodedata.combining(c)
        if k:
            ccc.append((cp, k))
        d = unicodedata.decomposition(c)
        if d and not d.startswith('<'):
            parts = [int(x, 16) for x in d.split()]
            assert 1 <= len(parts) <= 2, (hex(cp), d)
            decomp.append((cp, parts[0], parts[1] if len(parts) == 2 else -1))
            # a primary composite is a two-part canonical decomposition that NFC gives back unchanged
            if len(parts) == 2 and unicodedata.normalize('NFC', c) == c:
                comp.append((parts[0], parts[1], cp))
    out = bytearray(b'NFC1')
    out += struct.pack('<i', len(ccc))
    for cp, k in ccc: out += struct.pack('<ii', cp, k)
    out += struct.pack('<i', len(decomp))
    for cp, a, b in decomp: out += struct.pack('<iii', cp, a, b)
    out += struct.pack('<i', len(comp))
    for a, b, cp in comp: out += struct.pack('<iii', a, b, cp)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'nfc-tables.bin.gz')
    with open(path, 'wb') as f:
        f.write(gzip.compress(bytes(out), compresslevel=9, mtime=0))
    print(f'{len(ccc)} combining classes, {len(decomp)} decompositions, {len(comp)} composites -> {path}', file=sys.stderr)

if __name__ == '__main__':
    main()
