package list_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/bulletin/bulletin/list"
)

func TestCampaignLayoutInMessages(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	name, subject, body, lists := "L", "Hello", "<p>Hi</p>", []string{"newsletter"}
	c, err := f.svc.CreateCampaign(ctx, list.CampaignInput{Name: &name, Subject: &subject, Body: &body, Lists: &lists}, list.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	send := func() *list.Message {
		t.Helper()
		before := len(f.mail.sent())
		if err := f.svc.TestSend(ctx, c.ID, []string{"tester@example.com"}, list.Origin{}); err != nil {
			t.Fatal(err)
		}
		ms := f.mail.sent()
		if len(ms) != before+1 {
			t.Fatalf("test send made %d messages", len(ms)-before)
		}
		return ms[len(ms)-1]
	}
	if m := send(); m.Layout != nil {
		t.Fatalf("default Layout = %+v, want nil", m.Layout)
	}
	if _, err := f.svc.SaveLayout(ctx, list.Layout{HTML: "<html><body>{{.Body}}</body></html>", Text: "{{.Body}}"}, list.Origin{User: "ed"}); err != nil {
		t.Fatal(err)
	}
	m := send()
	if m.Layout == nil || m.Layout.HTML != "<html><body>{{.Body}}</body></html>" || m.Layout.Version == "" {
		t.Fatalf("saved Layout = %+v", m.Layout)
	}
	// A new service over the same store (a restart) reads the stored layout.
	// It has a postal address: a test send, like a send, refuses a campaign
	// that could not go out without one.
	svc2, err := list.New(list.Options{Store: f.db, Mailer: f.mail, Secret: []byte("0123456789abcdef0123456789abcdef"),
		Config: list.Config{PostalAddress: "1 Main St, Springfield"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc2.TestSend(ctx, c.ID, []string{"tester@example.com"}, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	if ms := f.mail.sent(); ms[len(ms)-1].Layout == nil || ms[len(ms)-1].Layout.Version != m.Layout.Version {
		t.Errorf("after restart Layout = %+v, want version %s", ms[len(ms)-1].Layout, m.Layout.Version)
	}
	info, err := f.svc.CampaignLayout(ctx)
	if err != nil || !info.Custom || info.UpdatedBy != "ed" {
		t.Errorf("CampaignLayout = %+v, %v", info, err)
	}
	if err := f.svc.ResetLayout(ctx, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	if m := send(); m.Layout != nil {
		t.Errorf("after reset Layout = %+v, want nil", m.Layout)
	}
	if info, _ := f.svc.CampaignLayout(ctx); info.Custom {
		t.Errorf("after reset CampaignLayout = %+v", info)
	}
	big := make([]byte, 200<<10)
	if _, err := f.svc.SaveLayout(ctx, list.Layout{HTML: string(big)}, list.Origin{}); !errors.Is(err, list.ErrInvalid) {
		t.Errorf("SaveLayout(200 KB) = %v, want ErrInvalid", err)
	}
}

// TestLayoutNotUTF8Refused: a layout that is not UTF-8 is refused, as a
// campaign's body is, instead of stored with "�" for each bad byte.
func TestLayoutNotUTF8Refused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, l := range []list.Layout{
		{HTML: "<html><body>Caf\xe9 {{.Body}}</body></html>", Text: "{{.Body}}"},
		{HTML: "<html><body>{{.Body}}</body></html>", Text: "Caf\xe9 {{.Body}}"},
	} {
		_, err := f.svc.SaveLayout(t.Context(), l, list.Origin{User: "ed"})
		if !errors.Is(err, list.ErrInvalid) || !strings.Contains(err.Error(), "layout is not UTF-8 text") || strings.Contains(err.Error(), "file") {
			t.Errorf("SaveLayout(%q, %q) = %v, want refused as not UTF-8", l.HTML, l.Text, err)
		}
	}
}
