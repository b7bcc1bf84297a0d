package list_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/smtp/dnstest"
	"github.com/bulletin/bulletin/store"
)

// privFixture is a service over a real store with a clock that moves only
// when told to, and an optional MX lookup.
type privFixture struct {
	svc  *list.Service
	db   *store.DB
	mail *recorder
	manualClock
}

// manualClock is a clock that moves only when told.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newPrivFixture(t *testing.T, lookup func(context.Context, string) (bool, error)) *privFixture {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "b.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &privFixture{db: db, mail: &recorder{}, manualClock: manualClock{t: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}}
	f.svc, err = list.New(list.Options{Store: db, Mailer: f.mail, Secret: []byte("0123456789abcdef0123456789abcdef"),
		Now: f.now, LookupMX: lookup, Config: list.Config{BaseURL: "https://news.example.com", Domain: "news.example.com",
			PostalAddress: "1 Main St, Springfield", PrivacyURL: "https://news.example.com/privacy"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Bootstrap(t.Context()); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *privFixture) drain(t *testing.T) []*list.Message {
	t.Helper()
	before := len(f.mail.sent())
	if _, err := f.svc.DrainMailQueue(t.Context()); err != nil {
		t.Fatal(err)
	}
	return f.mail.sent()[before:]
}

func mustAddr(t *testing.T, s string) list.Address {
	t.Helper()
	a, err := list.ParseAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestCheckAddress(t *testing.T) {
	t.Parallel()
	business := &list.List{BlockFreeMail: true}
	only := &list.List{AllowDomains: []string{"acme.example"}}
	blocked := &list.List{BlockDomains: []string{"spam.example"}}
	roles := &list.List{AllowRoles: true}
	plain := &list.List{}
	cases := []struct {
		l    *list.List
		addr string
		ok   bool
		msg  string
	}{
		{plain, "ann@example.com", true, ""},
		{plain, "postmaster@example.com", false, "role address"},
		{plain, "Abuse+x@Example.com", false, "role address"},
		{plain, "no-reply@example.com", false, "role address"},
		{plain, "mailer-daemon@example.com", false, "role address"},
		{roles, "postmaster@example.com", true, ""},
		{business, "ann@gmail.com", false, "free-mail"},
		{business, "ann@yahoo.co.uk", false, "free-mail"},
		{business, "ann@hotmail.fr", false, "free-mail"},
		{business, "ann@gmx.de", false, "free-mail"},
		{business, "ann@icloud.com", false, "free-mail"},
		{business, "ann@acme.example", true, ""},
		{only, "ann@acme.example", true, ""},
		{only, "ann@mail.acme.example", true, ""},
		{only, "ann@acme.example.evil", false, "only accepts"},
		{only, "ann@other.example", false, "only accepts"},
		{blocked, "ann@spam.example", false, "does not accept"},
		{blocked, "ann@x.spam.example", false, "does not accept"},
		{blocked, "ann@notspam.example", true, ""},
	}
	for _, c := range cases {
		err := c.l.CheckAddress(mustAddr(t, c.addr))
		if (err == nil) != c.ok || err != nil && (!errors.Is(err, list.ErrInvalid) || !strings.Contains(err.Error(), c.msg)) {
			t.Errorf("CheckAddress(%q) = %v, want ok=%v (%q)", c.addr, err, c.ok, c.msg)
		}
	}
	// The instance's editable free-mail set replaces the built-in one.
	f := newPrivFixture(t, nil)
	cfg := f.svc.Config()
	cfg.FreeMailDomains = []string{"freebie.example"}
	f.svc.SetConfig(cfg)
	if err := f.svc.CheckAddress(business, mustAddr(t, "a@freebie.example")); err == nil {
		t.Error("the configured free-mail domain was accepted")
	}
	if err := f.svc.CheckAddress(business, mustAddr(t, "a@gmail.com")); err != nil {
		t.Errorf("gmail.com refused with a replaced free-mail set: %v", err)
	}
}

// TestAddressRulesPaths checks that the rules apply on the form, the API
// and the check imports use.
func TestAddressRulesPaths(t *testing.T) {
	t.Parallel()
	f := newPrivFixture(t, nil)
	ctx := t.Context()
	yes := true
	if _, err := f.svc.UpdateList(ctx, "newsletter", list.ListPatch{BlockFreeMail: &yes, BlockDomains: &[]string{"Spam.Example"}}, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	l, _ := f.svc.ListBySlug(ctx, "newsletter")
	if len(l.BlockDomains) != 1 || l.BlockDomains[0] != "spam.example" {
		t.Fatalf("block domains not normalized: %q", l.BlockDomains)
	}
	for _, addr := range []string{"ann@gmail.com", "bob@spam.example", "postmaster@acme.example"} {
		err := f.svc.Subscribe(ctx, list.SubscribeRequest{List: "newsletter", Email: addr, How: list.HowForm})
		if !errors.Is(err, list.ErrInvalid) {
			t.Errorf("form Subscribe(%q) = %v, want ErrInvalid", addr, err)
		}
		_, err = f.svc.AddSubscriber(ctx, list.NewSubscriber{Email: addr, Lists: []string{"newsletter"}}, list.HowAPI, list.Origin{})
		if !errors.Is(err, list.ErrInvalid) {
			t.Errorf("API AddSubscriber(%q) = %v, want ErrInvalid", addr, err)
		}
		if err := f.svc.CheckAddress(&l.List, mustAddr(t, addr)); !errors.Is(err, list.ErrInvalid) {
			t.Errorf("import check CheckAddress(%q) = %v, want ErrInvalid", addr, err)
		}
	}
	if err := f.svc.Subscribe(ctx, list.SubscribeRequest{List: "newsletter", Email: "ann@acme.example", How: list.HowForm}); err != nil {
		t.Errorf("a business address was refused: %v", err)
	}
	if _, err := f.svc.UpdateList(ctx, "newsletter", list.ListPatch{BlockDomains: &[]string{"not a domain"}}, list.Origin{}); !errors.Is(err, list.ErrInvalid) {
		t.Errorf("a bad domain rule was accepted: %v", err)
	}
}

// dnsServer answers from a table on 127.0.0.1: MX, A, NXDOMAIN, SERVFAIL,
// a null MX, or no answer at all.
func dnsServer(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	var queries atomic.Int32
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		queries.Add(1)
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		q := r.Question[0]
		name := strings.ToLower(q.Name)
		switch {
		case strings.HasSuffix(name, "silent.example."):
			return // never answers: the client times out
		case strings.HasSuffix(name, "broken.example."):
			m.Rcode = dns.RcodeServerFailure
		case name == "mx.example." && q.Qtype == dns.TypeMX:
			m.Answer = append(m.Answer, &dns.MX{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeMX, Class: dns.ClassINET, Ttl: 60}, Preference: 10, Mx: "mail.mx.example."})
		case name == "aonly.example." && q.Qtype == dns.TypeA:
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP("192.0.2.7")})
		case name == "nullmx.example." && q.Qtype == dns.TypeMX:
			m.Answer = append(m.Answer, &dns.MX{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeMX, Class: dns.ClassINET, Ttl: 60}, Preference: 0, Mx: "."})
		case name == "mx.example.", name == "aonly.example.", name == "nullmx.example.", name == "empty.example.":
			// NODATA: the name exists without this record.
			m.Ns = append(m.Ns, soa(q.Name))
		default:
			m.Rcode = dns.RcodeNameError
			m.Ns = append(m.Ns, soa("example."))
		}
		w.WriteMsg(m)
	})
	return dnstest.Serve(t, h), &queries
}

