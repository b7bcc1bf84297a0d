package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/smtp"
)

// config is every setting of the serve command and the subcommands that
// share it.
type config struct {
	Data          string
	HTTP          string
	SMTPIn        string
	Relay         string
	BaseURL       string
	Domain        string
	BounceDomain  string
	From          string
	PostalAddress string
	PrivacyURL    string
	DKIMSelector  string
	DKIMSign      string
	Rate          float64
	MaxConns      int
	TrustedProxy  string
	LogFormat     string
	LogLevel      string
	Server        string
	// Resolver is the DNS server (host:port) of the form's MX check and doctor.
	Resolver string
	// Privacy holds the retention settings (privacy_config.go).
	Privacy privacySettings
	// Inbound holds the inbound server's limits and the bounce rules (inbound.go).
	Inbound inboundSettings
	// Scheduled backups and store upkeep (backup_schedule.go).
	BackupDir   string
	BackupEvery time.Duration
	BackupKeep  int
	FoldAfter   time.Duration
	// set records which settings came from a flag or the environment: they
	// show read-only in the UI; env, those that came from the environment.
	set, env map[string]bool
}

// envName is the environment variable of a flag: BULLETIN_ + upper-cased, - → _.
func envName(flagName string) string {
	return "BULLETIN_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// newFlagSet returns a flag set that writes its usage to w.
func newFlagSet(name string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(w)
	return fs
}

// dataFlag registers --data, which every subcommand takes.
func dataFlag(fs *flag.FlagSet, c *config) {
	fs.StringVar(&c.Data, "data", "./data", "data folder `DIR`: the store file and the outbox Maildir")
}

// serveFlags registers the serve settings on fs.
func serveFlags(fs *flag.FlagSet, c *config) {
	dataFlag(fs, c)
	fs.StringVar(&c.HTTP, "http", "127.0.0.1:8080", "HTTP listen address: admin UI, API and public pages")
	fs.StringVar(&c.SMTPIn, "smtp-in", "127.0.0.1:2525", "inbound SMTP listen address: bounces, complaints, mailto unsubscribes")
	fs.StringVar(&c.Relay, "relay", "", "outbound relay URL: smtp://[user:pass@]host:port, smtps://…, smtp+plain://… (none: the outbox Maildir)")
	fs.StringVar(&c.BaseURL, "base-url", "", "public base URL of links in mails (default: follows --http)")
	fs.StringVar(&c.Domain, "domain", "localhost", "sending domain: Message-ID, List-Id, mailto unsubscribe")
	fs.StringVar(&c.BounceDomain, "bounce-domain", "", "domain of VERP bounce addresses (default: --domain)")
	fs.StringVar(&c.From, "from", "", `default sender "Name <addr>" (default: Bulletin <newsletter@DOMAIN>)`)
	fs.StringVar(&c.PostalAddress, "postal-address", "", "sender's postal address for every footer (none: campaigns refuse to send)")
	fs.StringVar(&c.PrivacyURL, "privacy-url", "", "privacy policy URL linked from forms and mail footers")
	fs.StringVar(&c.DKIMSelector, "dkim-selector", "bulletin", "DKIM selector")
	fs.StringVar(&c.DKIMSign, "dkim-sign", "rsa", "DKIM signatures on every mail: rsa (RSA-2048), ed25519, both, or off")
	fs.Float64Var(&c.Rate, "rate", 50, "outbound messages per second (0: unlimited)")
	fs.IntVar(&c.MaxConns, "max-conns", 8, "outbound SMTP connections at most")
	fs.StringVar(&c.TrustedProxy, "trusted-proxy", "", "comma-separated CIDRs whose X-Forwarded-For is believed (none: ignored)")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	privacyFlags(fs, c)
	opsFlags(fs, c)
	inboundFlags(fs, c)
}

// parse parses args, then fills every flag not given from its environment
// variable, and reports all bad values at once.
func parse(fs *flag.FlagSet, args []string, getenv func(string) string, c *config) error {
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	return fromEnv(fs, getenv, c)
}

// parseArgs parses args into fs. -h prints the flags to fs's output; a
// mistake is only returned, for main to print once, with a pointer to -h:
// the flag package's own report prints it, then every flag (some sixty for
// serve), and main printed it again below them.
func parseArgs(fs *flag.FlagSet, args []string) error {
	w := fs.Output()
	fs.SetOutput(io.Discard)
	defer fs.SetOutput(w)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(w)
		fmt.Fprintf(w, "Usage of %s:\n", fs.Name())
		fs.PrintDefaults()
		return err
	}
	if err != nil {
		return fmt.Errorf("%w (bulletin %s -h lists the flags)", err, fs.Name())
	}
	return nil
}

