package admin

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bulletin/bulletin/list"
)

// settingsPage is the settings page: the editable settings, the bounce
// rules, the checks of the sending setup, the DNS records, the store.
type settingsPage struct {
	Config list.Config
	Outbox bool
	Rules  list.BounceRules
	// Fields are the editable settings in page order.
	Fields []settingField
	// SoftDays is the soft-bounce window field's value.
	SoftDays string
	// RuleLocked says which bounce rules a flag or variable set (by their
	// BounceRules JSON names, as list.SettingsHooks.Locked): read-only.
	RuleLocked map[string]string
	// Checks are the doctor's verdicts once asked for (Checked).
	Checks    []list.Check
	Checked   bool
	HasDoctor bool
	DNS       []string
	StoreSize string
}

// settingField is one editable setting on the form.
type settingField struct {
	Key, Label, Help string
	// Value is the stored (or just submitted) value; Running the one in
	// force, shown as the placeholder.
	Value, Running string
	// Locked says which flag or variable set it; the field is read-only.
	Locked string
	// Restart marks a setting the running server takes only on restart.
	Restart   bool
	Type      string
	Multiline bool
	// Invalid marks a value the refused form had wrong; Focus the first
	// of them, where the keyboard lands when the page comes back.
	Invalid, Focus bool
}

// SoftWindowDays is the soft-bounce window in days.
func (p settingsPage) SoftWindowDays() string {
	return fmt.Sprintf("%.0f", p.Rules.SoftWindow.Hours()/24)
}

var settingHelp = map[string]string{
	"domain":         "Message-ID, List-Id and mailto unsubscribe addresses.",
	"bounce_domain":  "Domain of the VERP bounce addresses (the sending domain when empty).",
	"from":           `Default sender, "Name <address>".`,
	"postal_address": "Printed in every footer; campaigns refuse to send without it.",
	"privacy_url":    "Linked from the forms and the mail footers.",
	"base_url":       "Public URL of the links in mails; one-click unsubscribe needs HTTPS.",
	"relay":          "smtp://[user:pass@]host:port (STARTTLS), smtps://… (TLS) or smtp+plain://…; empty: the outbox.",
	"rate":           "Messages per second; 0 is unlimited.",
	"max_conns":      "Outbound SMTP connections at most.",
}

// settingsNotices are the messages a redirect after a settings form shows.
var settingsNotices = map[string]string{
	"saved":   "The settings were saved and are in force.",
	"restart": "The settings were saved. The domains, relay, rate and connections take effect after a restart.",
	"same":    "Nothing changed.",
	"bounces": "The bounce rules were saved.",
}

// settingsData builds the page from the stored settings, or from form
// values when a refused form is shown again, with its invalid fields.
func (s *Server) settingsData(r *http.Request, form map[string]string, invalid map[string]bool) (settingsPage, error) {
	ctx := r.Context()
	rules, err := s.svc.BounceRules(ctx)
	if err != nil {
		return settingsPage{}, err
	}
	stored, err := s.svc.Settings(ctx)
	if err != nil {
		return settingsPage{}, err
	}
	running, locked := s.svc.RunningSettings(), s.svc.SettingsLocked()
	p := settingsPage{Config: s.svc.Config(), Outbox: s.outbox, Rules: rules, DNS: s.svc.DNSRecords(ctx),
		StoreSize: list.FormatBytes(s.svc.StoreSize())}
	p.HasDoctor = s.svc.HasSettingsDoctor()
	p.SoftDays = p.SoftWindowDays()
	p.RuleLocked = locked
	for _, k := range list.SettingFields {
		f := settingField{Key: k, Label: list.SettingLabel(k), Help: settingHelp[k], Value: stored.Field(k),
			Running: running.Field(k), Locked: locked[k], Restart: slices.Contains(list.RestartFields, k), Type: "text", Invalid: invalid[k]}
		if v, ok := form[k]; ok {
			f.Value = v
		}
		f.Focus = f.Invalid && !slices.ContainsFunc(p.Fields, func(g settingField) bool { return g.Invalid })
		if f.Locked != "" {
			f.Value = f.Running
		}
		switch k {
		case "rate", "max_conns":
			f.Type = "number"
		case "privacy_url", "base_url":
			f.Type = "url"
		}
		f.Multiline = k == "postal_address"
		p.Fields = append(p.Fields, f)
	}
	return p, nil
}

// renderSettings renders the page with a notice or an error.
func (s *Server) renderSettings(w http.ResponseWriter, r *http.Request, status int, p settingsPage, errMsg string) error {
	v := view{Data: p, Nav: "settings", Error: errMsg, Notice: settingsNotices[r.URL.Query().Get("done")]}
	return s.pageStatus(w, r, status, "settings", v)
}

func (s *Server) uiSettings(w http.ResponseWriter, r *http.Request) error {
	p, err := s.settingsData(r, nil, nil)
	if err != nil {
		return err
	}
	return s.renderSettings(w, r, http.StatusOK, p, "")
}

// uiSaveSettings stores the settings form. Locked fields are disabled on
// the form, so absent: they keep their stored value, and a crafted value
// for one is refused by the service.
func (s *Server) uiSaveSettings(w http.ResponseWriter, r *http.Request) error {
	if err := uiForm(w, r); err != nil {
		return err
	}
	ctx := r.Context()
	stored, err := s.svc.Settings(ctx)
	if err != nil {
		return err
	}
	form := map[string]string{}
	for _, k := range list.SettingFields {
		if vs, ok := r.PostForm[k]; ok && len(vs) > 0 {
			form[k] = strings.TrimSpace(vs[0])
		}
	}
	n, err := settingsFromForm(stored, form)
	if err == nil {
		var changed []string
		if changed, err = s.svc.SaveSettings(ctx, n, s.origin(r)); err == nil {
			done := "saved"
			switch {
			case len(changed) == 0:
				done = "same"
			case list.NeedsRestart(changed):
				done = "restart"
			}
			return redirect(w, r, "/admin/settings", done)
		}
	}
	ei := classify(err)
	if ei.status != http.StatusUnprocessableEntity {
		return err
	}
	p, perr := s.settingsData(r, form, list.InvalidFields(err))
	if perr != nil {
		return perr
	}
	return s.renderSettings(w, r, ei.status, p, ei.msg)
}