func soa(zone string) dns.RR {
	return &dns.SOA{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60},
		Ns: "ns.example.", Mbox: "hostmaster.example.", Serial: 1, Refresh: 60, Retry: 60, Expire: 60, Minttl: 60}
}

func TestResolverLookupMX(t *testing.T) {
	t.Parallel()
	addr, _ := dnsServer(t)
	lookup := list.ResolverLookupMX(addr, 300*time.Millisecond)
	cases := []struct {
		domain string
		ok     bool
		err    bool
	}{
		{"mx.example", true, false},
		{"aonly.example", true, false},
		{"nullmx.example", false, false},
		{"empty.example", false, false},
		{"nxdomain.example", false, false},
		{"broken.example", false, true},
		{"silent.example", false, true},
	}
	for _, c := range cases {
		ok, err := lookup(t.Context(), c.domain)
		if ok != c.ok || (err != nil) != c.err {
			t.Errorf("lookup(%q) = %v, %v; want %v, error %v", c.domain, ok, err, c.ok, c.err)
		}
	}
}

// TestFormMXCheck: the public form refuses a domain that cannot receive
// mail, accepts when DNS does not answer, and caches; the API does not ask.
func TestFormMXCheck(t *testing.T) {
	t.Parallel()
	addr, queries := dnsServer(t)
	f := newPrivFixture(t, list.ResolverLookupMX(addr, 300*time.Millisecond))
	ctx := t.Context()
	sub := func(email string) error {
		return f.svc.Subscribe(ctx, list.SubscribeRequest{List: "newsletter", Email: email, How: list.HowForm})
	}
	for _, c := range []struct {
		email string
		ok    bool
	}{
		{"a@mx.example", true}, {"b@aonly.example", true}, {"c@nxdomain.example", false},
		{"d@nullmx.example", false}, {"e@broken.example", true}, {"f@silent.example", true},
	} {
		err := sub(c.email)
		if (err == nil) != c.ok {
			t.Errorf("form Subscribe(%q) = %v, want ok=%v", c.email, err, c.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "cannot receive mail") {
			t.Errorf("form Subscribe(%q) message = %q", c.email, err)
		}
	}
	n := queries.Load()
	if err := sub("g@mx.example"); err != nil {
		t.Fatal(err)
	}
	if err := sub("h@nxdomain.example"); err == nil {
		t.Error("cached refusal was accepted")
	}
	if queries.Load() != n {
		t.Errorf("a cached domain was looked up again: %d queries, want %d", queries.Load(), n)
	}
	// Only the public form checks DNS.
	if _, err := f.svc.AddSubscriber(ctx, list.NewSubscriber{Email: "i@nowhere.example", Lists: []string{"newsletter"}}, list.HowAPI, list.Origin{}); err != nil {
		t.Errorf("API add was refused by the MX check: %v", err)
	}
	// After the TTL the domain is asked again.
	f.add(2 * time.Hour)
	if err := sub("j@mx.example"); err != nil {
		t.Fatal(err)
	}
	if queries.Load() == n {
		t.Error("an expired cache entry was not looked up again")
	}
	// A new address asked for on the preference page is checked as the
	// form checks it.
	rec, ok := f.record(t, "a@mx.example")
	if !ok {
		t.Fatal("a@mx.example is gone")
	}
	manage := f.svc.Tokens().Seal(list.Token{Purpose: list.PurposeManage, Subscriber: rec.Subscriber.ID, Nonce: rec.Subscriber.Nonce})
	if err := f.svc.RequestEmailChange(ctx, manage, "k@nxdomain.example", list.Origin{}); err == nil || !strings.Contains(err.Error(), "cannot receive mail") {
		t.Errorf("address change to a domain without mail = %v, want refused", err)
	}
	if err := f.svc.RequestEmailChange(ctx, manage, "k@mx.example", list.Origin{}); err != nil {
		t.Errorf("address change to a domain with mail: %v", err)
	}
}
