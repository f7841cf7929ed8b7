"""Draw the performance page's charts from the benchmarks' saved output.

    python benchmarks/charts.py [--results benchmarks/results] [--out docs/charts]

Each benchmark prints Markdown tables; saved as ``results/<script>.md`` (``python
benchmarks/bench_ratelimit.py --runs 3 | tee benchmarks/results/bench_ratelimit.md``),
they are both the page's tables (included as they are) and the data of its charts:
horizontal bars as plain SVG, so that drawing them needs nothing installed.
"""

from __future__ import annotations

import argparse
import html
import re
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

Bar = tuple[str, float, str]  # label, value, the text shown after the bar


def tables(markdown: str) -> list[list[dict[str, str]]]:
    """Every Markdown table in ``markdown``, as rows keyed by their column headers."""
    found, current, headers = [], [], None
    for line in [*markdown.splitlines(), ""]:
        if not line.startswith("|"):
            if current:
                found.append(current)
            current, headers = [], None
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if headers is None:
            headers = cells
        elif not set("".join(cells)) <= set("-: "):
            current.append(dict(zip(headers, cells, strict=True)))
    return found


def number(cell: str) -> float:
    """The first number in a cell: ``"0.123 s (1.20x)"`` is 0.123."""
    match = re.search(r"\d[\d,]*(?:\.\d+)?", cell)
    if match is None:
        raise ValueError(f"no number in {cell!r}")
    return float(match.group().replace(",", ""))


def bar_chart(title: str, groups: Sequence[tuple[str, Sequence[Bar]]], *, note: str = "") -> str:
    """Grouped horizontal bars, as an SVG document."""
    label_width, bar_width, row, gap = 260, 360, 22, 14
    rows = sum(len(bars) for _, bars in groups)
    height = 50 + rows * row + len(groups) * (row + gap) + (20 if note else 0)
    top = max((value for _, bars in groups for _, value, _ in bars), default=1.0) or 1.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_width + bar_width + 140}" '
        f'height="{height}" font-family="sans-serif" font-size="12">',
        f'<text x="8" y="20" font-size="15" font-weight="bold">{html.escape(title)}</text>',
    ]
    y = 40
    for group, bars in groups:
        parts.append(f'<text x="8" y="{y + 14}" font-weight="bold">{html.escape(group)}</text>')
        y += row
        for label, value, text in bars:
            width = max(1.0, bar_width * value / top)
            colour = "#76b900" if label.startswith(("crawl_tags", "iter_tags", "ours")) else "#888"
            parts += [
                f'<text x="16" y="{y + 14}">{html.escape(label)}</text>',
                f'<rect x="{label_width}" y="{y + 3}" width="{width:.1f}" height="{row - 6}" '
                f'fill="{colour}"/>',
                f'<text x="{label_width + width + 6:.1f}" y="{y + 14}">{html.escape(text)}</text>',
            ]
            y += row
        y += gap
    if note:
        parts.append(f'<text x="8" y="{y + 8}" fill="#555">{html.escape(note)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def crawl_cpu(rows: list[dict[str, str]]) -> str:
    column = next(h for h in rows[0] if h.startswith("client CPU per 1,000 requests"))
    groups: dict[str, list[Bar]] = {}
    for row in rows:
        cpu = row[column]
        ratio = re.search(r"\((\d+\.\d+)x\)", cpu) or re.search(
            r"(\d+\.\d+)x", row.get("x floor (median over children)", "")
        )
        shown = f"{number(cpu) * 1000:.0f} µs" + (f" ({ratio.group(1)}x)" if ratio else "")
        groups.setdefault(f"concurrency {row['concurrency']}", []).append(
            (row["variant"], number(cpu), shown)
        )
    return bar_chart(
        "Client CPU per request: a 100 x 40 x 50 crawl, lower is better",
        list(groups.items()),
        note="(x: against the leanest aiohttp + orjson loop, the floor)",
    )


def ratelimit_efficiency(rows: list[dict[str, str]]) -> str:
    groups: dict[str, list[Bar]] = {}
    for row in rows:
        share = row["answered 429"].split("(")[-1].rstrip(")")
        groups.setdefault(row["scenario"], []).append(
            (row["variant"], number(row["efficiency"]), f"{row['efficiency']}, {share} 429")
        )
    return bar_chart(
        "Rate-limited control plane: efficiency, higher is better",
        list(groups.items()),
        note="(the least wall time the limit allows / the wall time; 4,101 requests)",
    )


def stream_memory(rows: list[dict[str, str]]) -> str:
    bars = [
        (row["variant"], number(row["peak RSS growth"]), row["peak RSS growth"]) for row in rows
    ]
    return bar_chart("One 1,000,000-tag answer: peak memory growth, lower is better", [("", bars)])


CHARTS = {
    "bench_crawl.md": ("crawl-cpu.svg", crawl_cpu),
    "bench_ratelimit.md": ("ratelimit-efficiency.svg", ratelimit_efficiency),
    "bench_stream.md": ("stream-memory.svg", stream_memory),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=HERE / "results")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "charts")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for source, (target, draw) in CHARTS.items():
        path = args.results / source
        if not path.exists():
            print(f"skipped {target}: no {path}")
            continue
        (args.out / target).write_text(draw(tables(path.read_text())[0]))
        print(f"wrote {args.out / target}")


if __name__ == "__main__":
    main()
