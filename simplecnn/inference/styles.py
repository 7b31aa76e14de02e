"""Digits the way people write and photograph them, in named styles, and pictures that are not one digit.

Every picture is a 280×280 canvas, as the Draw page and most uploads give. A style is a way of writing or
capturing a digit (a marker, a hairline, a soft photo, a small scan enlarged, a closed 4, a typeface family...);
the digit check is fitted on some styles and measured on the others, so fit and evaluation sets differ by style,
not only by seed (docs/digit-check.md). Stroke styles need nothing installed; typeface styles use the fonts
found on the machine (none found: those styles are simply absent).
"""

from __future__ import annotations

import glob
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from io import BytesIO

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

SIZE = 280
Stroke = list[tuple[float, float]]
ENCODINGS = ("light_on_dark", "dark_on_light", "alpha")


def arc(cx: float, cy: float, rx: float, ry: float, start: float = 0.0, turns: float = 1.0, n: int = 40) -> Stroke:
    """Points on an ellipse, clockwise from `start` radians (0 = top)."""
    step = 2 * math.pi * turns / n
    return [(cx + rx * math.sin(start + k * step), cy - ry * math.cos(start + k * step)) for k in range(n + 1)]


_EIGHT = [(0.5 + 0.16 * math.sin(t * math.pi / 10), 0.5 - 0.32 * math.cos(t * math.pi / 20)) for t in range(42)]

# The ways people write each digit (canvas units 0..1).
ALLOGRAPHS: dict[int, dict[str, list[Stroke]]] = {
    0: {
        "oval": [arc(0.5, 0.5, 0.24, 0.34, 0.0, 42 / 40)],
        "round": [arc(0.5, 0.5, 0.3, 0.33, 0.3, 1.03)],
        "narrow": [arc(0.5, 0.5, 0.14, 0.36, -0.2, 1.05)],
        "overlap": [arc(0.5, 0.5, 0.22, 0.34, 0.5, 1.15)],
    },
    1: {
        "stick": [[(0.52, 0.15), (0.5, 0.5), (0.48, 0.85)]],
        "flag": [[(0.36, 0.32), (0.53, 0.15), (0.51, 0.5), (0.5, 0.85)]],
        "flag_base": [[(0.36, 0.3), (0.52, 0.15), (0.51, 0.85)], [(0.36, 0.85), (0.66, 0.85)]],
    },
    2: {
        "curve": [
            [(0.3, 0.3), (0.4, 0.2), (0.55, 0.18), (0.67, 0.25), (0.68, 0.38), (0.6, 0.5), (0.3, 0.8), (0.72, 0.8)]
        ],
        "loop": [
            [(0.3, 0.28), (0.42, 0.18), (0.58, 0.18), (0.68, 0.3), (0.62, 0.48), (0.36, 0.76), (0.3, 0.82)]
            + [(0.36, 0.84), (0.42, 0.76), (0.5, 0.78), (0.74, 0.82)]
        ],
        "round_base": [
            [(0.28, 0.32), (0.34, 0.2), (0.5, 0.15), (0.66, 0.22), (0.7, 0.36), (0.6, 0.55), (0.42, 0.7), (0.3, 0.82)]
            + [(0.5, 0.8), (0.75, 0.84)]
        ],
    },
    3: {
        "round": [
            [(0.3, 0.22), (0.5, 0.17), (0.66, 0.25), (0.64, 0.38), (0.48, 0.47), (0.66, 0.56), (0.68, 0.7)]
            + [(0.52, 0.82), (0.3, 0.78)]
        ],
        "flat_top": [
            [(0.3, 0.18), (0.7, 0.18), (0.46, 0.44), (0.62, 0.5), (0.7, 0.64), (0.62, 0.8), (0.46, 0.84), (0.3, 0.76)]
        ],
        "wide": [arc(0.5, 0.33, 0.18, 0.16, -1.8, 0.65, 20) + arc(0.5, 0.66, 0.2, 0.18, -0.1, 0.7, 20)[1:]],
    },
    4: {
        "open": [[(0.55, 0.15), (0.28, 0.6), (0.75, 0.6)], [(0.62, 0.35), (0.62, 0.85)]],
        "closed": [[(0.6, 0.85), (0.6, 0.15), (0.27, 0.62), (0.78, 0.62)]],
        "open_square": [[(0.32, 0.15), (0.3, 0.56), (0.76, 0.56)], [(0.64, 0.18), (0.64, 0.86)]],
    },
    5: {
        "hook": [
            [(0.68, 0.18), (0.35, 0.18), (0.33, 0.45), (0.5, 0.42), (0.65, 0.5), (0.68, 0.65), (0.58, 0.8)]
            + [(0.42, 0.82), (0.3, 0.76)]
        ],
        "two_stroke": [
            [(0.36, 0.18), (0.34, 0.46), (0.52, 0.42), (0.66, 0.52), (0.68, 0.68), (0.56, 0.82), (0.4, 0.82)]
            + [(0.3, 0.74)],
            [(0.36, 0.18), (0.7, 0.17)],
        ],
    },
    6: {
        "plain": [
            [(0.62, 0.15), (0.45, 0.3), (0.35, 0.5), (0.34, 0.68), (0.45, 0.8), (0.6, 0.78), (0.66, 0.65)]
            + [(0.6, 0.52), (0.45, 0.5), (0.35, 0.6)]
        ],
        "straight": [[(0.6, 0.14), (0.38, 0.55)] + arc(0.5, 0.67, 0.16, 0.16, -1.2, 1.0, 24)],
    },
    7: {
        "plain": [[(0.25, 0.2), (0.5, 0.2), (0.75, 0.2), (0.62, 0.5), (0.5, 0.85)]],
        "crossed": [[(0.25, 0.2), (0.5, 0.2), (0.75, 0.2), (0.62, 0.5), (0.5, 0.85)], [(0.42, 0.52), (0.76, 0.5)]],
        "hooked": [[(0.27, 0.3), (0.27, 0.2), (0.5, 0.19), (0.74, 0.2), (0.58, 0.5), (0.5, 0.85)]],
        "curved": [[(0.26, 0.22), (0.74, 0.2), (0.6, 0.4), (0.52, 0.6), (0.5, 0.86)]],
    },
    8: {
        "one_stroke": [_EIGHT],
        "two_loops": [arc(0.5, 0.31, 0.15, 0.15, math.pi, 1.0, 30), arc(0.5, 0.66, 0.19, 0.19, 0.0, 1.0, 30)],
        "figure": [
            [(0.64, 0.22), (0.5, 0.15), (0.36, 0.22), (0.38, 0.36), (0.62, 0.58), (0.66, 0.74), (0.5, 0.84)]
            + [(0.34, 0.74), (0.38, 0.58), (0.62, 0.38), (0.64, 0.22)]
        ],
    },
    9: {
        "plain": [arc(0.5, 0.33, 0.15, 0.15, math.pi / 2, 1.0) + [(0.63, 0.6), (0.6, 0.85)]],
        "straight": [arc(0.48, 0.32, 0.16, 0.15, math.pi / 2, 1.0) + [(0.64, 0.86)]],
        "curved": [
            arc(0.5, 0.32, 0.15, 0.14, math.pi / 2, 1.0) + [(0.64, 0.55), (0.6, 0.76), (0.48, 0.86), (0.36, 0.82)]
        ],
    },
}
# Ways of writing one digit that are a style of their own: held out, no styled picture of that digit is fitted.
ALLOGRAPH_STYLES: dict[str, tuple[int, str]] = {
    "closed_4": (4, "closed"),
    "crossed_7": (7, "crossed"),
    "serif_1": (1, "flag_base"),
}