// otherEnv are the BULLETIN_ variables that are not serve flags: the
// secrets, and the flags of other subcommands (a shell that exports
// BULLETIN_SERVER for "campaign send" starts serve too).
var otherEnv = []string{"BULLETIN_ADMIN_PASSWORD", "BULLETIN_PASSWORD", "BULLETIN_TOKEN",
	"BULLETIN_SERVER", "BULLETIN_LIST", "BULLETIN_STATE", "BULLETIN_MODE", "BULLETIN_REASON", "BULLETIN_ROLE", "BULLETIN_TYPE"}

// envWarning is a BULLETIN_ variable that no flag reads, and the closest
// one that does ("" if none is close).
type envWarning struct {
	name string
	like suggestion
}

// suggestion is the variable a misspelt one was likely meant to be. Logged,
// an empty one leaves its attribute out instead of showing did_you_mean="".
type suggestion string

// LogValue implements slog.LogValuer: an empty group is left out of a log line.
func (s suggestion) LogValue() slog.Value {
	if s == "" {
		return slog.GroupValue()
	}
	return slog.StringValue(string(s))
}

// unknownEnv returns the BULLETIN_ variables in environ that are neither a
// flag of fs nor one of otherEnv: a misspelt one (BULLETIN_RELAY_URL) is
// otherwise ignored without a word, and the setting keeps its default.
func unknownEnv(fs *flag.FlagSet, environ []string) []envWarning {
	known := slices.Clone(otherEnv)
	fs.VisitAll(func(f *flag.Flag) { known = append(known, envName(f.Name)) })
	var out []envWarning
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "BULLETIN_") || slices.Contains(known, name) {
			continue
		}
		w := envWarning{name: name}
		best := 4 // farther than 3 edits is no suggestion
		for _, k := range known {
			d := editDistance(name, k)
			if strings.HasPrefix(name, k+"_") || strings.HasPrefix(k, name+"_") {
				d = min(d, 2) // BULLETIN_RELAY_URL for BULLETIN_RELAY
			}
			if d < best {
				w.like, best = suggestion(k), d
			}
		}
		out = append(out, w)
	}
	return out
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// fromEnv fills every flag not given on the command line from its
// environment variable and records which settings were set. A bad value is
// reported with its variable, the value and what the flag wants, and does
// not stop the others from being read: serve reports them with the
// validation errors.
func fromEnv(fs *flag.FlagSet, getenv func(string) string, c *config) error {
	c.set, c.env = map[string]bool{}, map[string]bool{}
	fs.Visit(func(f *flag.Flag) { c.set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if c.set[f.Name] {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s %q: %w%s", envName(f.Name), v, err, flagWant(f)))
				// flag's number values keep the zero of a failed parse,
				// which the checks would then refuse as if it were given.
				fs.Set(f.Name, f.DefValue)
			}
			c.set[f.Name], c.env[f.Name] = true, true
		}
	})
	return errors.Join(errs...)
}

// flagWant says what kind of value a flag takes, for errors whose own text
// (the flag package's "parse error") does not.
func flagWant(f *flag.Flag) string {
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return ""
	}
	switch g.Get().(type) {
	case bool:
		return ": want true or false"
	case int, int64, uint, uint64:
		return ": want a whole number"
	case float64:
		return ": want a number"
	case time.Duration:
		return ": want a duration such as 90m, 36h or 30d"
	}
	return ""
}

// validate checks the serve settings and derives the defaults that follow
// other settings.
func (c *config) validate() error {
	var errs []error
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("--log-format must be text or json, not %q", c.LogFormat))
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		errs = append(errs, fmt.Errorf("--log-level must be debug, info, warn or error, not %q", c.LogLevel))
	}
	if _, err := net.ResolveTCPAddr("tcp", c.HTTP); err != nil {
		errs = append(errs, fmt.Errorf("--http %q: %w", c.HTTP, err))
	}
	if _, err := net.ResolveTCPAddr("tcp", c.SMTPIn); err != nil {
		errs = append(errs, fmt.Errorf("--smtp-in %q: %w", c.SMTPIn, err))
	}
	switch c.DKIMSign {
	case "rsa", "ed25519", "both", "off":
	default:
		errs = append(errs, fmt.Errorf("--dkim-sign must be rsa, ed25519, both or off, not %q", c.DKIMSign))
	}
	if c.Rate < 0 || c.MaxConns < 1 {
		errs = append(errs, errors.New("--rate must be ≥ 0 and --max-conns ≥ 1"))
	}
	if _, err := c.proxies(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.Privacy.errors(c.Resolver)...)
	errs = append(errs, c.Inbound.errors()...)
	errs = append(errs, c.opsErrors()...)
	// An international domain is taken as typed and used in its xn-- form,
	// as the settings page does.
	c.Domain, c.BounceDomain, c.From = list.ASCIIDomain(c.Domain), list.ASCIIDomain(c.BounceDomain), list.ASCIISender(c.From)
	errs = append(errs, c.mailErrors()...)
	if c.BaseURL == "" {
		c.BaseURL = baseURLOf(c.HTTP)
	}
	if err := checkBaseURL(c.BaseURL); err != nil {
		errs = append(errs, err)
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.BounceDomain == "" {
		c.BounceDomain = c.Domain
	}
	if c.From == "" {
		c.From = "Bulletin <newsletter@" + c.Domain + ">"
	}
	return errors.Join(errs...)
}

