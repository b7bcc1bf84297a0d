package list

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// DefaultFreeMailDomains are the common free-mail domains a list with
// BlockFreeMail refuses unless Config.FreeMailDomains replaces them. A
// final "*" label matches any top-level suffix (yahoo.* is yahoo.com,
// yahoo.co.uk, …).
var DefaultFreeMailDomains = []string{
	"gmail.com", "googlemail.com", "yahoo.*", "ymail.com", "rocketmail.com",
	"outlook.com", "hotmail.*", "live.*", "msn.com", "icloud.com", "me.com", "mac.com",
	"aol.com", "gmx.*", "web.de", "t-online.de", "freenet.de", "proton.me", "protonmail.com", "pm.me",
	"yandex.*", "mail.ru", "inbox.ru", "list.ru", "bk.ru", "zoho.com", "zohomail.com",
	"tutanota.com", "tuta.io", "fastmail.com", "mail.com", "qq.com", "163.com", "126.com",
	"laposte.net", "orange.fr", "wanadoo.fr", "free.fr", "libero.it", "seznam.cz", "wp.pl", "o2.pl",
	"interia.pl", "rediffmail.com", "naver.com", "hanmail.net",
}

// roleLocals are the local parts of role addresses: they reach a function
// or a team rather than a person who gave consent, or no one at all.
var roleLocals = map[string]bool{
	"postmaster": true, "abuse": true, "hostmaster": true, "webmaster": true,
	"noreply": true, "no-reply": true, "donotreply": true, "do-not-reply": true,
	"mailer-daemon": true, "root": true, "admin": true, "administrator": true,
	"security": true, "nobody": true, "list": true, "list-request": true,
	"majordomo": true, "listserv": true, "bounce": true, "bounces": true,
}

// IsRoleAddress reports whether a is a role address such as postmaster@.
// A +tag is ignored (postmaster+x@ is still postmaster).
func IsRoleAddress(a Address) bool {
	local, _, _ := strings.Cut(a.Identity, "@")
	local, _, _ = strings.Cut(local, "+")
	return roleLocals[local]
}

// CheckAddress applies the list's address rules to a parsed address (the
// syntax is checked by ParseAddress): role addresses are refused unless the
// list allows them, then the allowed and blocked domains and, with
// BlockFreeMail, the free-mail domains of the configuration. Subscribe,
// AddSubscriber and imports all call it; the error wraps ErrInvalid and
// says why in words a person understands.
func (s *Service) CheckAddress(l *List, a Address) error {
	return l.checkAddress(a, s.Config().FreeMailDomains)
}

// CheckAddress is Service.CheckAddress with DefaultFreeMailDomains.
func (l *List) CheckAddress(a Address) error {
	return l.checkAddress(a, nil)
}

func (l *List) checkAddress(a Address, free []string) error {
	if a.Identity == "" || a.Domain == "" {
		return fmt.Errorf("%w: the email address is not valid", ErrInvalid)
	}
	if !l.AllowRoles && IsRoleAddress(a) {
		// As typed, and quoted: a form capitalises a message's first
		// letter, which would change the person's own input.
		return fmt.Errorf("%w: %s is a role address, not a person's; please use your own address", ErrInvalid, shown(a.Display))
	}
	if len(l.AllowDomains) > 0 && !domainIn(a.Domain, l.AllowDomains) {
		return fmt.Errorf("%w: this list only accepts addresses at %s", ErrInvalid, strings.Join(l.AllowDomains, ", "))
	}
	if domainIn(a.Domain, l.BlockDomains) {
		return fmt.Errorf("%w: this list does not accept addresses at %s", ErrInvalid, a.Domain)
	}
	if l.BlockFreeMail {
		if free == nil {
			free = DefaultFreeMailDomains
		}
		if domainIn(a.Domain, free) {
			return fmt.Errorf("%w: this list does not accept free-mail addresses (%s); please use your work address", ErrInvalid, a.Domain)
		}
	}
	return nil
}

// domainIn reports whether domain matches one of the patterns: the same
// domain or a subdomain of it ("example.com" matches "mail.example.com"),
// and a final "*" label matches any suffix ("yahoo.*" matches "yahoo.co.uk").
func domainIn(domain string, patterns []string) bool {
	for _, p := range patterns {
		p = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(p, "@")))
		if p == "" {
			continue
		}
		if base, ok := strings.CutSuffix(p, ".*"); ok {
			if strings.HasPrefix(domain, base+".") || strings.Contains(domain, "."+base+".") {
				return true
			}
			continue
		}
		if domain == p || strings.HasSuffix(domain, "."+p) {
			return true
		}
	}
	return false
}