@dataclass(frozen=True)
class Fold:
    """What a fit may not use: whole digits (when a way of writing one digit is held out)."""

    banned_digits: frozenset[int] = frozenset()


EVERYTHING = Fold()


@dataclass(frozen=True)
class Hand:
    """How one person moves the pen: size, rotation, slant, squash, shakiness."""

    scale: tuple[float, float] = (0.5, 1.05)
    rotate_deg: float = 10.0
    shear: tuple[float, float] = (-0.15, 0.15)
    aspect: tuple[float, float] = (0.8, 1.2)
    wobble: float = 0.006


def densify(stroke: Stroke, step: float = 0.015) -> Stroke:
    """Points every `step` along the stroke, so a wobble bends lines the way a hand does."""
    out = [stroke[0]]
    for (x0, y0), (x1, y1) in zip(stroke, stroke[1:], strict=False):
        n = max(1, int(math.hypot(x1 - x0, y1 - y0) / step))
        out += [(x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n) for k in range(1, n + 1)]
    return out


def place(strokes: list[Stroke], rng: np.random.Generator, hand: Hand = Hand()) -> list[Stroke]:
    """Scale, rotate, slant and squash the strokes, move them somewhere on the canvas, make them wobble."""
    s = rng.uniform(*hand.scale)
    sx = s * rng.uniform(*hand.aspect)
    angle = math.radians(rng.uniform(-hand.rotate_deg, hand.rotate_deg))
    shear = rng.uniform(*hand.shear)
    ca, sa = math.cos(angle), math.sin(angle)
    moved = []
    for stroke in strokes:
        pts = []
        for x, y in densify(stroke):
            u, v = (x - 0.5) * sx, (y - 0.5) * s
            u -= shear * v  # shear > 0: the top leans right
            pts.append((ca * u - sa * v, sa * u + ca * v))
        moved.append(pts)
    xs = [x for st in moved for x, _ in st]
    ys = [y for st in moved for _, y in st]
    dx = rng.uniform(0.06 - min(xs), 0.94 - max(xs)) if max(xs) - min(xs) < 0.88 else 0.5 - (min(xs) + max(xs)) / 2
    dy = rng.uniform(0.06 - min(ys), 0.94 - max(ys)) if max(ys) - min(ys) < 0.88 else 0.5 - (min(ys) + max(ys)) / 2
    wob = rng.normal(0, hand.wobble, size=2)
    ph = rng.uniform(0, 2 * math.pi, size=2)
    return [
        [(x + dx + wob[0] * math.sin(7 * y + ph[0]), y + dy + wob[1] * math.sin(7 * x + ph[1])) for x, y in st]
        for st in moved
    ]


