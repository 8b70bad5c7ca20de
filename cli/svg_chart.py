"""A small SVG chart for offline pages: frame, ticks and grid on both axes, axis titles, lines,
dots, bars with interval whiskers and a legend that avoids what is drawn.

Inline SVG written as text, so the evaluation page needs no CDN and no plotting library.
"""

from __future__ import annotations

import html
import itertools
import math
from collections.abc import Sequence

__all__ = ["Chart", "fraction_ticks", "nice_ticks"]


def nice_ticks(low: float, high: float, count: int = 6) -> list[float]:
    """Round tick values covering [low, high]."""
    if high <= low:
        high = low + 1.0
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks, value = [], first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


class Chart:
    """An SVG chart with a frame, ticks and grid on both axes, axis titles and a legend."""

    def __init__(
        self,
        title: str,
        x: tuple[float, float],
        y: tuple[float, float],
        x_label: str,
        y_label: str,
        *,
        x_ticks: Sequence[tuple[float, str]],
        y_ticks: Sequence[tuple[float, str]],
        size: tuple[int, int] = (560, 400),
    ) -> None:
        self.width, self.height = size
        self.left, self.right, self.top, self.bottom = 64, 16, 34, 58
        self.x, self.y = x, y
        self.parts: list[str] = []
        self.legend: list[tuple[str, str, str]] = []
        self.marks: list[tuple[float, float]] = []  # drawn points (pixels): the legend avoids them
        w, h = self.width, self.height
        self.parts.append(
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
            f'role="img" font-family="sans-serif" font-size="12"><title>{html.escape(title)}</title>'
            f'<text x="{w / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">'
            f"{html.escape(title)}</text>"
        )
        for value, label in x_ticks:
            px = self.px(value)
            self.parts.append(
                f'<line x1="{px:.1f}" y1="{self.top}" x2="{px:.1f}" y2="{h - self.bottom}" stroke="#eee"/>'
                f'<line x1="{px:.1f}" y1="{h - self.bottom}" x2="{px:.1f}" y2="{h - self.bottom + 5}" '
                f'stroke="#444"/><text x="{px:.1f}" y="{h - self.bottom + 18}" text-anchor="middle">'
                f"{html.escape(label)}</text>"
            )
        for value, label in y_ticks:
            py = self.py(value)
            self.parts.append(
                f'<line x1="{self.left}" y1="{py:.1f}" x2="{w - self.right}" y2="{py:.1f}" stroke="#eee"/>'
                f'<line x1="{self.left - 5}" y1="{py:.1f}" x2="{self.left}" y2="{py:.1f}" stroke="#444"/>'
                f'<text x="{self.left - 8}" y="{py + 4:.1f}" text-anchor="end">{html.escape(label)}</text>'
            )
        self.parts.append(
            f'<rect x="{self.left}" y="{self.top}" width="{w - self.left - self.right}" '
            f'height="{h - self.top - self.bottom}" fill="none" stroke="#444"/>'
            f'<text x="{(self.left + w - self.right) / 2}" y="{h - 14}" text-anchor="middle">'
            f"{html.escape(x_label)}</text>"
            f'<text x="16" y="{(self.top + h - self.bottom) / 2}" text-anchor="middle" '
            f'transform="rotate(-90 16 {(self.top + h - self.bottom) / 2})">{html.escape(y_label)}</text>'
        )

    def px(self, x: float) -> float:
        span = self.width - self.left - self.right
        return self.left + (x - self.x[0]) / (self.x[1] - self.x[0]) * span

    def py(self, y: float) -> float:
        span = self.height - self.top - self.bottom
        return self.height - self.bottom - (y - self.y[0]) / (self.y[1] - self.y[0]) * span

    def line(
        self, points: Sequence[tuple[float, float]], colour: str, label: str | None, dash: str = ""
    ) -> None:
        kept = [(self.px(x), self.py(y)) for x, y in points if not math.isnan(y)]
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in kept)
        for (x0, y0), (x1, y1) in itertools.pairwise(kept):
            self.marks += [(x0 + (x1 - x0) * t / 20, y0 + (y1 - y0) * t / 20) for t in range(21)]
        style = f' stroke-dasharray="{dash}"' if dash else ""
        self.parts.append(
            f'<polyline points="{coords}" stroke="{colour}" stroke-width="2" fill="none"{style}/>'
        )
        if label:
            self.legend.append((label, colour, dash))

    def dots(
        self, points: Sequence[tuple[float, float, str]], colour: str, radius: float = 3.5, above: bool = True
    ) -> None:
        for x, y, text in points:
            if math.isnan(y):
                continue
            px, py = self.px(x), self.py(y)
            self.marks.append((px, py))
            self.parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="{radius}" fill="{colour}"/>')
            if text:
                dy = -7 if above else 14
                self.parts.append(
                    f'<text x="{px:.1f}" y="{py + dy:.1f}" text-anchor="middle" font-size="10" '
                    f'fill="{colour}">{html.escape(text)}</text>'
                )

    def bar(self, x: tuple[float, float], y: float, colour: str, interval: tuple[float, float]) -> None:
        """A bar from 0 (or the bottom of the axis) to y, with an interval whisker."""
        (x0, x1), (low, high) = x, interval
        if math.isnan(y):
            return
        base = self.py(max(self.y[0], min(0.0, self.y[1])))
        top = self.py(y)
        for t in range(11):
            self.marks += [
                (self.px(x0 + (x1 - x0) * t / 10), base + (top - base) * u / 10) for u in range(11)
            ]
        self.parts.append(
            f'<rect x="{self.px(x0):.1f}" y="{min(base, top):.1f}" width="{self.px(x1) - self.px(x0):.1f}" '
            f'height="{abs(base - top):.1f}" fill="{colour}" fill-opacity="0.75"/>'
        )
        if not math.isnan(low):
            mid = self.px((x0 + x1) / 2)
            lo, hi = self.py(max(low, self.y[0])), self.py(min(high, self.y[1]))
            self.parts.append(
                f'<line x1="{mid:.1f}" y1="{lo:.1f}" x2="{mid:.1f}" y2="{hi:.1f}" stroke="#000"/>'
                f'<line x1="{mid - 4:.1f}" y1="{lo:.1f}" x2="{mid + 4:.1f}" y2="{lo:.1f}" stroke="#000"/>'
                f'<line x1="{mid - 4:.1f}" y1="{hi:.1f}" x2="{mid + 4:.1f}" y2="{hi:.1f}" stroke="#000"/>'
            )

    def text(self, x: float, y: float, text: str, colour: str = "#444") -> None:
        self.parts.append(
            f'<text x="{self.px(x):.1f}" y="{self.py(y):.1f}" text-anchor="middle" font-size="10" '
            f'fill="{colour}">{html.escape(text)}</text>'
        )

    def _legend_corner(self) -> tuple[float, float]:
        """The inner corner whose legend box covers the fewest drawn points (top left on a tie)."""
        width = 48 + 6.5 * max((len(label) for label, _, _ in self.legend), default=0)
        height = 16 * len(self.legend) + 8
        right, bottom = self.width - self.right - width, self.height - self.bottom - height
        corners = [(self.left, self.top), (right, self.top), (self.left, bottom), (right, bottom)]

        def covered(corner: tuple[float, float]) -> int:
            x, y = corner
            return sum(x <= px <= x + width and y <= py <= y + height for px, py in self.marks)

        return min(corners, key=covered)

    def render(self) -> str:
        x, y0 = self._legend_corner()
        if self.legend:
            width = 40 + 6.5 * max(len(label) for label, _, _ in self.legend)
            self.parts.append(
                f'<rect x="{x + 4}" y="{y0 + 2}" width="{width:.0f}" height="{16 * len(self.legend) + 4}" '
                'fill="#fff" fill-opacity="0.85"/>'
            )
        for i, (label, colour, dash) in enumerate(self.legend):
            y = y0 + 16 + 16 * i
            style = f' stroke-dasharray="{dash}"' if dash else ""
            self.parts.append(
                f'<line x1="{x + 10}" y1="{y - 4}" x2="{x + 32}" y2="{y - 4}" '
                f'stroke="{colour}" stroke-width="2"{style}/>'
                f'<text x="{x + 38}" y="{y}" fill="{colour}">{html.escape(label)}</text>'
            )
        return "".join([*self.parts, "</svg>"])


def fraction_ticks(low: float, high: float) -> list[tuple[float, str]]:
    """Ticks labelled as percentages, with a decimal where a tick needs one (47.5%)."""
    ticks = nice_ticks(low, high)
    whole = all(abs(t * 100 - round(t * 100)) < 1e-6 for t in ticks)
    return [(t, f"{t:.0%}" if whole else f"{t:.1%}") for t in ticks]