// validateRules checks and normalizes a list's domain rules.
func validateRules(l *List) error {
	for _, ds := range []*[]string{&l.AllowDomains, &l.BlockDomains} {
		if len(*ds) > 1000 {
			return fmt.Errorf("%w: at most 1000 domains per rule", ErrInvalid)
		}
		out := (*ds)[:0]
		for _, d := range *ds {
			d = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(d), "@")))
			if d == "" {
				continue
			}
			if len(d) > 253 || strings.ContainsAny(d, " @/\\,;\t\r\n") || !strings.Contains(d, ".") {
				return fmt.Errorf("%w: %q is not a domain", ErrInvalid, d)
			}
			out = append(out, d)
		}
		*ds = out
	}
	return nil
}

// checkForm applies the rules of the public form on top of CheckAddress:
// the domain must be able to receive mail. A DNS that does not answer
// accepts the address (fail open): a slow resolver must not lose readers.
func (s *Service) checkForm(ctx context.Context, l *List, a Address) error {
	if err := s.CheckAddress(l, a); err != nil {
		return err
	}
	return s.checkMailDomain(ctx, a)
}

// checkMailDomain refuses an address whose domain cannot receive mail, as
// a person typing it would want to know, failing open as checkForm does.
func (s *Service) checkMailDomain(ctx context.Context, a Address) error {
	if s.mx == nil || s.mx.lookup == nil {
		return nil
	}
	ok, err := s.mx.check(ctx, a.Domain)
	if err != nil {
		s.log.Debug("mx lookup failed: accepting", "err", err)
		return nil
	}
	if !ok {
		return fmt.Errorf("%w: the domain %s cannot receive mail; please check the address", ErrInvalid, a.Domain)
	}
	return nil
}

// mxCache remembers LookupMX answers for a while, bounded in size.
type mxCache struct {
	lookup func(ctx context.Context, domain string) (bool, error)
	now    func() time.Time
	ttl    time.Duration
	max    int

	mu      sync.Mutex
	entries map[string]mxEntry
}

type mxEntry struct {
	ok      bool
	expires time.Time
}

// mxLookupTimeout bounds one lookup: past it the address is accepted.
const mxLookupTimeout = 3 * time.Second

func newMXCache(lookup func(ctx context.Context, domain string) (bool, error), now func() time.Time) *mxCache {
	return &mxCache{lookup: lookup, now: now, ttl: time.Hour, max: 10000, entries: map[string]mxEntry{}}
}

// check answers from the cache or looks the domain up. Failures are not
// cached, so the next sign-up asks again.
func (c *mxCache) check(ctx context.Context, domain string) (bool, error) {
	now := c.now()
	c.mu.Lock()
	e, hit := c.entries[domain]
	c.mu.Unlock()
	if hit && now.Before(e.expires) {
		return e.ok, nil
	}
	lctx, cancel := context.WithTimeout(ctx, mxLookupTimeout)
	defer cancel()
	ok, err := c.lookup(lctx, domain)
	if err != nil {
		return false, err
	}
	ttl := c.ttl
	if !ok {
		ttl = c.ttl / 4 // a domain being set up should not wait long
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		c.evict(now)
	}
	c.entries[domain] = mxEntry{ok: ok, expires: now.Add(ttl)}
	return ok, nil
}

// evict drops expired entries, and then any half of the rest if still full.
func (c *mxCache) evict(now time.Time) {
	for d, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, d)
		}
	}
	for d := range c.entries {
		if len(c.entries) < c.max/2 {
			return
		}
		delete(c.entries, d)
	}
}

// checkSignUp applies the address rules of a sign-up: the list's rules on
// every path, and on the public form also the domain's ability to receive
// mail.
func (s *Service) checkSignUp(ctx context.Context, l *List, a Address, how How) error {
	if how == HowForm {
		return s.checkForm(ctx, l, a)
	}
	return s.CheckAddress(l, a)
}

// ApplyRules copies the set address-rule fields of p onto l.
func (p ListPatch) ApplyRules(l *List) {
	if p.AllowDomains != nil {
		l.AllowDomains = append([]string(nil), (*p.AllowDomains)...)
	}
	if p.BlockDomains != nil {
		l.BlockDomains = append([]string(nil), (*p.BlockDomains)...)
	}
	if p.BlockFreeMail != nil {
		l.BlockFreeMail = *p.BlockFreeMail
	}
	if p.AllowRoles != nil {
		l.AllowRoles = *p.AllowRoles
	}
}
