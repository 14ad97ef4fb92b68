"""Driving the pages in Debian's Chromium: the browser, axe-core's
findings, and the contrast of what is drawn (focus rings against their background)."""
import re
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).parent / "js" / "node_modules" / "axe-core" / "axe.min.js"
# Running as root in CI needs --no-sandbox; the other switches keep Chromium from calling Google's servers.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def chromium_path() -> str:
    """Debian's Chromium; the tests fail (never skip) without it, since playwright downloads no browser here."""
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: install Debian's package with `apt-get install chromium` "
                    "(the page tests drive it through playwright, which downloads no browser of its own)")
    return str(CHROMIUM)


def axe_script() -> Path:
    """axe-core from tests/js; the tests fail without it."""
    if not AXE.exists():
        pytest.fail(f"axe-core is missing at {AXE}: install it with `npm ci --prefix tests/js`")
    return AXE




def serious_violations(page) -> list[dict]:
    """axe-core's serious and critical findings on the page as it is now (axe preloaded in the context)."""
    return page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ["violations"]});
        return result.violations.filter(v => v.impact === "serious" || v.impact === "critical").map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => ({target: n.target.join(" "), summary: n.failureSummary}))}));
    }""")


def describe_violations(violations: list[dict]) -> str:
    """One line per rule and element, with axe's summary of what to fix."""
    lines = []
    for v in violations:
        for node in v["nodes"]:
            summary = " ".join(node["summary"].split())
            lines.append(f"{v['id']} ({v['impact']}): {v['help']} at {node['target']}: {summary}")
    return "\n".join(lines)


def relative_luminance(rgb: tuple[int, int, int]) -> float:
    """WCAG 2 relative luminance of an sRGB colour."""
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = map(channel, rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(first: str, second: str) -> float:
    """WCAG contrast ratio of two CSS colours as getComputedStyle writes them (rgb()/rgba())."""
    lighter, darker = sorted((relative_luminance(parse_rgb(first)), relative_luminance(parse_rgb(second))), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def parse_rgb(css: str) -> tuple[int, int, int]:
    numbers = re.findall(r"[\d.]+", css)
    return tuple(round(float(n)) for n in numbers[:3])


# The focused element's outline and the colour it is drawn against (the nearest ancestor background:
# the outline is offset from the element, so it lies on its surroundings, not on the element).
FOCUS_RING = """(selector) => {
    const el = document.activeElement;
    const controls = [...document.querySelectorAll(selector)].filter(c => c.getClientRects().length > 0);
    const style = getComputedStyle(el);
    let behind = el.parentElement, background = "rgb(255, 255, 255)";
    for (; behind; behind = behind.parentElement) {
        const colour = getComputedStyle(behind).backgroundColor;
        if (colour !== "rgba(0, 0, 0, 0)" && colour !== "transparent") { background = colour; break; }
    }
    return {index: controls.indexOf(el), count: controls.length, what: el.outerHTML.slice(0, 120),
            style: style.outlineStyle, width: parseFloat(style.outlineWidth), colour: style.outlineColor, background};
}"""


# The innermost elements that reach past either side of the screen, for a page that scrolls sideways.
STICKING_OUT = """() => [...document.body.querySelectorAll("*")]
    .filter(e => { const box = e.getBoundingClientRect(); return box.right > innerWidth + 0.5 || box.left < -0.5; })
    .filter((e, _, all) => !all.some(other => other !== e && e.contains(other)))
    .filter(e => !e.closest(".skip"))
    .slice(0, 8)
    .map(e => `<${e.tagName.toLowerCase()}${e.className ? "." + e.className.split(" ").join(".") : ""}> `
              + `${Math.round(e.getBoundingClientRect().width)}px wide: ${e.textContent.trim().slice(0, 60)}`)"""
