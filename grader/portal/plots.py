"""Server-rendered SVG plots: score distribution, per-test failure rates, time against workers.

Each returns a complete `<svg>` element as Markup; every text in it is escaped.
"""

from __future__ import annotations

from markupsafe import Markup, escape

W, H = 640, 240
INK, GRID, BAD, OK, REF = "#1f2328", "#d0d7de", "#b42318", "#1a7f37", "#57606a"


def _svg(cls: str, title: str, body: list[str], height: int = H) -> Markup:
    return Markup(
        f'<svg class="{cls}" role="img" viewBox="0 0 {W} {height}" width="100%" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        + "".join(body)
        + "</svg>"
    )


def _text(x: float, y: float, text, anchor: str = "middle", size: int = 12, fill: str = INK) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
        f'fill="{fill}" font-family="sans-serif">{escape(str(text))}</text>'
    )


def distribution(bins: list[dict]) -> Markup:
    """Histogram of final scores: bins from `grader.export.report.histogram`."""
    left, bottom, top = 40, H - 36, 16
    most = max([b["count"] for b in bins] + [1])
    step = (W - left - 10) / max(1, len(bins))
    body = [
        f'<line x1="{left}" y1="{bottom}" x2="{W - 10}" y2="{bottom}" stroke="{INK}"/>',
        _text(left - 6, top + 4, most, "end", 11),
        _text(left - 6, bottom, 0, "end", 11),
        _text(W / 2, H - 4, "final score", size=12, fill=REF),
    ]
    for i, b in enumerate(bins):
        h = (bottom - top) * b["count"] / most
        x = left + i * step
        body.append(
            f'<rect x="{x + 2:.1f}" y="{bottom - h:.1f}" width="{step - 4:.1f}" '
            f'height="{h:.1f}" fill="{OK}"><title>{b["low"]:g}-{b["high"]:g}: '
            f"{b['count']} student(s)</title></rect>"
        )
        if b["count"]:
            body.append(_text(x + step / 2, bottom - h - 4, b["count"], size=11))
        body.append(_text(x, bottom + 14, f"{b['low']:g}", size=10, fill=REF))
    if bins:  # ticks on the bin edges, so a bar of 10/10 scores reads as 9-10, not 9
        body.append(
            _text(left + len(bins) * step, bottom + 14, f"{bins[-1]['high']:g}", size=10, fill=REF)
        )
    return _svg("distribution", "Distribution of final scores", body)


def failures(rates: list[dict]) -> Markup:
    """One bar per test: the share of students it failed (from `report.failure_rates`)."""
    row, label_w = 26, 300
    height = 20 + row * max(1, len(rates))
    bar_w = W - label_w - 130  # room for "100% (300 of 300)"
    body = []
    if not rates:
        body.append(_text(W / 2, 30, "no gradings yet", fill=REF))
    for i, r in enumerate(rates):
        y = 10 + i * row
        name = r["name"] if len(r["name"]) <= 44 else r["name"][:43] + "…"
        body.append(_text(label_w - 8, y + 15, name, "end", 12))
        body.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="{row - 8}" fill="#eaeef2"/>'
        )
        body.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{bar_w * r["rate"]:.1f}" '
            f'height="{row - 8}" fill="{BAD}"><title>{r["failed"]} of {r["ran"]} '
            f"failed</title></rect>"
        )
        body.append(
            _text(
                label_w + bar_w + 6,
                y + 15,
                f"{r['rate']:.0%} ({r['failed']} of {r['ran']})",
                "start",
                12,
            )
        )
    return _svg("failures", "Share of students failing each test", body, height)


def speedup(points: list[dict]) -> Markup:
    """Seconds against workers: the submission (and the reference where given)."""
    left, bottom, top, right = 50, H - 36, 14, W - 20
    workers = [p["workers"] for p in points]
    values = [
        v
        for p in points
        for v in (p.get("seconds"), p.get("reference"))
        if isinstance(v, (int, float))
    ]
    wmax, vmax = max(workers + [1]), max(values + [1e-9])

    def xy(w: float, v: float) -> tuple[float, float]:
        return (
            left + (right - left) * (w - 1) / max(1, wmax - 1),
            bottom - (bottom - top) * v / vmax,
        )

    body = [
        f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="{INK}"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="{INK}"/>',
        _text(left - 6, top + 4, f"{vmax:.2g} s", "end", 11),
        _text(W / 2, H - 4, "workers", fill=REF),
    ]
    for w in sorted(set(workers)):
        body.append(_text(xy(w, 0)[0], bottom + 14, w, size=10, fill=REF))
    legend_y = top + 4
    for key, colour, name in (("reference", REF, "reference"), ("seconds", BAD, "your code")):
        pts = [xy(p["workers"], p[key]) for p in points if isinstance(p.get(key), (int, float))]
        if pts:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            body.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
            body += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in pts]
            # a legend in the top right corner: end labels overlap when the lines end close
            body.append(
                f'<line x1="{right - 110}" y1="{legend_y - 4}" x2="{right - 90}" '
                f'y2="{legend_y - 4}" stroke="{colour}" stroke-width="2"/>'
            )
            body.append(_text(right - 84, legend_y, name, "start", 11, colour))
            legend_y += 16
    return _svg("speedup", "Time against number of workers", body)


def speedup_points(details: dict) -> list[dict] | None:
    """`details["timings"]`: [{"workers": n, "seconds": s, "reference": r?}, ...] when valid."""
    raw = details.get("timings") if isinstance(details, dict) else None
    if not isinstance(raw, list):
        return None
    pts = [
        p
        for p in raw
        if isinstance(p, dict)
        and isinstance(p.get("workers"), int)
        and not isinstance(p.get("workers"), bool)
        and isinstance(p.get("seconds"), (int, float))
        and p["seconds"] >= 0
    ]
    return sorted(pts, key=lambda p: p["workers"])[:32] or None