// mailErrors checks the domains, the sender, the privacy policy URL and the
// relay: the sender and the service refuse them too, but only once the
// store is open and, on a fresh folder, the first admin's password shown.
func (c *config) mailErrors() []error {
	var errs []error
	for _, d := range []struct{ flag, v string }{{"--domain", c.Domain}, {"--bounce-domain", c.BounceDomain}} {
		if d.v != "" && !list.ValidMailDomain(d.v) {
			errs = append(errs, fmt.Errorf("%s %q is not a valid domain", d.flag, d.v))
		}
	}
	if c.DKIMSelector != "" && !list.ValidHostName(c.DKIMSelector) {
		errs = append(errs, fmt.Errorf("--dkim-selector %q must be a DNS name: letters, digits, hyphens and dots", c.DKIMSelector))
	}
	if c.From != "" && !list.ValidSender(c.From) {
		errs = append(errs, fmt.Errorf("--from %q must be \"Name <address>\" or an address", c.From))
	}
	if c.PrivacyURL != "" && !list.ValidURL(c.PrivacyURL, "http", "https") {
		errs = append(errs, fmt.Errorf("--privacy-url %q must be an http:// or https:// URL", c.PrivacyURL))
	}
	// The relay URL may hold its password: errors show it redacted, or
	// not at all when it does not even parse.
	if _, err := url.Parse(c.Relay); err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		errs = append(errs, fmt.Errorf("--relay is not a URL: %w", err))
	} else if c.Relay != "" {
		if err := smtp.CheckRelay(c.Relay); err != nil {
			errs = append(errs, fmt.Errorf("--relay %s: %w", list.RedactRelay(c.Relay), err))
		}
	}
	return errs
}

// baseURLOf is the base URL that follows an HTTP listen address: one
// without a host, or on every interface, is reached as localhost, since
// "http://:8080" or "http://[::]:8080" in a confirmation mail leads
// nowhere.
func baseURLOf(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if ip, err := netip.ParseAddr(host); host == "" || err == nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// checkBaseURL refuses a base URL that cannot be the origin of every link.
func checkBaseURL(base string) error {
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return fmt.Errorf("--base-url %q must start with http:// or https://", base)
	}
	if u, err := url.Parse(base); err != nil || !list.ValidURL(base, "http", "https") || u.Hostname() == "" {
		return fmt.Errorf("--base-url %q must be an http:// or https:// URL with a host", base)
	}
	if !list.ValidOrigin(base) {
		return fmt.Errorf("--base-url %q must be an origin without a path, like https://news.example.com: Bulletin serves at the root of its host name", base)
	}
	return nil
}

// proxies parses --trusted-proxy.
func (c *config) proxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(c.TrustedProxy, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		// A bare address is the one proxy at it.
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("--trusted-proxy %q is neither an address nor a network such as 10.0.0.0/8 or fd00::/8", s)
		}
		out = append(out, p)
	}
	return out, nil
}

// logger builds the slog logger the settings ask for.
func (c *config) logger(w io.Writer) *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		lvl = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// storePath is the bbolt file inside the data folder.
func (c *config) storePath() string { return filepath.Join(c.Data, "bulletin.db") }

// outboxDir is the Maildir of mail that had no relay to go to.
func (c *config) outboxDir() string { return filepath.Join(c.Data, "outbox") }

// ensureData creates the data folder and its outbox Maildir.
func (c *config) ensureData() error {
	for _, d := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(c.outboxDir(), d), 0o700); err != nil {
			return fmt.Errorf("data folder: %w", err)
		}
	}
	return nil
}

// validateOffline fills the defaults a subcommand on a stopped store needs.
func (c *config) validateOffline() error {
	if c.HTTP == "" {
		c.HTTP = "127.0.0.1:8080"
	}
	if c.SMTPIn == "" {
		c.SMTPIn = "127.0.0.1:2525"
	}
	if c.Domain == "" {
		c.Domain = "localhost"
	}
	if c.DKIMSelector == "" {
		c.DKIMSelector = "bulletin"
	}
	if c.DKIMSign == "" {
		c.DKIMSign = "rsa"
	}
	if c.MaxConns == 0 {
		c.MaxConns = 1
	}
	if c.LogFormat == "" {
		c.LogFormat = "text"
	}
	if c.LogLevel == "" {
		c.LogLevel = "warn"
	}
	return c.validate()
}

// relayHost is the host part of a relay URL, for the SPF guidance.
func relayHost(relay string) string {
	u, err := url.Parse(relay)
	if err != nil || relay == "" {
		return ""
	}
	return u.Hostname()
}
