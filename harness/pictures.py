"""Pictures: PPM in memory, PNG on disk (netpbm), and comparisons.

An image is (width, height, rgb bytes).
"""

import subprocess
from typing import Tuple

Image = Tuple[int, int, bytes]


def read_ppm(data: bytes) -> Image:
    """(width, height, rgb bytes) of a binary PPM (P6) image."""
    fields = []
    pos = 0
    while len(fields) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos)
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    if fields[0] != b"P6":
        raise ValueError(f"not a binary PPM: {fields[0]!r}")
    w, h, maxval = int(fields[1]), int(fields[2]), int(fields[3])
    if maxval < 256:
        return w, h, data[pos + 1:pos + 1 + w * h * 3]
    # 16 bits a sample, most significant byte first: keep that byte
    return w, h, data[pos + 1:pos + 1 + w * h * 6:2]


def to_ppm(img: Image) -> bytes:
    w, h, px = img
    return b"P6\n%d %d\n255\n" % (w, h) + px


def save_png(img: Image, path: str):
    with open(path, "wb") as f:
        subprocess.run(["pnmtopng"], input=to_ppm(img), stdout=f, check=True,
                       stderr=subprocess.DEVNULL)


def read_png(path: str) -> Image:
    pnm = subprocess.run(["pngtopnm", path], check=True,
                         capture_output=True).stdout
    # pnmtopng stores a picture with few colours as grey or bitmap
    ppm = subprocess.run(["ppmtoppm"], input=pnm, check=True,
                         capture_output=True).stdout
    return read_ppm(ppm)


def crop(img: Image, x: int, y: int, w: int, h: int) -> Image:
    iw, ih, px = img
    w, h = min(w, iw - x), min(h, ih - y)
    rows = [px[((y + r) * iw + x) * 3:((y + r) * iw + x + w) * 3]
            for r in range(h)]
    return w, h, b"".join(rows)


def difference(a: Image, b: Image, rect=None, inside=True) -> float:
    """Fraction of pixels that differ between two pictures: all of them,
    or those inside (or outside) rect = (x, y, w, h)."""
    (wa, ha, pa), (wb, hb, pb) = a, b
    if (wa, ha) != (wb, hb):
        return 1.0
    n = diff = 0
    for y in range(ha):
        for x in range(wa):
            if rect:
                rx, ry, rw, rh = rect
                within = rx <= x < rx + rw and ry <= y < ry + rh
                if within != inside:
                    continue
            i = (y * wa + x) * 3
            n += 1
            diff += pa[i:i + 3] != pb[i:i + 3]
    return diff / n if n else 0.0


def black(img: Image) -> float:
    """Fraction of black pixels (sampled)."""
    _, _, px = img
    n = len(px) // 3
    step = 7
    dark = sum(px[i:i + 3] == b"\0\0\0" for i in range(0, len(px), 3 * step))
    return dark / max(1, (n + step - 1) // step)


def texture_panel(img: Image):
    """Where guest/s3check.c shows its texture: (x, y, w, h)."""
    return (img[0] - 4 - 128, 4, 128, 128)


def distinct_colours(img: Image) -> int:
    _, _, px = img
    return len({px[i:i + 3] for i in range(0, len(px), 3 * 97)})


def pattern(k: int, w: int, h: int) -> Image:
    """Test pattern K as guest/s3check.c draws it (pattern_pixel)."""
    bars = [0xffffff, 0xffff00, 0x00ffff, 0x00ff00,
            0xff00ff, 0xff0000, 0x0000ff, 0x000000]
    out = bytearray(w * h * 3)
    for y in range(h):
        for x in range(w):
            v = x * 255 // w
            if x < 4 or y < 4 or x >= w - 4 or y >= h - 4:
                p = 0xffffff
            elif y < h // 2:
                p = bars[(x * 8 // w + 3 * k) % 8]
            elif k % 2:
                p = (255 - v) << 16 | (y * 255 // h) << 8 | v
            else:
                p = v << 16 | (255 - v) << 8 | y * 255 // h
            i = (y * w + x) * 3
            out[i:i + 3] = bytes(((p >> 16) & 255, (p >> 8) & 255, p & 255))
    return w, h, bytes(out)


def side_by_side(images, gap: int = 16) -> Image:
    """One picture of several, left to right, on a dark grey ground."""
    h = max(i[1] for i in images)
    w = sum(i[0] for i in images) + gap * (len(images) - 1)
    rows = []
    for y in range(h):
        row = bytearray(b"\x40" * (w * 3))
        x0 = 0
        for iw, ih, px in images:
            if y < ih:
                row[x0 * 3:(x0 + iw) * 3] = px[y * iw * 3:(y + 1) * iw * 3]
            x0 += iw + gap
        rows.append(bytes(row))
    return w, h, b"".join(rows)


def stacked(images, gap: int = 16) -> Image:
    """One picture of several, top to bottom, on a dark grey ground."""
    w = max(i[0] for i in images)
    rows = []
    for n, (iw, ih, px) in enumerate(images):
        if n:
            rows.append(b"\x40" * (w * 3 * gap))
        for y in range(ih):
            rows.append(px[y * iw * 3:(y + 1) * iw * 3] +
                        b"\x40" * ((w - iw) * 3))
    return w, sum(i[1] for i in images) + gap * (len(images) - 1), \
        b"".join(rows)
