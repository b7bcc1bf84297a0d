package list

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// settingsKey is the store setting under which the settings page keeps what
// an admin saved.
const settingsKey = "ui.settings"

// Settings are the instance settings an admin may edit on the settings
// page. An empty field (nil Rate, zero MaxConns) is not set and leaves the
// flag, environment or default value in force. Flags and environment
// variables win over stored settings: the fields they set are Locked.
type Settings struct {
	Domain        string   `json:"domain,omitempty"`
	BounceDomain  string   `json:"bounce_domain,omitempty"`
	From          string   `json:"from,omitempty"`
	PostalAddress string   `json:"postal_address,omitempty"`
	PrivacyURL    string   `json:"privacy_url,omitempty"`
	BaseURL       string   `json:"base_url,omitempty"`
	Relay         string   `json:"relay,omitempty"`
	Rate          *float64 `json:"rate,omitempty"`
	MaxConns      int      `json:"max_conns,omitempty"`
}

// SettingFields are the keys of the Settings fields, in page order; Locked
// and Settings.Field use them.
var SettingFields = []string{"domain", "bounce_domain", "from", "postal_address", "privacy_url", "base_url", "relay", "rate", "max_conns"}

// RestartFields are the settings the running server cannot take at once:
// the sender and the inbound server are built with them.
var RestartFields = []string{"domain", "bounce_domain", "relay", "rate", "max_conns"}

// Field returns a field's value as the settings form shows it (the relay
// URL with its password redacted).
func (s Settings) Field(key string) string {
	switch key {
	case "domain":
		return s.Domain
	case "bounce_domain":
		return s.BounceDomain
	case "from":
		return s.From
	case "postal_address":
		return s.PostalAddress
	case "privacy_url":
		return s.PrivacyURL
	case "base_url":
		return s.BaseURL
	case "relay":
		return RedactRelay(s.Relay)
	case "rate":
		if s.Rate == nil {
			return ""
		}
		return fmt.Sprint(*s.Rate)
	case "max_conns":
		if s.MaxConns == 0 {
			return ""
		}
		return fmt.Sprint(s.MaxConns)
	}
	return ""
}

// same reports whether a and b hold the same value for key.
func (s Settings) same(o Settings, key string) bool {
	if key == "relay" {
		return s.Relay == o.Relay
	}
	return s.Field(key) == o.Field(key)
}

// Check is the outcome of one check of the sending setup (the doctor): its
// Status is "pass", "warn" or "fail", and Fix says what to do unless it
// passed.
type Check struct {
	Name   string
	Status string
	Detail string
	Fix    string
}

// SettingsHooks connect the settings page to what only the wiring knows.
// Every field is optional.
type SettingsHooks struct {
	// Locked maps the key of each setting given by a flag or an
	// environment variable to where it came from ("--relay /
	// BULLETIN_RELAY"): the page shows those read-only and SaveSettings
	// refuses to change them. The bounce rules go by their BounceRules
	// JSON names (hard_limit, soft_limit, soft_window).
	Locked map[string]string
	// Apply is told of saved settings, to put the ones the running server
	// can take into force (Config); nil applies the non-empty Config
	// fields directly.
	Apply func(Settings)
	// Running returns the settings in force in the running server; nil
	// derives the Config ones.
	Running func() Settings
	// Doctor checks the sending setup with the saved settings: DNS, relay
	// connection, STARTTLS and AUTH, postal address, base URL.
	Doctor func(ctx context.Context) []Check
	// DNSRecords returns the zone-file lines to publish (DKIM, SPF, DMARC).
	DNSRecords func(ctx context.Context) []string
}

// LoadSettings reads the stored settings from st; none stored is the zero
// Settings. It serves the wiring before a Service exists.
func LoadSettings(ctx context.Context, st Store) (Settings, error) {
	var s Settings
	data, err := st.Setting(ctx, settingsKey)
	if errors.Is(err, ErrNotFound) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return Settings{}, fmt.Errorf("list: stored settings: %w", err)
	}
	return s, nil
}

// Settings returns the settings stored from the settings page.
func (s *Service) Settings(ctx context.Context) (Settings, error) {
	return LoadSettings(ctx, s.store)
}

// SettingsLocked returns the settings set by flag or environment (key →
// where from).
func (s *Service) SettingsLocked() map[string]string { return s.settings.Locked }

// RunningSettings returns the settings in force in the running server.
func (s *Service) RunningSettings() Settings {
	if s.settings.Running != nil {
		return s.settings.Running()
	}
	c := s.Config()
	return Settings{Domain: c.Domain, BounceDomain: c.BounceDomain, From: c.From, PostalAddress: c.PostalAddress,
		PrivacyURL: c.PrivacyURL, BaseURL: c.BaseURL}
}

