#!/usr/bin/env python3
"""png_stats.py PNG — size and colour statistics of a screenshot, standard library only.

Prints one line: "WIDTHxHEIGHT colours=N inked=F", where colours counts distinct
pixel values and inked is the fraction of pixels that differ from the most common
one (the page background). A blank or failed render has one or two colours and
inked near 0. Exits 1 when the file is not an 8-bit RGB/RGBA/grey PNG.
"""
import struct
import sys
import zlib
from collections import Counter


def chunks(data):
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        yield kind, data[pos + 8:pos + 8 + length]
        pos += 12 + length


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def unfilter(raw, width, height, bpp):
    stride = width * bpp
    prev = bytearray(stride)
    rows = []
    pos = 0
    for _ in range(height):
        kind = raw[pos]
        line = bytearray(raw[pos + 1:pos + 1 + stride])
        pos += 1 + stride
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:
            line = bytearray((x + y) & 0xFF for x, y in zip(line, prev))
        elif kind == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                up_left = prev[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + paeth(left, prev[i], up_left)) & 0xFF
        elif kind != 0:
            raise ValueError("bad filter %d" % kind)
        rows.append(bytes(line))
        prev = line
    return rows


def main(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        print("not a PNG")
        return 1
    idat = b""
    for kind, body in chunks(data):
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
    bpp = {0: 1, 2: 3, 4: 2, 6: 4}.get(ctype)
    if depth != 8 or interlace or not bpp:
        print("unsupported PNG (depth %d, colour type %d, interlace %d)" % (depth, ctype, interlace))
        return 1
    rows = unfilter(zlib.decompress(idat), width, height, bpp)
    counts = Counter()
    for row in rows:
        counts.update(row[i:i + bpp] for i in range(0, len(row), bpp))
    total = width * height
    inked = 1.0 - counts.most_common(1)[0][1] / total
    print("%dx%d colours=%d inked=%.4f" % (width, height, len(counts), inked))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
