"""The learning-rate curve of a schedule recipe as an SVG chart (for the recipe page).

Every text in the chart is a number formatted here or a caption escaped here, so the chart
can be placed in a page as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT = 560, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 40  # margins around the plot area


def _num(value: float) -> str:
    return f"{value:.3g}"


def lr_chart(rates: Sequence[float], title: str) -> str:
    """A line chart of one learning rate per epoch: axes, min/max labels, a point per epoch."""
    if not rates:
        return ""
    top, bottom = max(rates), min(rates)
    span = (top - bottom) or 1.0
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    steps = max(len(rates) - 1, 1)

    def x(i: int) -> float:
        return LEFT + inner_w * i / steps

    def y(rate: float) -> float:
        return TOP + inner_h * (1 - (rate - bottom) / span) if top != bottom else TOP + inner_h / 2

    points = " ".join(f"{x(i):.1f},{y(r):.1f}" for i, r in enumerate(rates))
    dots = "".join(
        f'<circle cx="{x(i):.1f}" cy="{y(r):.1f}" r="2.5"><title>epoch {i + 1}: {_num(r)}'
        "</title></circle>"
        for i, r in enumerate(rates)
    )
    axis_y = TOP + inner_h
    return (
        f'<svg class="lr-chart" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}">'
        f"<title>{escape(title)}</title>"
        f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{axis_y}"/>'
        f'<line class="axis" x1="{LEFT}" y1="{axis_y}" x2="{WIDTH - RIGHT}" y2="{axis_y}"/>'
        f'<text x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end">{_num(top)}</text>'
        f'<text x="{LEFT - 6}" y="{axis_y}" text-anchor="end">{_num(bottom)}</text>'
        f'<text x="{LEFT}" y="{axis_y + 18}" text-anchor="middle">1</text>'
        f'<text x="{WIDTH - RIGHT}" y="{axis_y + 18}" text-anchor="end">'
        f"epoch {len(rates)}</text>"
        f'<polyline class="curve" fill="none" points="{points}"/>{dots}</svg>'
    )