// SaveSettings validates and stores the settings, applies those the running
// server can take (sender, postal address, privacy policy, base URL) and
// records an audit entry. It returns the keys that changed. A locked
// setting cannot change.
func (s *Service) SaveSettings(ctx context.Context, n Settings, o Origin) ([]string, error) {
	n = n.trimmed()
	if err := n.validate(); err != nil {
		return nil, err
	}
	prev, err := s.Settings(ctx)
	if err != nil {
		return nil, err
	}
	var changed []string
	for _, k := range SettingFields {
		if n.same(prev, k) {
			continue
		}
		if where, ok := s.settings.Locked[k]; ok {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, &FieldError{Field: k, Err: fmt.Errorf("%s is set by %s: change it there and restart", settingLabel(k), where)})
		}
		changed = append(changed, k)
	}
	if len(changed) == 0 {
		return nil, nil
	}
	data, err := json.Marshal(n)
	if err != nil {
		return nil, fmt.Errorf("list: encode settings: %w", err)
	}
	if err := s.store.PutSetting(ctx, settingsKey, data); err != nil {
		return nil, err
	}
	if s.settings.Apply != nil {
		s.settings.Apply(n)
	} else {
		s.applySettings(n)
	}
	s.audit(ctx, o, "settings.update", strings.Join(changed, ","))
	return changed, nil
}

// applySettings puts the saved Config settings in force when no Apply hook
// does it.
func (s *Service) applySettings(n Settings) {
	c := s.Config()
	set := func(key, v string, dst *string) {
		if _, locked := s.settings.Locked[key]; !locked && v != "" {
			*dst = v
		}
	}
	set("from", n.From, &c.From)
	set("postal_address", n.PostalAddress, &c.PostalAddress)
	set("privacy_url", n.PrivacyURL, &c.PrivacyURL)
	set("base_url", n.BaseURL, &c.BaseURL)
	s.SetConfig(c)
}

// NeedsRestart reports whether any of the keys takes effect only after a
// restart.
func NeedsRestart(keys []string) bool {
	for _, k := range keys {
		if slices.Contains(RestartFields, k) {
			return true
		}
	}
	return false
}

// SettingsDoctor runs the checks of the sending setup; ok is false when the
// wiring gave no doctor.
func (s *Service) SettingsDoctor(ctx context.Context) (checks []Check, ok bool) {
	if s.settings.Doctor == nil {
		return nil, false
	}
	return s.settings.Doctor(ctx), true
}

// HasSettingsDoctor reports whether the wiring gave a doctor.
func (s *Service) HasSettingsDoctor() bool { return s.settings.Doctor != nil }

// DNSRecords returns the DNS records to publish, or nil when the wiring
// gave none.
func (s *Service) DNSRecords(ctx context.Context) []string {
	if s.settings.DNSRecords == nil {
		return nil
	}
	return s.settings.DNSRecords(ctx)
}

func (n Settings) trimmed() Settings {
	for _, p := range []*string{&n.Domain, &n.BounceDomain, &n.From, &n.PostalAddress, &n.PrivacyURL, &n.BaseURL, &n.Relay} {
		*p = strings.TrimSpace(*p)
	}
	n.Domain, n.BounceDomain = ASCIIDomain(n.Domain), ASCIIDomain(n.BounceDomain)
	n.From = ASCIISender(n.From)
	n.BaseURL = strings.TrimRight(n.BaseURL, "/")
	return n
}

// validate reports every bad value at once, each as a FieldError.
func (n Settings) validate() error {
	var errs []error
	bad := func(field string, err error) { errs = append(errs, &FieldError{Field: field, Err: err}) }
	for _, d := range []struct{ key, v string }{{"domain", n.Domain}, {"bounce_domain", n.BounceDomain}} {
		if d.v == "" {
			continue
		}
		if !ValidMailDomain(d.v) {
			bad(d.key, fmt.Errorf("%s “%s” is not a valid domain", settingLabel(d.key), d.v))
		}
	}
	if n.From != "" && (!ValidSender(n.From) || checkText("from", n.From, 300) != nil) {
		bad("from", fmt.Errorf("sender “%s” is not a valid “Name <address>”", n.From))
	}
	if err := checkText("postal address", n.PostalAddress, 500); err != nil {
		bad("postal_address", errors.New(reason(err)))
	}
	if n.PrivacyURL != "" && !ValidURL(n.PrivacyURL, "http", "https") {
		bad("privacy_url", fmt.Errorf("%s %q must be an http:// or https:// URL", settingLabel("privacy_url"), n.PrivacyURL))
	}
	if n.BaseURL != "" && !ValidOrigin(n.BaseURL) {
		bad("base_url", fmt.Errorf("%s %q must be an http:// or https:// URL without a path, like https://news.example.com", settingLabel("base_url"), n.BaseURL))
	}
	if n.Relay != "" && !ValidURL(n.Relay, "smtp", "smtps", "smtp+plain") {
		bad("relay", errors.New("relay URL must be smtp://[user:pass@]host:port, smtps://… or smtp+plain://…"))
	}
	if n.Rate != nil && !(*n.Rate >= 0 && *n.Rate < 1e9) {
		bad("rate", errors.New("rate must be a number of messages per second, 0 or more (0: unlimited)"))
	}
	if n.MaxConns < 0 || n.MaxConns > 1000 {
		bad("max_conns", errors.New("connections must be between 1 and 1000"))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalid, errors.Join(errs...))
}

