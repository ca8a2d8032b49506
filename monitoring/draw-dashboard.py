"""Draws a Grafana dashboard's layout as an SVG picture: every panel where its gridPos puts it on
Grafana's 24-column grid, with its title, its kind, its unit and its queries. No Grafana server
runs in our checks, so this is how the docs show the dashboard; it is drawn from the JSON
alone, so it cannot drift from it (`make monitoring-generate`, and a test compares).

    python monitoring/draw-dashboard.py DASHBOARD.json PICTURE.svg
"""

import json
import sys
import textwrap
from xml.sax.saxutils import escape

# Grafana's grid: 24 columns across, rows of 30 px, 8 px between panels.
COLUMNS = 24
COLUMN_WIDTH = 56
ROW_HEIGHT = 30
GAP = 8
MARGIN = 16
HEADER = 56
TITLE_SIZE = 14
QUERY_SIZE = 10
# Monospace glyphs are about 0.6 em wide.
QUERY_CHAR_WIDTH = QUERY_SIZE * 0.62
QUERY_LINE = QUERY_SIZE + 3
COLOURS = ["#73bf69", "#f2cc0c", "#8ab8ff", "#ff780a", "#f2495c", "#5794f2"]


def panel_box(panel):
    grid = panel["gridPos"]
    x = MARGIN + grid["x"] * COLUMN_WIDTH
    y = HEADER + grid["y"] * ROW_HEIGHT
    return x, y, grid["w"] * COLUMN_WIDTH - GAP, grid["h"] * ROW_HEIGHT - GAP


def text(x, y, content, size, **attributes):
    extra = "".join(f' {key.replace("_", "-")}="{value}"' for key, value in attributes.items())
    return f'<text x="{x:.0f}" y="{y:.0f}" font-size="{size}"{extra}>{escape(content)}</text>'


def draw_panel(panel):
    x, y, width, height = panel_box(panel)
    unit = ((panel.get("fieldConfig") or {}).get("defaults") or {}).get("unit", "")
    parts = [
        f'<rect x="{x}" y="{y}" width="{width}" height="{height}" rx="3" fill="#181b1f" '
        'stroke="#2c3235"/>',
        text(x + 8, y + 20, panel["title"], TITLE_SIZE, fill="#ccccdc", font_weight="bold"),
        text(x + width - 8, y + 20, f"{panel['type']} · {unit}", QUERY_SIZE, fill="#8e8e8e",
             text_anchor="end"),
    ]
    line_y = y + 40
    columns = max(int((width - 36) / QUERY_CHAR_WIDTH), 10)
    bottom = y + height - 6
    for index, target in enumerate(panel.get("targets") or []):
        colour = COLOURS[index % len(COLOURS)]
        legend = target.get("legendFormat") or target["refId"]
        if line_y > bottom:
            break
        parts.append(f'<rect x="{x + 8}" y="{line_y - 8}" width="10" height="3" fill="{colour}"/>')
        parts.append(text(x + 24, line_y, legend, QUERY_SIZE + 1, fill=colour))
        line_y += QUERY_LINE + 1
        for line in textwrap.wrap(target["expr"], columns, break_on_hyphens=False):
            if line_y > bottom:
                break
            parts.append(text(x + 24, line_y, line, QUERY_SIZE, fill="#9fa7b3",
                              font_family="monospace"))
            line_y += QUERY_LINE
        line_y += 4
    return parts


def draw(dashboard):
    panels = dashboard["panels"]
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
    width = 2 * MARGIN + COLUMNS * COLUMN_WIDTH - GAP
    height = HEADER + rows * ROW_HEIGHT + MARGIN - GAP
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif">',
        f'<rect width="{width}" height="{height}" fill="#111217"/>',
        text(MARGIN, 34, dashboard["title"], 20, fill="#ccccdc", font_weight="bold"),
        text(width - MARGIN, 34, f"uid {dashboard['uid']} · refresh {dashboard.get('refresh')}",
             QUERY_SIZE + 1, fill="#8e8e8e", text_anchor="end"),
    ]
    for panel in panels:
        parts += draw_panel(panel)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main(arguments):
    if len(arguments) != 2:
        sys.exit(__doc__)
    source, picture = arguments
    with open(source, encoding="utf-8") as file:
        dashboard = json.load(file)
    with open(picture, "w", encoding="utf-8") as file:
        file.write(draw(dashboard))


if __name__ == "__main__":
    main(sys.argv[1:])
