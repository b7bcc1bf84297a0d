package admin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/store"
	"github.com/bulletin/bulletin/templates"
)

// newSettingsEnv is a server whose settings hooks are fakes: the relay is
// locked as by --relay, and the doctor answers fixed verdicts.
func newSettingsEnv(t *testing.T) (*uiEnv, *store.DB) {
	t.Helper()
	return newSettingsEnvLocked(t, map[string]string{"relay": "--relay / BULLETIN_RELAY"})
}

// newSettingsEnvLocked is newSettingsEnv with the given settings locked.
func newSettingsEnvLocked(t *testing.T, locked map[string]string) (*uiEnv, *store.DB) {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "b.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	hooks := list.SettingsHooks{
		Locked: locked,
		Doctor: func(ctx context.Context) []list.Check {
			return []list.Check{
				{Name: "DKIM bulletin._domainkey.news.example", Status: "pass", Detail: "the record matches the key"},
				{Name: "SPF news.example", Status: "fail", Detail: "no SPF record", Fix: "publish v=spf1 mx ~all"},
			}
		},
		DNSRecords: func(ctx context.Context) []string {
			return []string{`bulletin._domainkey.news.example. IN TXT ( "v=DKIM1; k=rsa; p=MIIB" )`}
		},
	}
	svc, err := list.New(list.Options{Store: db, Mailer: &recMailer{}, Secret: []byte("0123456789abcdef0123456789abcdef"),
		Config: list.Config{BaseURL: testBaseURL, Domain: "news.example"}, Settings: hooks})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Bootstrap(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Service: svc, FS: templates.FS, Outbox: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.sleep = func(*http.Request, time.Duration) error { return nil }
	for _, u := range []struct {
		name string
		role list.Role
	}{{"root", list.RoleAdmin}, {"ed", list.RoleEditor}} {
		if _, err := svc.AddUser(t.Context(), u.name, u.role, u.name+"-password", list.Origin{}); err != nil {
			t.Fatal(err)
		}
	}
	return &uiEnv{t: t, svc: svc, db: db, h: srv.Handler()}, db
}

func TestUISettingsRoles(t *testing.T) {
	t.Parallel()
	u, _ := newSettingsEnv(t)
	ed := u.login("ed")
	for _, p := range []string{"/admin/settings", "/admin/backup"} {
		if res, _ := ed.get(p); res.StatusCode != http.StatusForbidden {
			t.Errorf("editor GET %s = %d, want 403", p, res.StatusCode)
		}
	}
	for _, p := range []string{"/admin/settings", "/admin/settings/bounces", "/admin/settings/check"} {
		if res, _ := ed.post(p, url.Values{"postal_address": {"Evil 1"}, "hard_limit": {"9"}, "soft_limit": {"9"}, "soft_days": {"9"}}); res.StatusCode != http.StatusForbidden {
			t.Errorf("editor POST %s = %d, want 403", p, res.StatusCode)
		}
	}
	// No CSRF token: refused, nothing stored.
	root := u.login("root")
	if res, _ := root.do(formReq("/admin/settings", url.Values{"postal_address": {"Evil 1"}})); res.StatusCode != http.StatusForbidden {
		t.Errorf("POST without a CSRF token = %d, want 403", res.StatusCode)
	}
	if st, _ := u.svc.Settings(t.Context()); st.PostalAddress != "" || u.svc.Config().PostalAddress != "" {
		t.Errorf("a refused form stored %+v", st)
	}
	if rules, _ := u.svc.BounceRules(t.Context()); rules.HardLimit != 1 {
		t.Errorf("an editor changed the bounce rules: %+v", rules)
	}
}

