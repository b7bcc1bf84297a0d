package admin

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"strings"

	"github.com/chromedp/chromedp"
)

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