def render(
    strokes: list[Stroke], width: float, size: int = SIZE, pressure: float = 0.0, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Strokes with round caps and joins: float32 ink in [0, 1] on a size×size canvas. pressure > 0 varies the
    width along each stroke (a pencil)."""
    image = Image.new("L", (size, size), 0)
    pen = ImageDraw.Draw(image)
    for stroke in strokes:
        pts = [(x * size, y * size) for x, y in stroke]
        widths = np.full(len(pts), width)
        if pressure > 0 and rng is not None:
            knots = rng.uniform(1 - pressure, 1 + pressure, size=4)
            widths = np.interp(np.linspace(0, 3, len(pts)), np.arange(4), knots) * width
        if len(pts) > 1 and pressure == 0:
            pen.line(pts, fill=255, width=max(1, round(width)))
        for i, (x, y) in enumerate(pts):
            if i and pressure > 0:
                pen.line([pts[i - 1], (x, y)], fill=255, width=max(1, round(widths[i])))
            r = widths[i] / 2
            if r >= 0.5:
                pen.ellipse([x - r, y - r, x + r, y + r], fill=255)
    return np.asarray(image, dtype=np.float32) / 255.0


def render_fine(strokes: list[Stroke], width: float, size: int = SIZE, factor: int = 3) -> np.ndarray:
    """Anti-aliased rendering for thin pens (drawn at `factor`× and averaged down)."""
    big = render(strokes, width * factor, size * factor)
    return np.asarray(Image.fromarray(to_u8(big)).resize((size, size), Image.Resampling.BOX), np.float32) / 255


# --- what happens to the picture after the pen ------------------------------------------------------------------
def to_u8(ink: np.ndarray) -> np.ndarray:
    return (np.clip(ink, 0, 1) * 255).round().astype(np.uint8)


def blur(ink: np.ndarray, sigma: float) -> np.ndarray:
    """Out of focus: a Gaussian blur, the strongest ink kept as strong as before."""
    out = np.asarray(Image.fromarray(to_u8(ink)).filter(ImageFilter.GaussianBlur(sigma)), np.float32) / 255
    return out / max(float(out.max()), 1e-6) * float(ink.max())


R = Image.Resampling
RESAMPLE = {"bilinear": R.BILINEAR, "bicubic": R.BICUBIC, "lanczos": R.LANCZOS, "nearest": R.NEAREST}


def low_res(ink: np.ndarray, side: int, resample: str = "bilinear") -> np.ndarray:
    """Scanned at side×side pixels (area average, 16 grey levels), then enlarged back to the canvas."""
    small = np.asarray(Image.fromarray(to_u8(ink)).resize((side, side), Image.Resampling.BOX), np.float32) / 255
    scan = (small * 15).round() / 15
    scan = scan / max(float(scan.max()), 1e-6)
    big = Image.fromarray(to_u8(scan)).resize((ink.shape[1], ink.shape[0]), RESAMPLE[resample])
    return np.asarray(big, np.float32) / 255


def on_paper(
    ink: np.ndarray,
    rng: np.random.Generator,
    contrast: tuple[float, float] = (0.5, 0.9),
    grain: float = 0.02,
    lighting: float = 0.3,
    jpeg: bool = False,
) -> np.ndarray:
    """Dark ink on light paper as a phone camera or a scanner sees it: RGB uint8, uneven light, paper grain."""
    h, w = ink.shape
    paper = rng.uniform(0.78, 0.97)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    gx, gy = rng.uniform(-lighting, lighting, size=2)
    light = 1 + gx * (xx - 0.5) + gy * (yy - 0.5)
    coarse = rng.uniform(0, 1, size=(h // 4 + 1, w // 4 + 1))
    texture = np.asarray(Image.fromarray(to_u8(coarse)).resize((w, h), R.BICUBIC), np.float32) / 255 - 0.5
    depth = rng.uniform(*contrast)
    grey = paper * light + grain * texture + rng.normal(0, grain / 3, size=(h, w)) - depth * paper * ink
    rgb = np.clip(grey[..., None] * rng.uniform(0.94, 1.0, size=3), 0, 1)
    picture = Image.fromarray((rgb * 255).round().astype(np.uint8), "RGB")
    if jpeg:
        buffer = BytesIO()
        picture.save(buffer, "JPEG", quality=int(rng.integers(30, 80)))
        picture = Image.open(BytesIO(buffer.getvalue())).convert("RGB")
    return np.asarray(picture)


def encode(ink: np.ndarray, encoding: str) -> np.ndarray:
    """Float ink → uint8 picture: white on black grey, black on white RGB, or ink only in the alpha channel."""
    u8 = to_u8(ink)
    if encoding == "light_on_dark":
        return u8
    if encoding == "dark_on_light":
        return np.stack([255 - u8] * 3, axis=-1)
    rgba = np.zeros((*u8.shape, 4), np.uint8)
    rgba[..., 3] = u8
    return rgba


# --- typefaces ---------------------------------------------------------------------------------------------------
FONT_DIRS = ("/usr/share/fonts",)
# Family → file name pattern. A family is used or held out whole (its weights and italics together).
HAND_FAMILIES = {
    "because_we": "BecauseWe*", "breip": "[Bb]reip*", "dkg": "dkg*", "humor_sans": "Humor-Sans*",
    "klee": "KleeOne-*", "kristi": "Kristi*", "comic_neue": "ComicNeue-*", "dancing_script": "DancingScript-*",
    "kaushan": "KaushanScript-*", "domestic_manners": "Domestic_Manners*", "penguin_attack": "PenguinAttack*",
    "junkyard": "Junkyard*", "abogado": "El_Abogado_Loco*", "dustismo": "[Dd]ustismo*", "z003": "Z003-*",
    "yanone": "YanoneKaffeesatz-*", "isabella": "Isabella*", "tomson": "TomsonTalks*", "staypuft": "StayPuft*",
    "femkeklaver": "femkeklaver*", "cabin_sketch": "CabinSketch-*", "joscelyn": "Joscelyn-*",
    "wenkai": "LXGWWenKai*", "purisa": "Purisa*", "nanum_pen": "NanumPen*", "nanum_brush": "NanumBrush*",
    "nanum_barunpen": "NanumBarunpen*",
}  # fmt: skip
PRINT_FAMILIES = {
    "cabin": "Cabin-*", "cantarell": "Cantarell-*", "jura": "Jura-*", "league_spartan": "LeagueSpartan-*",
    "libertine": "LinLibertine_[RDMI]*", "biolinum": "LinBiolinum_R*", "mplus": "Mplus[12]-*",
    "mplus_code": "MplusCode*", "c059": "C059-*", "nimbus_mono": "NimbusMonoPS-*", "nimbus_roman": "NimbusRoman-*",
    "nimbus_sans": "NimbusSans*", "p052": "P052-*", "bookman": "URWBookman-*", "urw_gothic": "URWGothic-*",
    "andika": "Andika-*", "carlito": "Carlito-*", "dejavu_sans": "DejaVuSans*", "dejavu_serif": "DejaVuSerif*",
    "freefont": "Free*", "gentium": "Gentium*", "hack": "Hack-*", "inconsolata": "Inconsolata*", "lato": "Lato-*",
    "liberation": "Liberation*", "open_sans": "OpenSans*", "roboto": "Roboto-*", "noto_sans": "NotoSans-*",
    "noto_serif": "NotoSerif-*", "ebgaramond": "EBGaramond*", "oxygen": "Oxygen*",
}  # fmt: skip


def font_files(pattern: str) -> list[str]:
    found: set[str] = set()
    for folder in FONT_DIRS:
        for ext in (".ttf", ".otf"):
            found |= set(glob.glob(os.path.join(folder, "**", pattern + ext), recursive=True))
    return sorted(found)


def installed_families(families: dict[str, str]) -> dict[str, list[str]]:
    """Family → its font files on this machine; families with none are left out."""
    out = {name: font_files(pattern) for name, pattern in families.items()}
    return {name: files for name, files in out.items() if files}


_FONTS: dict[tuple[str, int], ImageFont.FreeTypeFont] = {}


def _font(path: str, px: int) -> ImageFont.FreeTypeFont:
    if (path, px) not in _FONTS:
        if len(_FONTS) > 2000:
            _FONTS.clear()
        _FONTS[(path, px)] = ImageFont.truetype(path, px)
    return _FONTS[(path, px)]


_NOTDEF: dict[str, bytes] = {}


def has_glyph(path: str, text: str) -> bool:
    """False when the face draws a character of `text` as its missing-glyph box."""
    face = _font(path, 40)

    def pixels(s: str) -> bytes:
        image = Image.new("L", (60, 60), 0)
        ImageDraw.Draw(image).text((5, 5), s, font=face, fill=255)
        return image.tobytes() if image.getbbox() else b""

    if path not in _NOTDEF:
        _NOTDEF[path] = pixels("\ue000")  # a private-use character: the face's missing-glyph box
    return all(pixels(c) not in (b"", _NOTDEF[path]) for c in text)


def typeset(
    text: str,
    face: str | None,
    rng: np.random.Generator,
    height: tuple[float, float] = (0.2, 0.9),
    bold: float = 0.0,
    rotate: float = 6.0,
    size: int = SIZE,
) -> np.ndarray | None:
    """`text` in the font file `face` (None: Pillow's own font), its ink 20-90% of the canvas high, somewhere on
    it, slightly turned; None when nothing could be drawn."""

    def load(px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
        return _font(face, px) if face else ImageFont.load_default(size=px)

    probe = load(100).getbbox(text)
    if probe is None or probe[3] - probe[1] < 5:
        return None
    px = max(8, int(100 * rng.uniform(*height) * size / (probe[3] - probe[1])))
    outline = int(bold * px)
    box = load(px).getbbox(text, stroke_width=outline)
    if box[2] - box[0] > 0.95 * size:
        px = max(8, int(px * 0.9 * size / (box[2] - box[0])))
        outline = int(bold * px)
        box = load(px).getbbox(text, stroke_width=outline)
    w, h = box[2] - box[0], box[3] - box[1]
    image = Image.new("L", (size, size), 0)
    x = rng.uniform(0, max(1.0, size - w)) - box[0]
    y = rng.uniform(0, max(1.0, size - h)) - box[1]
    ImageDraw.Draw(image).text((x, y), text, fill=255, font=load(px), stroke_width=outline, stroke_fill=255)
    if rotate:
        centre = (x + box[0] + w / 2, y + box[1] + h / 2)
        image = image.rotate(rng.uniform(-rotate, rotate), resample=Image.Resampling.BILINEAR, center=centre)
    ink = np.asarray(image, np.float32) / 255
    return ink if ink.max() > 0.3 else None


# --- digit styles ------------------------------------------------------------------------------------------------
Maker = Callable[[int, np.random.Generator], "np.ndarray | None"]


@dataclass(frozen=True)
class Style:
    """A named way of writing or capturing digits. `make(digit, rng)` gives one picture: float ink in [0, 1]
    (white on black), or a uint8 RGB photo of paper; None when it cannot draw that digit."""

    name: str
    kind: str  # "stroke" | "allograph" | "typeface"
    make: Maker
    note: str
    digits: tuple[int, ...] = tuple(range(10))
    families: tuple[str, ...] = field(default=())


def _written(digit: int, rng: np.random.Generator, variant: str | None = None) -> list[Stroke]:
    variants = ALLOGRAPHS[digit]
    return variants[variant if variant is not None else str(rng.choice(list(variants)))]


def _pen(digit: int, rng: np.random.Generator, width=(10.0, 36.0), hand: Hand = Hand(), variant=None) -> np.ndarray:
    return render(place(_written(digit, rng, variant), rng, hand), rng.uniform(*width))


def _hairline(digit: int, rng: np.random.Generator) -> np.ndarray:
    return render_fine(place(_written(digit, rng), rng), rng.uniform(1.5, 6))


def _marker(digit: int, rng: np.random.Generator) -> np.ndarray:
    return _pen(digit, rng, width=(38, 58), hand=Hand(scale=(0.75, 1.05)))


def _slanted(digit: int, rng: np.random.Generator) -> np.ndarray:
    sign = float(rng.choice([-1.0, 1.0]))
    lo, hi = sorted((sign * 0.25, sign * 0.5))
    return _pen(digit, rng, hand=Hand(rotate_deg=20, shear=(lo, hi)))


def _sketchy(digit: int, rng: np.random.Generator) -> np.ndarray:
    """Each stroke gone over two or three times, a little apart, with a thin pen."""
    strokes = place(_written(digit, rng), rng)
    width = rng.uniform(4, 14)
    out = np.zeros((SIZE, SIZE), np.float32)
    for _ in range(int(rng.integers(2, 4))):
        off, wob, ph = rng.normal(0, 0.012, size=2), rng.normal(0, 0.006, size=2), rng.uniform(0, 6.3)
        again = [
            [(x + off[0] + wob[0] * math.sin(11 * y + ph), y + off[1] + wob[1] * math.sin(11 * x + ph)) for x, y in st]
            for st in strokes
        ]
        out = np.maximum(out, render_fine(again, width, factor=2))
    return out


def _soft(digit: int, rng: np.random.Generator) -> np.ndarray:
    return blur(_pen(digit, rng, width=(10, 30)), rng.uniform(3, 12))


def _low_res(digit: int, rng: np.random.Generator) -> np.ndarray:
    ink = _pen(digit, rng, width=(14, 34), hand=Hand(scale=(0.75, 1.05)))
    return low_res(ink, int(rng.integers(8, 41)), str(rng.choice(list(RESAMPLE))))


def _pencil(digit: int, rng: np.random.Generator) -> np.ndarray:
    ink = render(place(_written(digit, rng), rng), rng.uniform(4, 12), pressure=0.4, rng=rng)
    ink = blur(ink, 0.8) * rng.uniform(0.6, 1.0)
    grainy = ink * np.clip(rng.normal(1.0, 0.25, size=ink.shape), 0, 1.4)
    return on_paper(grainy, rng, contrast=(0.25, 0.55), grain=0.03, lighting=0.12)


def _photo(digit: int, rng: np.random.Generator) -> np.ndarray:
    ink = blur(render(place(_written(digit, rng), rng), rng.uniform(5, 22)), rng.uniform(0.5, 2.5))
    return on_paper(ink, rng, contrast=(0.5, 0.9), grain=0.02, lighting=0.35, jpeg=True)


def _allograph(variant: str) -> Maker:
    return lambda digit, rng: _pen(digit, rng, variant=variant)


def _typeface(families: dict[str, list[str]], bold_max: float) -> Maker:
    def make(digit: int, rng: np.random.Generator) -> np.ndarray | None:
        for _ in range(8):
            files = families[str(rng.choice(sorted(families)))]
            face = str(rng.choice(files))
            if has_glyph(face, str(digit)):
                bold = rng.uniform(0, bold_max) if rng.random() < 0.3 else 0.0
                ink = typeset(str(digit), face, rng, bold=bold)
                if ink is not None:
                    return ink
        return None

    return make


STROKE_STYLES: tuple[Style, ...] = (
    Style("pen", "stroke", lambda d, rng: _pen(d, rng), "felt pen, 10-36 px on 280"),
    Style("hairline", "stroke", _hairline, "fine pen, 1.5-6 px, anti-aliased"),
    Style("marker", "stroke", _marker, "marker, 38-58 px"),
    Style("slanted", "stroke", _slanted, "slant 0.25-0.5 either way, rotation ±20°"),
    Style("sketchy", "stroke", _sketchy, "each stroke gone over 2-3 times, 4-14 px"),
    Style("soft", "stroke", _soft, "out of focus: Gaussian blur σ 3-12 px"),
    Style("low_res", "stroke", _low_res, "scanned at 8-40 px, 16 grey levels, enlarged to 280"),
    Style("pencil", "stroke", _pencil, "light grey pencil on textured paper"),
    Style("photo", "stroke", _photo, "photo of ink on paper: uneven light, JPEG"),
) + tuple(
    Style(name, "allograph", _allograph(variant), f"{digit} written '{variant}'", digits=(digit,))
    for name, (digit, variant) in ALLOGRAPH_STYLES.items()
)


def typeface_styles() -> tuple[Style, ...]:
    """The typeface styles this machine can draw (none without the fonts)."""
    out = []
    for name, families, bold, note in (
        ("font_hand", HAND_FAMILIES, 0.03, "handwriting-like typefaces"),
        ("font_print", PRINT_FAMILIES, 0.04, "print typefaces (sans, serif, mono)"),
    ):
        found = installed_families(families)
        if found:
            out.append(Style(name, "typeface", _typeface(found, bold), f"{len(found)} {note}", families=tuple(found)))
    return tuple(out)


def digit_styles(typefaces: bool = True) -> dict[str, Style]:
    return {s.name: s for s in STROKE_STYLES + (typeface_styles() if typefaces else ())}


def style_set(style: Style, n: int, seed: int, fold: Fold = EVERYTHING) -> tuple[list[np.ndarray], list[int]]:
    """n pictures of `style` (its digits in turn, minus the fold's banned ones) and their labels; float ink is
    encoded light-on-dark, dark-on-light and alpha in turn."""
    rng = np.random.default_rng(seed)
    digits = [d for d in style.digits if d not in fold.banned_digits]
    images: list[np.ndarray] = []
    labels: list[int] = []
    for i in range(3 * n if digits else 0):
        if len(images) == n:
            break
        digit = digits[i % len(digits)]
        picture = style.make(digit, rng)
        if picture is None:
            continue
        images.append(picture if picture.dtype == np.uint8 else encode(picture, ENCODINGS[len(images) % 3]))
        labels.append(digit)
    return images, labels


def held_out(style: Style | None) -> Fold:
    """What a fit leaves out when `style` is the one being measured (besides the style itself)."""
    if style is not None and style.kind == "allograph":
        return Fold(banned_digits=frozenset(style.digits))
    return EVERYTHING


# --- pictures that are not one digit -----------------------------------------------------------------------------
LETTER_STROKES: dict[str, list[Stroke]] = {
    "A": [[(0.25, 0.85), (0.5, 0.15), (0.75, 0.85)], [(0.35, 0.6), (0.65, 0.6)]],
    "E": [[(0.7, 0.15), (0.3, 0.15), (0.3, 0.85), (0.7, 0.85)], [(0.3, 0.5), (0.6, 0.5)]],
    "F": [[(0.7, 0.15), (0.3, 0.15), (0.3, 0.85)], [(0.3, 0.5), (0.6, 0.5)]],
    "H": [[(0.3, 0.15), (0.3, 0.85)], [(0.7, 0.15), (0.7, 0.85)], [(0.3, 0.5), (0.7, 0.5)]],
    "K": [[(0.3, 0.15), (0.3, 0.85)], [(0.72, 0.15), (0.3, 0.55)], [(0.42, 0.45), (0.72, 0.85)]],
    "M": [[(0.2, 0.85), (0.25, 0.15), (0.5, 0.6), (0.75, 0.15), (0.8, 0.85)]],
    "N": [[(0.28, 0.85), (0.28, 0.15), (0.72, 0.85), (0.72, 0.15)]],
    "R": [
        [(0.3, 0.85), (0.3, 0.15), (0.55, 0.15), (0.68, 0.25), (0.68, 0.4), (0.55, 0.5), (0.3, 0.5)],
        [(0.45, 0.5), (0.72, 0.85)],
    ],
    "W": [[(0.15, 0.2), (0.3, 0.82), (0.5, 0.35), (0.7, 0.82), (0.85, 0.2)]],
    "X": [[(0.25, 0.2), (0.75, 0.8)], [(0.75, 0.2), (0.25, 0.8)]],
    "Y": [[(0.25, 0.15), (0.5, 0.5), (0.75, 0.15)], [(0.5, 0.5), (0.5, 0.85)]],
    "#": [[(0.4, 0.15), (0.35, 0.85)], [(0.65, 0.15), (0.6, 0.85)],
          [(0.2, 0.38), (0.8, 0.38)], [(0.2, 0.62), (0.8, 0.62)]],
    "+": [[(0.5, 0.2), (0.5, 0.8)], [(0.2, 0.5), (0.8, 0.5)]],
    "=": [[(0.2, 0.4), (0.8, 0.4)], [(0.2, 0.6), (0.8, 0.6)]],
    "e": [[(0.3, 0.55), (0.7, 0.55), (0.68, 0.42), (0.58, 0.35), (0.42, 0.35), (0.3, 0.48), (0.32, 0.68),
           (0.45, 0.78), (0.65, 0.75)]],
    "m": [[(0.2, 0.8), (0.2, 0.4), (0.3, 0.35), (0.4, 0.4), (0.42, 0.8)],
          [(0.42, 0.45), (0.52, 0.35), (0.62, 0.4), (0.64, 0.8)]],
}  # fmt: skip
TYPESET_NON_DIGITS = "AEFHKMNRWXY#@%&*+=?!$€mwkx"


def _shape(name: str, rng: np.random.Generator) -> list[Stroke]:
    if name == "triangle":
        return [[(0.5, 0.15), (0.82, 0.8), (0.18, 0.8), (0.5, 0.15)]]
    if name == "star":
        return [[(0.5 + (0.38 if k % 2 == 0 else 0.15) * math.sin(k * math.pi / 5),
                  0.52 - (0.38 if k % 2 == 0 else 0.15) * math.cos(k * math.pi / 5)) for k in range(11)]]  # fmt: skip
    if name == "heart":
        return [[(0.5 + 0.3 * math.sin(t) ** 3,
                  0.48 - 0.022 * (13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)))
                 for t in np.linspace(0, 2 * math.pi, 40)]]  # fmt: skip
    if name == "smiley":
        return [arc(0.5, 0.5, 0.35, 0.35), [(0.38, 0.4)], [(0.62, 0.4)], arc(0.5, 0.52, 0.18, 0.16, 2.2, 0.3, 12)]
    if name == "check":
        return [[(0.2, 0.55), (0.4, 0.8), (0.82, 0.2)]]
    if name == "arrow":
        return [[(0.15, 0.5), (0.85, 0.5)], [(0.65, 0.3), (0.85, 0.5), (0.65, 0.7)]]
    if name == "circled_x":
        return [arc(0.5, 0.5, 0.33, 0.33), [(0.3, 0.3), (0.7, 0.7)], [(0.7, 0.3), (0.3, 0.7)]]
    if name == "spiral":
        return [[(0.5 + 0.035 * t * math.cos(t), 0.5 + 0.035 * t * math.sin(t)) for t in np.linspace(0, 11, 60)]]
    n = int(rng.integers(3, 6))  # hatching
    return [[(0.2, 0.2 + 0.6 * k / (n - 1)), (0.8, 0.1 + 0.6 * k / (n - 1))] for k in range(n)]


SHAPES = ("triangle", "star", "heart", "smiley", "check", "arrow", "circled_x", "spiral", "hatch")


def _not_digit_strokes(kind: str, rng: np.random.Generator) -> list[Stroke]:
    if kind == "dot":
        return [[(float(x), float(y))] for x, y in rng.uniform(0.15, 0.85, size=(int(rng.integers(1, 4)), 2))]
    if kind == "line":  # at least 35° from vertical: a steeper one is a 1
        a, h = math.radians(rng.uniform(-55, 55)), rng.uniform(0.15, 0.4)
        return [[(0.5 - h * math.cos(a), 0.5 - h * math.sin(a)), (0.5 + h * math.cos(a), 0.5 + h * math.sin(a))]]
    if kind == "zigzag":
        n, amp, y0 = int(rng.integers(5, 10)), rng.uniform(0.1, 0.3), rng.uniform(0.35, 0.65)
        return [[(0.1 + 0.8 * k / (n - 1), y0 + (amp if k % 2 else -amp)) for k in range(n)]]
    if kind == "scribble":
        return [[(float(x), float(y)) for x, y in rng.uniform(0.15, 0.85, size=(int(rng.integers(6, 14)), 2))]]
    if kind == "letter":
        return LETTER_STROKES[str(rng.choice(list(LETTER_STROKES)))]
    if kind == "shape":
        return _shape(str(rng.choice(SHAPES)), rng)
    a, b = (int(v) for v in rng.choice(10, size=2, replace=False))
    if kind == "two_digits":
        left = [[(x * 0.5, y) for x, y in st] for st in _written(a, rng)]
        return left + [[(0.5 + x * 0.5, y) for x, y in st] for st in _written(b, rng)]
    dx, dy = rng.uniform(-0.08, 0.08, size=2)  # overdrawn: one digit over another
    return _written(a, rng) + [[(x + dx, y + dy) for x, y in st] for st in _written(b, rng)]


def _blob(rng: np.random.Generator) -> np.ndarray:
    image = Image.new("L", (SIZE, SIZE), 0)
    n = int(rng.integers(5, 10))
    cx, cy = rng.uniform(0.3, 0.7, size=2) * SIZE
    radius = rng.uniform(0.12, 0.35) * SIZE * rng.uniform(0.6, 1.2, size=n)
    angles = np.sort(rng.uniform(0, 2 * math.pi, size=n))
    outline = [(cx + r * math.cos(t), cy + r * math.sin(t)) for r, t in zip(radius, angles, strict=True)]
    ImageDraw.Draw(image).polygon(outline, fill=255)
    return blur(np.asarray(image, np.float32) / 255, rng.uniform(0.01, 4))


def _two_mnist(kind: str, rng: np.random.Generator, pixels: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Two MNIST digits of different classes, one over the other (shifted a little) or side by side."""
    i = int(rng.integers(len(pixels)))
    j = int(rng.choice(np.flatnonzero(labels != labels[i])))
    if kind == "mnist_pair":
        small = np.maximum(pixels[i], np.roll(pixels[j], tuple(int(v) for v in rng.integers(-3, 4, size=2)), (0, 1)))
    else:
        small = np.concatenate([pixels[i][:, 2:-2], pixels[j][:, 2:-2]], 1)
    h = int(rng.uniform(0.3, 0.8) * SIZE)
    w = min(SIZE, int(h * small.shape[1] / small.shape[0]))
    big = np.asarray(Image.fromarray(to_u8(small)).resize((w, h), Image.Resampling.BILINEAR), np.float32) / 255
    canvas = np.zeros((SIZE, SIZE), np.float32)
    top, left = int(rng.integers(0, SIZE - h + 1)), int(rng.integers(0, SIZE - w + 1))
    canvas[top : top + h, left : left + w] = big
    return canvas


def look(ink: np.ndarray, rng: np.random.Generator, name: str) -> np.ndarray:
    """The looks digits have, given to non-digits too, so that the check cannot tell them apart by look alone."""
    if name == "soft":
        return blur(ink, rng.uniform(3, 10))
    if name == "low_res":
        return low_res(ink, int(rng.integers(10, 41)), str(rng.choice(["bilinear", "bicubic"])))
    if name == "pencil":
        return on_paper(ink * rng.uniform(0.6, 1.0), rng, contrast=(0.3, 0.6), grain=0.03, lighting=0.12)
    return ink


LOOKS = ("plain", "plain", "plain", "soft", "low_res", "pencil")
NON_DIGIT_KINDS = (
    "dot", "line", "zigzag", "scribble", "letter", "shape", "typeset", "blob", "two_digits", "overdrawn",
    "mnist_pair", "mnist_side",
)  # fmt: skip
NEEDS_MNIST = ("mnist_pair", "mnist_side")


def non_digit(
    kind: str,
    rng: np.random.Generator,
    mnist: tuple[np.ndarray, np.ndarray] | None = None,
    faces: list[str] | None = None,
) -> np.ndarray | None:
    """One picture of `kind` (NON_DIGIT_KINDS). mnist: (pixels N×28×28 in [0, 1], labels) for the MNIST kinds;
    faces: font files for `typeset` (None: Pillow's own font)."""
    if kind == "blob":
        ink: np.ndarray | None = _blob(rng)
    elif kind == "typeset":
        text = str(rng.choice(list(TYPESET_NON_DIGITS)))
        if rng.random() < 0.3:
            text = "".join(str(v) for v in rng.integers(0, 10, size=2))  # two typeset digits
        face = str(rng.choice(faces)) if faces else None
        ink = typeset(text, face, rng, height=(0.25, 0.8)) if face is None or has_glyph(face, text) else None
    elif kind in NEEDS_MNIST:
        ink = _two_mnist(kind, rng, *mnist) if mnist is not None else None
    else:
        strokes = place(
            _not_digit_strokes(kind, rng), rng, Hand(scale=(0.8, 1.05) if kind == "two_digits" else (0.5, 1.05))
        )
        widths = (rng.uniform(2, 6), rng.uniform(8, 36), rng.uniform(36, 52))
        width = rng.uniform(6, 60) if kind == "dot" else float(rng.choice(widths, p=[0.2, 0.65, 0.15]))
        ink = render(strokes, width)
    return None if ink is None else look(ink, rng, str(rng.choice(LOOKS)))


def non_digit_set(
    kind: str, n: int, seed: int, mnist: tuple[np.ndarray, np.ndarray] | None = None, faces: list[str] | None = None
) -> list[np.ndarray]:
    """n pictures of `kind` (fewer when it cannot be drawn here), encodings in turn."""
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    for _ in range(3 * n):
        if len(out) == n:
            break
        picture = non_digit(kind, rng, mnist, faces)
        if picture is not None:
            out.append(picture if picture.dtype == np.uint8 else encode(picture, ENCODINGS[len(out) % 3]))
    return out


# --- more non-digits for the digit gate (simplecnn.training.train_gate): typefaces and curves --------------------
GLYPHS = (
    "ACEFHKLMNPRUVWXYacdefhkmnprtuvwxy"  # letters no hand mistakes for a digit (no O, I, l, S, Z, B, g, q...)
    "#@%&*+=?!$€£¥§~<>^×÷±∞√∫≈≠≤≥°"
    "αβγδεθλμπσφψωΓΔΘΛΞΠΣΦΨΩ"
    "→←↑↓↔✓✗♥★☆●■▲◆♪♫☺"
    "中文字的人大山水火月木手心我你他好學生愛書"  # what the tutorial's readers might write instead of a digit
)
WORDS = ("ab", "hi", "ok", "no", "yes", "Hz", "km", "cm", "%&", "?!", "xy", "AB", "a+b", "cat")


def glyph_non_digit(rng: np.random.Generator, faces: list[str]) -> np.ndarray | None:
    """A letter, symbol, Chinese character or short word in one of `faces` (font files), with a digit's looks;
    None when none of them can draw what was picked."""
    for _ in range(10 if faces else 0):
        text = str(rng.choice(WORDS)) if rng.random() < 0.2 else str(rng.choice(list(GLYPHS)))
        face = str(rng.choice(faces))
        if not has_glyph(face, text):
            continue
        bold = rng.uniform(0, 0.04) if rng.random() < 0.3 else 0.0
        ink = typeset(text, face, rng, height=(0.25, 0.85), bold=bold, rotate=8)
        if ink is not None:
            return look(ink, rng, str(rng.choice(LOOKS)))
    return None


def _bezier(p: np.ndarray, n: int = 30) -> Stroke:
    t = np.linspace(0, 1, n)[:, None]
    curve = (1 - t) ** 3 * p[0] + 3 * (1 - t) ** 2 * t * p[1] + 3 * (1 - t) * t * t * p[2] + t**3 * p[3]
    return [(float(x), float(y)) for x, y in curve]


def curve_non_digit(rng: np.random.Generator) -> np.ndarray:
    """A smooth scribble: two to five cubic Bézier pieces joined end to end (the `scribble` kind is straight)."""
    curve = _bezier(rng.uniform(0.15, 0.85, (4, 2)))
    for _ in range(int(rng.integers(1, 5))):
        curve += _bezier(np.vstack([curve[-1], rng.uniform(0.15, 0.85, (3, 2))]))[1:]
    strokes = place([curve], rng, Hand(scale=(0.5, 1.05)))
    width = float(rng.choice([rng.uniform(2, 6), rng.uniform(8, 36), rng.uniform(36, 52)]))
    return look(render(strokes, width), rng, str(rng.choice(LOOKS)))
