"""`explain --svg` / `--html`: the incident timeline drawn with matplotlib (its SVG backend).

matplotlib is an optional extra (`pip install 'nginx-eip-failover[explain]'`), imported only here,
only when a drawing is asked for; it is never in the Lambda package.
"""

from __future__ import annotations

import html
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nginx_eip_failover.service.incident import Timeline

from .common import UsageError

MISSING = "explain --svg/--html needs matplotlib: pip install 'nginx-eip-failover[explain]'"
HEALTH_COLOURS = {"up": "#2e9d4a", "down": "#d6383a", "unknown": "#b8b8b8"}
HOLDER_COLOURS = ("#3b6fb6", "#e08a1e", "#7a4fb0", "#2aa198")
RULE_COLOURS = {"failover": "#d6383a", "preempt": "#2e9d4a", "operator": "#7a4fb0", "pin": "#7a4fb0"}


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("svg")
        from matplotlib import pyplot
    except ImportError as exc:
        raise UsageError(MISSING) from exc
    return pyplot


def draw_svg(timeline: Timeline) -> str:
    """The timeline as an SVG document: a health lane per node, the EIP holder lane, decisions,
    moves (coloured by the rule that fired), failed probes and operator actions as marks."""
    pyplot = _pyplot()
    figure = draw(timeline, pyplot)
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    pyplot.close(figure)
    return buffer.getvalue()


def draw(timeline: Timeline, pyplot: Any) -> Any:
    """The matplotlib figure of the timeline."""
    start = timeline.start
    span = max(timeline.end - start, 1.0)
    lanes = [*(f"{node} health" for node in timeline.nodes), "EIP holder", "decisions"]
    y = {lane: len(lanes) - 1 - index for index, lane in enumerate(lanes)}
    figure, axes = pyplot.subplots(figsize=(11, 1.0 + 0.65 * len(lanes)))
    for node in timeline.nodes:
        for begin, end, status in timeline.health.get(node, []):
            axes.broken_barh(
                [(begin - start, max(end - begin, span / 500))],
                (y[f"{node} health"] - 0.3, 0.6),
                facecolors=HEALTH_COLOURS.get(status, "#b8b8b8"),
            )
    holders = sorted({holder for _b, _e, holder in timeline.holder})
    colour = {holder: HOLDER_COLOURS[i % len(HOLDER_COLOURS)] for i, holder in enumerate(holders)}
    colour["unassociated"] = "#ffffff"
    for begin, end, holder in timeline.holder:
        if end <= begin:
            continue
        axes.broken_barh(
            [(begin - start, end - begin)],
            (y["EIP holder"] - 0.3, 0.6),
            facecolors=colour[holder],
            edgecolor="#555555",
            linewidth=0.5,
        )
        axes.text(begin - start + span / 200, y["EIP holder"], holder, va="center", fontsize=8, color="white")
    for event in timeline.events:
        x = event.at - start
        if event.kind == "probe" and event.ok is False and event.node in timeline.nodes:
            axes.plot(x, y[f"{event.node} health"] + 0.42, marker="x", color="#d6383a", markersize=5)
        elif event.kind == "decide":
            axes.plot(x, y["decisions"], marker="|", color="#444444", markersize=12)
        elif event.kind == "control":
            axes.plot(x, y["decisions"], marker="v", color="#7a4fb0", markersize=8)
            axes.annotate(
                "operator", (x, y["decisions"]), xytext=(0, 9), textcoords="offset points", fontsize=7, ha="center"
            )
        elif event.kind == "move" and event.rule is not None:
            axes.axvline(x, color=RULE_COLOURS.get(event.rule, "#3b6fb6"), linestyle="--", linewidth=0.9)
            axes.annotate(
                f"{event.rule} -> {event.node}",
                (x, y["EIP holder"] + 0.35),
                xytext=(2, 4),
                textcoords="offset points",
                fontsize=7,
                rotation=20,
                color=RULE_COLOURS.get(event.rule, "#3b6fb6"),
                bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.85},
            )
        elif event.kind == "move" and event.ok is False:
            axes.plot(x, y["EIP holder"] - 0.42, marker="X", color="#d6383a", markersize=7)
    axes.set_yticks([y[lane] for lane in lanes], lanes)
    axes.set_ylim(-0.7, len(lanes) - 0.2)
    axes.set_xlim(-span * 0.02, span * 1.02)
    day = datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    axes.set_xlabel(f"seconds after {day}")
    axes.set_title("Incident timeline: node health, EIP holder, decisions and moves (rule that fired)", fontsize=10)
    axes.grid(axis="x", linestyle=":", linewidth=0.5)
    figure.tight_layout()
    return figure


def write_html(path: Path, timeline: Timeline, text: str) -> None:
    svg = draw_svg(timeline)
    svg = svg[svg.index("<svg") :]  # inline: without the XML prolog and doctype
    page = (
        "<!doctype html>\n<html><head><meta charset='utf-8'><title>Incident timeline</title></head>\n"
        f"<body>\n{svg}\n<pre>{html.escape(text)}</pre>\n</body></html>\n"
    )
    path.write_text(page, encoding="utf-8")
