package browsertest

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

//go:embed axe/axe.min.js
var axeSource string

// Violation is one failed axe-core rule with the elements it failed on.
type Violation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"` // CSS selectors with axe's failure summary
}

func (v Violation) String() string {
	return fmt.Sprintf("%s (%s): %s\n      %s", v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n      "))
}

// Axe runs axe-core (vendored from npm, injected through the DevTools protocol so the page's
// Content-Security-Policy does not apply to it) on the current page and returns the violations
// whose impact is serious or critical.
func Axe(ctx context.Context) ([]Violation, error) {
	const run = `(async () => {
  const r = await axe.run(document, {resultTypes: ["violations"]});
  return JSON.stringify(r.violations.filter(v => v.impact === "serious" || v.impact === "critical").map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => n.target.join(" ") + ": " + (n.failureSummary || "").replace(/\s+/g, " "))})));
})()`
	var out string
	err := chromedp.Run(ctx,
		chromedp.Evaluate(`typeof axe === "undefined"`, nil), // a page without a document fails here
		chromedp.Evaluate(axeSource, nil),
		chromedp.Evaluate(run, &out, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }),
	)
	if err != nil {
		return nil, fmt.Errorf("axe: %w", err)
	}
	var vs []Violation
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		return nil, fmt.Errorf("axe: %w in %s", err, out)
	}
	return vs, nil
}

// Viewport sets the page's size (CSS pixels) and whether it is a phone (touch, mobile
// viewport rules), for the checks at phone width.
func Viewport(width, height int64, mobile bool) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		return emulation.SetDeviceMetricsOverride(width, height, 1, mobile).Do(ctx)
	})
}

// Overflow lists what sticks out of the screen to the right on the current page (what makes a
// person scroll sideways): the document's width when it is wider, and the elements that cause it.
func Overflow(ctx context.Context) (string, error) {
	const js = `(() => {
  // A page without a viewport meta tag lays out 980 px wide on a phone: the screen is the limit.
  const w = Math.min(document.documentElement.clientWidth, screen.width);
  if (document.documentElement.scrollWidth <= w) return "";
  const out = ["page is " + document.documentElement.scrollWidth + " px wide in a " + w + " px screen"];
  // Name the innermost elements that stick out: those none of whose children do.
  const sticks = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.right > w + 1; };
  for (const el of document.body.querySelectorAll("*")) {
    if (!sticks(el) || Array.prototype.some.call(el.children, sticks)) continue;
    const r = el.getBoundingClientRect();
    out.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className && typeof el.className === "string" ? "." + el.className.trim().replace(/\s+/g, ".") : "") +
      (el.dataset.testid ? "[" + el.dataset.testid + "]" : "") + " right=" + Math.round(r.right) +
      (el.textContent.trim() ? " \"" + el.textContent.trim().slice(0, 40) + "\"" : ""));
    if (out.length > 8) break;
  }
  if (out.length === 1) { // no box sticks out: text overflows its box (a long word or URL)
    for (const el of document.body.querySelectorAll("*")) {
      if (el.scrollWidth <= el.clientWidth + 1 || getComputedStyle(el).overflowX !== "visible") continue;
      if (Array.prototype.some.call(el.children, (c) => c.scrollWidth > c.clientWidth + 1)) continue;
      out.push(el.tagName.toLowerCase() + (el.dataset.testid ? "[" + el.dataset.testid + "]" : "") +
        " holds text " + el.scrollWidth + " px wide: \"" + el.textContent.trim().slice(0, 40) + "\"");
      if (out.length > 8) break;
    }
  }
  return out.join("; ");
})()`
	var out string
	err := chromedp.Run(ctx, chromedp.Evaluate(js, &out))
	return out, err
}

// SmallTargets lists the controls on the current page that are smaller than size CSS pixels in
// height or width (buttons, fields, menus, links outside running text), as a phone user would
// have to hit them; a checkbox or radio button counts with its margin and its label. Hidden controls and links
// inside a sentence (a paragraph's text) are not counted, as WCAG's target-size rule exempts them.
func SmallTargets(ctx context.Context, size int) (string, error) {
	js := `((min) => {
  const out = [];
  for (const el of document.querySelectorAll("a[href], button, input:not([type=hidden]), select, textarea, summary")) {
    let r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || getComputedStyle(el).visibility === "hidden") continue;
    if (el.type === "checkbox" || el.type === "radio") {
      // Its margin and its label are part of the target: a tap there ticks the box.
      const cs = getComputedStyle(el);
      let [t, l, b, rt] = [r.top - parseFloat(cs.marginTop), r.left - parseFloat(cs.marginLeft),
        r.bottom + parseFloat(cs.marginBottom), r.right + parseFloat(cs.marginRight)];
      for (const lb of el.labels || []) { const q = lb.getBoundingClientRect(); t = Math.min(t, q.top); l = Math.min(l, q.left); b = Math.max(b, q.bottom); rt = Math.max(rt, q.right); }
      r = {width: rt - l, height: b - t};
    }
    if (el.tagName === "A" && el.closest("p, li.prose, .help, dd, legend, label")) continue;
    if (el.classList.contains("skip")) continue; // off screen until focused
    if (r.height < min - 0.5 || r.width < min - 0.5) {
      out.push(el.tagName.toLowerCase() + (el.dataset.testid ? "[" + el.dataset.testid + "]" : "") +
        (el.id ? "#" + el.id : "") + " " + Math.round(r.width) + "x" + Math.round(r.height) +
        (el.textContent.trim() ? " \"" + el.textContent.trim().slice(0, 30) + "\"" : ""));
    }
    if (out.length > 10) break;
  }
  return out.join("; ");
})(` + fmt.Sprint(size) + `)`
	var out string
	err := chromedp.Run(ctx, chromedp.Evaluate(js, &out))
	return out, err
}
