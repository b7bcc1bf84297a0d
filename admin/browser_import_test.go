package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserImportReportWraps: the tester's import report with a long
// address in a reason. The address has no break opportunity, so the Why
// column widened the table past the page at 1280 px and cut every reason
// off at 375 px; each reason now wraps within the page at both widths.
func TestBrowserImportReportWraps(t *testing.T) {
	ctx := startChromium(t)
	hs, _ := browserServer(t)
	long := strings.Repeat("a", 60) + "<@" + strings.Repeat("b", 180) + ".example"
	csv := "email,name\nann@example.com,Ann\n" + long + ",Long\nnot-an-address,Bad\n"
	req, err := http.NewRequestWithContext(t.Context(), "POST", hs.URL+"/api/v1/import?list=newsletter&async=true", strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("root", "root-password")
	req.Header.Set("Content-Type", "text/csv")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var acc struct{ Job uint64 }
	err = json.NewDecoder(res.Body).Decode(&acc)
	res.Body.Close()
	if res.StatusCode != 202 || err != nil {
		t.Fatalf("import = %d, %v", res.StatusCode, err)
	}

	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(hs.URL+"/admin/"),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), "root"),
		chromedp.SendKeys(chromedp.CSS("#password"), "root-password"),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS(".logout")),
	); err != nil {
		t.Fatalf("log in: %v", err)
	}
	// fits says how the report's table and reasons overflow, or "".
	const fits = `(() => {
		const table = document.getElementById("import-errors");
		if (!table) return "no report yet";
		const box = table.parentElement, main = document.querySelector("main");
		const out = [];
		if (box.scrollWidth > box.clientWidth) out.push("table " + box.scrollWidth + " px in a box of " + box.clientWidth);
		if (table.getBoundingClientRect().right > main.getBoundingClientRect().right + 1) out.push("table past main");
		if (document.documentElement.scrollWidth > window.innerWidth) out.push("page " + document.documentElement.scrollWidth + " px wide");
		for (const td of table.querySelectorAll("tbody td:last-child")) {
			if (td.scrollWidth > td.clientWidth || td.getBoundingClientRect().right > window.innerWidth) out.push("reason cut: " + td.textContent.slice(0, 30));
		}
		return out.join("; ");
	})()`
	for _, width := range []int64{1280, 375} {
		page := fmt.Sprintf("%s/admin/import/%d", hs.URL, acc.Job)
		var got string
		for range 100 {
			err = chromedp.Do(ctx, chromedp.EmulateViewport(width, 900), chromedp.Navigate(page))
			if err == nil {
				got, err = chromedp.Run(ctx, chromedp.Evaluate[string](fits))
			}
			if err == nil && got != "no report yet" {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil || got != "" {
			t.Errorf("at %d px: %s %v", width, got, err)
		}
	}
}