func TestUISettingsSave(t *testing.T) {
	t.Parallel()
	u, _ := newSettingsEnv(t)
	s := u.login("root")
	res, body := s.get("/admin/settings")
	if res.StatusCode != 200 || !strings.Contains(body, "read-only") || !strings.Contains(body, "nothing is really being sent") {
		t.Fatalf("settings page = %d\n%s", res.StatusCode, body)
	}
	// The locked relay shows disabled with where it came from.
	if !strings.Contains(body, `name="relay" value="" placeholder="" disabled`) || !strings.Contains(body, "set by <code>--relay / BULLETIN_RELAY</code>") {
		t.Errorf("the locked relay is not read-only:\n%s", body)
	}
	if !strings.Contains(body, "v=DKIM1; k=rsa; p=MIIB") || !strings.Contains(body, "bulletin compact") || !strings.Contains(body, `href="/admin/backup"`) {
		t.Error("the page lacks the DNS records, the compact note or the backup link")
	}

	// Bad input: a clear message, the values kept on the form, nothing stored.
	bad := url.Values{"postal_address": {"2 Side St"}, "base_url": {"ftp://news.example"}, "from": {"not an address"}, "rate": {"-1"}}
	res, body = s.post("/admin/settings", bad)
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "base URL &#34;ftp://news.example&#34; must be an http:// or https:// URL") ||
		!strings.Contains(body, "sender “not an address” is not a valid") || !strings.Contains(body, "rate must be") || !strings.Contains(body, "2 Side St") {
		t.Errorf("bad settings = %d\n%s", res.StatusCode, body)
	}
	if st, _ := u.svc.Settings(t.Context()); st != (list.Settings{}) || u.svc.Config().PostalAddress != "" {
		t.Errorf("refused settings stored %+v, config %+v", st, u.svc.Config())
	}
	// Each refused field is marked, and only those.
	for _, k := range []string{"base_url", "from", "rate"} {
		if !regexp.MustCompile(`id="set-` + k + `"[^>]*aria-invalid="true" aria-describedby="page-error"`).MatchString(body) {
			t.Errorf("the refused %s is not marked invalid:\n%s", k, body)
		}
	}
	for _, k := range []string{"postal_address", "privacy_url", "domain"} {
		if regexp.MustCompile(`id="set-` + k + `"[^>]*aria-invalid`).MatchString(body) {
			t.Errorf("the accepted %s is marked invalid", k)
		}
	}
	if !strings.Contains(body, `id="page-error"`) {
		t.Error("the message the fields point to has no id")
	}
	// The keyboard lands on the first refused field, and only there.
	if strings.Count(body, " autofocus") != 1 || !regexp.MustCompile(`id="set-from"[^>]* autofocus`).MatchString(body) {
		t.Errorf("focus is not on the first refused field (the sender):\n%s", body)
	}
	res, body = s.post("/admin/settings", url.Values{"max_conns": {"many"}})
	if res.StatusCode != http.StatusUnprocessableEntity || !regexp.MustCompile(`id="set-max_conns"[^>]*aria-invalid="true"`).MatchString(body) {
		t.Errorf("a connections count that is no number = %d, not marked:\n%s", res.StatusCode, body)
	}
	// A quoted name is shown as typed, without Go's escaping.
	res, body = s.post("/admin/settings", url.Values{"from": {`"X" <x@>`}})
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "sender “&#34;X&#34; &lt;x@&gt;” is not a valid") || strings.Contains(body, `\`) {
		t.Errorf("a bad quoted sender = %d\n%s", res.StatusCode, body)
	}
	// The defaults the page shows as in force are taken, as the flags
	// take them.
	res, _ = s.post("/admin/settings", url.Values{"domain": {"localhost"}, "from": {"Bulletin <newsletter@localhost>"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Errorf("saving the default domain and sender = %d, want 303", res.StatusCode)
	}
	// An international domain is taken as typed and kept in its xn-- form,
	// in the domain and in the sender's address alike.
	res, body = s.post("/admin/settings", url.Values{"domain": {"Bücher.Example."}, "from": {"Bücher <news@bücher.example>"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Errorf("an international domain and sender = %d\n%s", res.StatusCode, body)
	}
	if st, _ := u.svc.Settings(t.Context()); st.Domain != "xn--bcher-kva.example" || st.From != "Bücher <news@xn--bcher-kva.example>" {
		t.Errorf("stored domain %q and sender %q, want their xn-- forms", st.Domain, st.From)
	}
	// A refused one is quoted as typed, not in a garbled xn-- form.
	if res, body := s.post("/admin/settings", url.Values{"domain": {"bü cher.example"}}); res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "“bü cher.example” is not a valid domain") {
		t.Errorf("an international domain with a space = %d\n%s", res.StatusCode, body)
	}
	// Links have no path prefix to follow: a base URL with one is refused,
	// and so is a domain that no DNS name can be.
	res, body = s.post("/admin/settings", url.Values{"base_url": {"https://news.example/letters"}, "domain": {"-x-.example"}})
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "without a path") || !strings.Contains(body, "is not a valid domain") {
		t.Errorf("a base URL with a path and a bad domain = %d\n%s", res.StatusCode, body)
	}
	res, body = s.post("/admin/settings", url.Values{"relay": {"smtp://evil.example:25"}})
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "set by --relay / BULLETIN_RELAY") {
		t.Errorf("changing a locked field = %d\n%s", res.StatusCode, body)
	}
	if st, _ := u.svc.Settings(t.Context()); st.Relay != "" {
		t.Errorf("a locked field changed: %+v", st)
	}

	// Good input: stored, in force at once, audited.
	good := url.Values{"postal_address": {"1 Main St, Springfield"}, "privacy_url": {"https://news.example/privacy"},
		"from": {"News <news@news.example>"}, "base_url": {"https://lists.news.example/"}, "rate": {"10"}, "max_conns": {"2"}, "domain": {""}}
	res, _ = s.post("/admin/settings", good)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/settings?done=restart" {
		t.Fatalf("save = %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	st, err := u.svc.Settings(t.Context())
	if err != nil || st.PostalAddress != "1 Main St, Springfield" || st.Rate == nil || *st.Rate != 10 || st.MaxConns != 2 || st.BaseURL != "https://lists.news.example" {
		t.Errorf("stored %+v, %v", st, err)
	}
	c := u.svc.Config()
	if c.PostalAddress != "1 Main St, Springfield" || c.PrivacyURL != "https://news.example/privacy" || c.From != "News <news@news.example>" || c.BaseURL != "https://lists.news.example" {
		t.Errorf("config not applied: %+v", c)
	}
	_, body = s.get("/admin/settings?done=restart")
	if !strings.Contains(body, "take effect after a restart") || !strings.Contains(body, `value="1 Main St, Springfield"`) && !strings.Contains(body, ">1 Main St, Springfield</textarea>") {
		t.Errorf("saved page:\n%s", body)
	}
	es, _, _ := u.svc.Audit(t.Context(), 0, 100)
	if len(es) == 0 || es[len(es)-1].Action != "settings.update" {
		t.Errorf("audit = %+v", es)
	}
	// The same form again changes nothing.
	if res, _ := s.post("/admin/settings", good); res.Header.Get("Location") != "/admin/settings?done=same" {
		t.Errorf("unchanged save = %s", res.Header.Get("Location"))
	}
}

func TestUISettingsBounceRules(t *testing.T) {
	t.Parallel()
	u, _ := newSettingsEnv(t)
	s := u.login("root")
	res, body := s.post("/admin/settings/bounces", url.Values{"hard_limit": {"0"}, "soft_limit": {"x"}, "soft_days": {"7"}})
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "at least 1") {
		t.Errorf("bad rules = %d\n%s", res.StatusCode, body)
	}
	if r, _ := u.svc.BounceRules(t.Context()); r != list.DefaultBounceRules() {
		t.Errorf("bad rules changed %+v", r)
	}
	if res, _ := s.post("/admin/settings/bounces", url.Values{"hard_limit": {"2"}, "soft_limit": {"5"}, "soft_days": {"7"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save rules = %d", res.StatusCode)
	}
	if r, _ := u.svc.BounceRules(t.Context()); r.HardLimit != 2 || r.SoftLimit != 5 || r.SoftWindow.Hours() != 7*24 {
		t.Errorf("rules = %+v", r)
	}
}

// TestUISettingsBounceRulesLocked checks that a bounce rule set by a flag
// or variable is read-only on the page, keeps its value when the others
// are saved, and cannot be changed by a crafted form.
func TestUISettingsBounceRulesLocked(t *testing.T) {
	t.Parallel()
	u, _ := newSettingsEnvLocked(t, map[string]string{"hard_limit": "--hard-bounce-limit / BULLETIN_HARD_BOUNCE_LIMIT"})
	if err := u.svc.SetBounceRules(t.Context(), list.BounceRules{HardLimit: 4}); err != nil {
		t.Fatal(err)
	}
	s := u.login("root")
	_, body := s.get("/admin/settings")
	if !strings.Contains(body, `name="hard_limit" min="1" value="4" disabled>`) ||
		!strings.Contains(body, "Read-only: set by <code>--hard-bounce-limit / BULLETIN_HARD_BOUNCE_LIMIT</code>") {
		t.Errorf("the locked hard bounce limit is not read-only:\n%s", body)
	}
	if strings.Contains(body, `name="soft_limit" min="1" value="3" disabled`) {
		t.Error("the soft bounce limit, not locked, is read-only")
	}
	// The disabled field is not sent: the others are saved, it stays.
	if res, _ := s.post("/admin/settings/bounces", url.Values{"soft_limit": {"5"}, "soft_days": {"10"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save the unlocked rules = %d", res.StatusCode)
	}
	if r, _ := u.svc.BounceRules(t.Context()); r.HardLimit != 4 || r.SoftLimit != 5 || r.SoftWindow != 10*24*time.Hour {
		t.Errorf("rules = %+v", r)
	}
	res, body := s.post("/admin/settings/bounces", url.Values{"hard_limit": {"9"}, "soft_limit": {"5"}, "soft_days": {"10"}})
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "set by --hard-bounce-limit") {
		t.Errorf("changing the locked hard bounce limit = %d", res.StatusCode)
	}
	if r, _ := u.svc.BounceRules(t.Context()); r.HardLimit != 4 {
		t.Errorf("the locked hard bounce limit changed: %+v", r)
	}
}

func TestUISettingsCheck(t *testing.T) {
	t.Parallel()
	u, _ := newSettingsEnv(t)
	s := u.login("root")
	if res, _ := s.do(formReq("/admin/settings/check", nil)); res.StatusCode != http.StatusForbidden {
		t.Errorf("check without CSRF = %d", res.StatusCode)
	}
	res, body := s.post("/admin/settings/check", nil)
	if res.StatusCode != 200 || !strings.Contains(body, `id="checks"`) || !strings.Contains(body, "the record matches the key") ||
		!strings.Contains(body, "<strong>FAIL</strong>") || !strings.Contains(body, "publish v=spf1 mx ~all") {
		t.Errorf("checks = %d\n%s", res.StatusCode, body)
	}
}

func TestUIBackupDownload(t *testing.T) {
	t.Parallel()
	u, _ := newSettingsEnv(t)
	s := u.login("root")
	res, body := s.do(httptest.NewRequest("GET", "/admin/backup", nil))
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment;") {
		t.Fatalf("backup = %d %q", res.StatusCode, res.Header.Get("Content-Disposition"))
	}
	// Announced before the first byte: a browser shows the download's
	// progress, and a copy cut short is told from a whole one.
	if got := res.Header.Get("Content-Length"); got != strconv.Itoa(len(body)) {
		t.Errorf("backup Content-Length = %q, body %d bytes", got, len(body))
	}
	path := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatalf("the backup is not a store: %v", err)
	}
	defer db.Close()
	if us, err := db.Users(t.Context()); err != nil || len(us) != 2 {
		t.Errorf("backup users = %d, %v", len(us), err)
	}
	es, _, _ := u.svc.Audit(t.Context(), 0, 100)
	if len(es) == 0 || es[len(es)-1].Action != "backup.download" {
		t.Errorf("no audit entry for the download: %+v", es)
	}
}
