package browsertest

import (
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestChecksFindFaults: the checks the page tests rely on must report a page that breaks them
// (a button without a name, an image without text, a box wider than a phone).
func TestChecksFindFaults(t *testing.T) {
	ctx := New(t)
	page := `<!DOCTYPE html><html lang="en"><head><title>t</title></head><body><main>
<button></button><img src="data:,"><div style="width:900px">wide</div></main></body></html>`
	if err := chromedp.Run(ctx, Viewport(390, 844, true), chromedp.Navigate("data:text/html,"+url.PathEscape(page))); err != nil {
		t.Fatal(err)
	}
	vs, err := Axe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, v := range vs {
		ids = append(ids, v.ID)
	}
	if got := strings.Join(ids, " "); !strings.Contains(got, "button-name") || !strings.Contains(got, "image-alt") {
		t.Errorf("axe found %q, want button-name and image-alt", got)
	}
	over, err := Overflow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(over, "980 px wide") || !strings.Contains(over, `div right=`) {
		t.Errorf("overflow = %q, want the page and the wide div", over)
	}
}
