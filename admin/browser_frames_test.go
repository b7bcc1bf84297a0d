package admin

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// startChromium starts Debian's headless Chromium for a browser test, at
// 1280 × 1000, and returns its context, which ends with the test. Without
// Chromium the test is skipped, or fails under BULLETIN_REQUIRE_BROWSER=1
// (as .ci/run sets it).
func startChromium(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("BULLETIN_REQUIRE_BROWSER") == "1" {
			t.Fatalf("chromium is required (BULLETIN_REQUIRE_BROWSER=1) but %s is missing: %v", chromiumPath, err)
		}
		t.Skipf("skipping the browser test: no chromium at %s (install Debian's chromium, or set BULLETIN_REQUIRE_BROWSER=1 to make this fail)", chromiumPath)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	return ctx
}

// frameText is the text of the frame whose address holds path. Chromium
// runs a sandboxed frame in a process of its own, as a target of its own,
// out of the page's reach: the test attaches to it, and leaves it open.
// It is "" while the frame is missing or loading.
func frameText(ctx context.Context, path string) string {
	return frameEval(ctx, path, `document.body ? document.body.innerText : ""`)
}

// frameEval is the string js evaluates to in the frame whose address holds
// path, or "" when the frame is missing or the evaluation fails.
func frameEval(ctx context.Context, path, js string) string {
	ts, err := chromedp.Targets(ctx)
	if err != nil {
		return ""
	}
	for _, t := range ts {
		if t.Type != "iframe" || !strings.Contains(t.URL, path) {
			continue
		}
		fctx, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(t.TargetID), chromedp.WithDetachOnCancel())
		v, _ := chromedp.Run(fctx, chromedp.Evaluate[string](js))
		cancel()
		return v
	}
	return ""
}

// darkPixels counts the pixels of a PNG screenshot of the viewport that
// are dark (text, say) inside the rectangle r, in CSS pixels at a device
// scale of 1, less a margin of 3 pixels for its border.
func darkPixels(shot []byte, r image.Rectangle) (int, error) {
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		return 0, err
	}
	n := 0
	r = r.Inset(3).Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if (cr+cg+cb)/3 < 0x8000 {
				n++
			}
		}
	}
	return n, nil
}