// FieldError is a refused value of one form field, named as the form and
// the JSON API name it, so that a form shown again can mark the field.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// fieldError ties a refusal to the form field it is about, leaving its
// text and what it wraps (ErrInvalid) as they were; a nil err stays nil.
func fieldError(field string, err error) error {
	if err == nil {
		return nil
	}
	return &FieldError{Field: field, Err: err}
}

// AttrField is the form (and FieldError) name of the attribute a: the
// public forms post attributes as "attr.NAME", beside their own fields.
func AttrField(a string) string { return "attr." + a }

// InvalidFields names the fields of every FieldError in err's tree,
// joined errors included (errors.As finds only the first).
func InvalidFields(err error) map[string]bool {
	out := map[string]bool{}
	var walk func(error)
	walk = func(err error) {
		if fe, ok := err.(*FieldError); ok {
			out[fe.Field] = true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			if e := u.Unwrap(); e != nil {
				walk(e)
			}
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

// ValidOrigin reports whether s can be the base URL of every link: an
// http:// or https:// URL with a host name and nothing after it but a
// slash. The routes have no prefix: Bulletin serves at the root of its host
// name (reverse-proxy.md), so a path would lead links nowhere.
func ValidOrigin(s string) bool {
	u, err := url.Parse(s)
	return err == nil && ValidURL(s, "http", "https") && u.Hostname() != "" && strings.Trim(u.Path, "/") == "" &&
		u.RawQuery == "" && u.Fragment == "" && u.User == nil && !strings.Contains(s, "?")
}

// ValidHostName reports whether s is dot-separated DNS labels of ASCII
// letters, digits and hyphens, none starting or ending with a hyphen (RFC
// 1123), as host names, mail domains (in their xn-- form) and DKIM
// selectors must be.
func ValidHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// ValidMailDomain reports whether d can be the domain of a sending
// address, in ASCII (its xn-- form for an international name). Unlike
// ParseAddress, which checks subscribers' addresses, it takes a name
// without a dot: the default domain is localhost, and a flag and the
// settings page take the same values.
func ValidMailDomain(d string) bool {
	if !ValidHostName(d) {
		return false
	}
	_, err := mail.ParseAddress("postmaster@" + d)
	return err == nil
}

// ASCIIDomain is domain d as mail and DNS carry it: lower-cased, without a
// trailing dot, and an international name in its ASCII (xn--) form, so
// that "Bücher.example" is taken as typed. A name that cannot be converted
// is returned as given, for ValidMailDomain to refuse.
func ASCIIDomain(d string) string {
	d = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
	// The lenient profile converts even a name with a space: only a valid
	// result is taken, so that a refusal quotes what was typed.
	if a, err := idnaProfile.ToASCII(d); err == nil && ValidHostName(a) {
		return a
	}
	return d
}

// ASCIISender is sender from with an international domain of its address
// in its ASCII form, the rest as typed: "News <news@bücher.example>" becomes
// "News <news@xn--bcher-kva.example>". Header fields of a message without
// SMTPUTF8 must carry it so.
func ASCIISender(from string) string {
	a, err := mail.ParseAddress(from)
	if err != nil {
		return from
	}
	dom := a.Address[strings.LastIndexByte(a.Address, '@')+1:]
	if isASCII(dom) {
		return from
	}
	i := strings.LastIndex(from, "@"+dom)
	if i < 0 {
		return from
	}
	return from[:i+1] + ASCIIDomain(dom) + from[i+1+len(dom):]
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// ValidSender reports whether from is a sending address whose domain
// ValidMailDomain takes, with or without a display name, on one line.
func ValidSender(from string) bool {
	a, err := mail.ParseAddress(from)
	if err != nil || strings.ContainsAny(from, "\r\n\x00") {
		return false
	}
	at := strings.LastIndexByte(a.Address, '@')
	return at > 0 && ValidMailDomain(a.Address[at+1:])
}

// ValidURL reports whether s is an absolute URL with a host, in one of the
// schemes, and without blanks or line breaks.
func ValidURL(s string, schemes ...string) bool {
	u, err := url.Parse(s)
	return err == nil && slices.Contains(schemes, u.Scheme) && u.Host != "" && !strings.ContainsAny(s, " \r\n\t")
}

// RedactRelay hides the password of a relay URL.
func RedactRelay(relay string) string {
	u, err := url.Parse(relay)
	if err != nil || relay == "" {
		return relay
	}
	return u.Redacted()
}

// settingLabel is a setting's name in messages.
func settingLabel(key string) string {
	return map[string]string{
		"domain": "sending domain", "bounce_domain": "bounce domain", "from": "default sender",
		"postal_address": "postal address", "privacy_url": "privacy policy URL", "base_url": "base URL",
		"relay": "relay URL", "rate": "rate limit", "max_conns": "connections",
	}[key]
}

// SettingLabel is a setting's name on the settings page.
func SettingLabel(key string) string { return settingLabel(key) }