// settingsFromForm overlays the submitted fields on the stored settings.
func settingsFromForm(n list.Settings, form map[string]string) (list.Settings, error) {
	str := map[string]*string{"domain": &n.Domain, "bounce_domain": &n.BounceDomain, "from": &n.From,
		"postal_address": &n.PostalAddress, "privacy_url": &n.PrivacyURL, "base_url": &n.BaseURL}
	for k, p := range str {
		if v, ok := form[k]; ok {
			*p = v
		}
	}
	// The form shows the relay with its password redacted: that same text
	// back means "unchanged".
	if v, ok := form["relay"]; ok && v != list.RedactRelay(n.Relay) {
		n.Relay = v
	}
	if v, ok := form["rate"]; ok {
		n.Rate = nil
		if v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return n, fmt.Errorf("%w: %w", list.ErrInvalid, &list.FieldError{Field: "rate", Err: fmt.Errorf("rate %q is not a number", v)})
			}
			n.Rate = &f
		}
	}
	if v, ok := form["max_conns"]; ok {
		n.MaxConns = 0
		if v != "" {
			c, err := strconv.Atoi(v)
			if err != nil || c < 1 {
				return n, fmt.Errorf("%w: %w", list.ErrInvalid, &list.FieldError{Field: "max_conns", Err: errors.New("connections must be a whole number, 1 or more")})
			}
			n.MaxConns = c
		}
	}
	return n, nil
}

// uiSaveBounceRules stores the bounce rules form. A rule set by a flag or
// variable is disabled on the form, so absent: it keeps its value, and a
// different value for it is refused.
func (s *Server) uiSaveBounceRules(w http.ResponseWriter, r *http.Request) error {
	if err := uiForm(w, r); err != nil {
		return err
	}
	ctx := r.Context()
	rules, err := s.svc.BounceRules(ctx)
	if err != nil {
		return err
	}
	locked := s.svc.SettingsLocked()
	form := map[string]string{}
	var errMsg string
	for _, f := range []struct{ name, key, label, cur string }{
		{"hard_limit", "hard_limit", "the hard bounce limit", strconv.Itoa(rules.HardLimit)},
		{"soft_limit", "soft_limit", "the soft bounce limit", strconv.Itoa(rules.SoftLimit)},
		{"soft_days", "soft_window", "the soft bounce window", settingsPage{Rules: rules}.SoftWindowDays()},
	} {
		v := strings.TrimSpace(r.PostForm.Get(f.name))
		if where := locked[f.key]; where != "" {
			if v != "" && v != f.cur && errMsg == "" {
				errMsg = fmt.Sprintf("Bounce rules: %s is set by %s: change it there and restart.", f.label, where)
			}
			v = f.cur
		}
		form[f.name] = v
	}
	hard, err1 := strconv.Atoi(form["hard_limit"])
	soft, err2 := strconv.Atoi(form["soft_limit"])
	days, err3 := strconv.Atoi(form["soft_days"])
	// A locked window may be no whole number of days (--soft-bounce-window
	// 36h): it is kept as it is.
	windowLocked := locked["soft_window"] != ""
	validDays := windowLocked || err3 == nil && days >= 1 && days <= 3650
	if errMsg == "" && err1 == nil && err2 == nil && validDays && hard >= 1 && soft >= 1 {
		rules.HardLimit, rules.SoftLimit = hard, soft
		if !windowLocked {
			rules.SoftWindow = time.Duration(days) * 24 * time.Hour
		}
		if err = s.svc.SetBounceRules(ctx, rules); err != nil {
			return err
		}
		s.svc.RecordAudit(ctx, s.origin(r), "settings.bounce_rules", fmt.Sprintf("hard=%d soft=%d days=%d", hard, soft, days))
		return redirect(w, r, "/admin/settings", "bounces")
	}
	if errMsg == "" {
		errMsg = "Bounce rules: the limits must be whole numbers of at least 1, and the soft bounce window 1 to 3650 days."
	}
	p, err := s.settingsData(r, nil, nil)
	if err != nil {
		return err
	}
	p.SoftDays = form["soft_days"]
	p.Rules.HardLimit, p.Rules.SoftLimit = hard, soft
	return s.renderSettings(w, r, http.StatusUnprocessableEntity, p, errMsg)
}

// uiCheckSettings runs the checks of the sending setup (DNS, relay
// connection, STARTTLS and AUTH) and shows their verdicts: the relay's
// "test connection". It changes nothing.
func (s *Server) uiCheckSettings(w http.ResponseWriter, r *http.Request) error {
	p, err := s.settingsData(r, nil, nil)
	if err != nil {
		return err
	}
	p.Checks, p.Checked = s.svc.SettingsDoctor(r.Context())
	return s.renderSettings(w, r, http.StatusOK, p, "")
}

// uiBackup is the settings page's download of a consistent copy of the
// store: the session-authenticated twin of GET /api/v1/backup.
func (s *Server) uiBackup(w http.ResponseWriter, r *http.Request) error {
	return s.apiBackup(w, r)
}
