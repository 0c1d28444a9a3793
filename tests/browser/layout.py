"""What a phone asks of a page (issue 15), measured in the browser: no sideways scrolling, and controls a
thumb can hit (at least 44 px tall; a checkbox or radio by its .form-check or label)."""

from __future__ import annotations

from playwright.sync_api import Page

PHONE = {"width": 390, "height": 844}
MIN_HEIGHT = 44

# The controls a person taps; a checkbox or radio is measured by its .form-check or label instead.
CONTROLS = (
    "button, input:not([type=hidden]), select, textarea, a.btn, .page-link, .nav-link, .dropdown-item, "
    "summary"
)

# Runs in the page: the visible controls under 44 px tall, described for the failure message.
SMALL_CONTROLS_JS = r"""([selector, minimum]) => {
  const describe = (el, text) =>
    `<${el.tagName.toLowerCase()} class="${el.className}"> "${text}"`;
  const small = [];
  for (const el of document.querySelectorAll(selector)) {
    const style = getComputedStyle(el);
    let box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;            // not rendered
    if (style.visibility === "hidden") continue;
    if (box.width <= 1 && box.height <= 1) continue;               // .visually-hidden
    if (el.matches("input[type=checkbox], input[type=radio]")) {
      const holder = el.closest(".form-check") || el.closest("label") ||
        (el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`));
      if (!holder) { small.push(`${describe(el, el.name)} has no .form-check or label`); continue; }
      box = holder.getBoundingClientRect();
    }
    if (box.height < minimum - 0.5) {
      const text = el.matches("select, input, textarea") ? el.name : el.textContent;
      const name = (el.getAttribute("aria-label") || text || "").trim().replace(/\s+/g, " ");
      small.push(`${describe(el, name.slice(0, 40))} is ${box.height.toFixed(1)} px`);
    }
  }
  return small;
}"""

# Runs in the page: how wide the page is, and the elements reaching past the right edge outside any
# scrolling box (the culprits), for the failure message.
OVERFLOW_JS = """() => {
  const width = window.innerWidth;
  const wide = [];
  if (document.documentElement.scrollWidth > width) {
    for (const el of document.body.querySelectorAll("*")) {
      const box = el.getBoundingClientRect();
      if (box.right <= width + 0.5 || box.width === 0) continue;
      let inside = false;
      for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
        const overflow = getComputedStyle(up).overflowX;
        if (["auto", "scroll", "hidden"].includes(overflow)) { inside = true; break; }
      }
      if (!inside) {
        const tag = `<${el.tagName.toLowerCase()} class="${el.className}">`;
        wide.push(`${tag} ends at ${Math.round(box.right)} px`);
      }
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: width, wide: wide.slice(-5)};
}"""


def layout_problems(page: Page) -> list[str]:
    """What keeps the page from working on the phone it is shown on ([] when nothing)."""
    problems = []
    overflow = page.evaluate(OVERFLOW_JS)
    if overflow["scrollWidth"] > overflow["innerWidth"]:
        problems.append(
            f"scrolls sideways: {overflow['scrollWidth']} px wide in {overflow['innerWidth']} px "
            f"({'; '.join(overflow['wide'])})"
        )
    problems += page.evaluate(SMALL_CONTROLS_JS, [CONTROLS, MIN_HEIGHT])
    return problems
