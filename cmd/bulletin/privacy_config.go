package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/bulletin/bulletin/list"
)

// privacySettings are the retention and address-check settings of serve
// (issue 7). The DNS server itself is config.Resolver, shared with doctor.
type privacySettings struct {
	// registered is true when the flags were registered (serve), so that a
	// zero value means "off" rather than "not given".
	registered            bool
	ReminderAfter         time.Duration
	PurgeUnconfirmedAfter time.Duration
	TruncateIPsAfter      time.Duration
	RetentionEvery        time.Duration
}

// privacyFlags registers the retention flags and --resolver.
func privacyFlags(fs *flag.FlagSet, c *config) {
	p := &c.Privacy
	p.registered = true
	p.ReminderAfter, p.PurgeUnconfirmedAfter = list.DefaultReminderAfter, list.DefaultPurgeUnconfirmedAfter
	p.TruncateIPsAfter, p.RetentionEvery = list.DefaultTruncateIPsAfter, time.Hour
	fs.Var((*dayDuration)(&p.ReminderAfter), "reminder-after", "age of an unconfirmed subscription when its one reminder goes, e.g. 3d (0: no reminders)")
	fs.Var((*dayDuration)(&p.PurgeUnconfirmedAfter), "purge-unconfirmed-after", "age past which a subscription never confirmed is deleted, e.g. 30d (0: never)")
	fs.Var((*dayDuration)(&p.TruncateIPsAfter), "truncate-ips-after", "age past which IP addresses in events are cut to /24 (IPv4) or /48 (IPv6), e.g. 90d (0: never)")
	fs.Var((*dayDuration)(&p.RetentionEvery), "retention-every", "time between runs of the retention jobs")
	fs.StringVar(&c.Resolver, "resolver", "", "DNS server host:port for the public form's MX check and doctor (none: the system resolver)")
}

// errors checks the privacy settings.
func (p *privacySettings) errors(resolver string) []error {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"--reminder-after", p.ReminderAfter}, {"--purge-unconfirmed-after", p.PurgeUnconfirmedAfter}, {"--truncate-ips-after", p.TruncateIPsAfter}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative", d.name))
		}
	}
	if p.registered && p.RetentionEvery < time.Minute {
		errs = append(errs, fmt.Errorf("--retention-every must be at least 1m, not %s", p.RetentionEvery))
	}
	if p.registered && p.ReminderAfter > 0 && p.PurgeUnconfirmedAfter > 0 && p.ReminderAfter >= p.PurgeUnconfirmedAfter {
		errs = append(errs, fmt.Errorf("--reminder-after (%s) must come before --purge-unconfirmed-after (%s)", p.ReminderAfter, p.PurgeUnconfirmedAfter))
	}
	if resolver != "" {
		if _, _, err := net.SplitHostPort(resolver); err != nil {
			errs = append(errs, fmt.Errorf("--resolver %q must be host:port: %w", resolver, err))
		}
	}
	return errs
}

// config sets the retention periods on c: a flag at 0 turns its job off.
func (p *privacySettings) config(c list.Config) list.Config {
	if !p.registered {
		return c
	}
	off := func(d time.Duration) time.Duration {
		if d == 0 {
			return -1
		}
		return d
	}
	c.ReminderAfter, c.PurgeUnconfirmedAfter, c.TruncateIPsAfter = off(p.ReminderAfter), off(p.PurgeUnconfirmedAfter), off(p.TruncateIPsAfter)
	return c
}

// lookupMX is the public form's mail-domain check through the resolver.
func lookupMX(resolver string) func(ctx context.Context, domain string) (bool, error) {
	return list.ResolverLookupMX(resolver, 2*time.Second)
}

// dayDuration is a duration flag that also takes whole days: "30d".
type dayDuration time.Duration

func (d *dayDuration) String() string {
	if d == nil {
		return "0s"
	}
	v := time.Duration(*d)
	if v > 0 && v%(24*time.Hour) == 0 {
		return strconv.Itoa(int(v/(24*time.Hour))) + "d"
	}
	return v.String()
}

// Get makes dayDuration a flag.Getter, so that a bad environment value is
// explained like that of any other duration flag (config.go, flagWant).
func (d *dayDuration) Get() any { return time.Duration(*d) }

func (d *dayDuration) Set(s string) error {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		v, err := strconv.Atoi(n)
		if err != nil || v < 0 {
			return fmt.Errorf("bad number of days %q", s)
		}
		*d = dayDuration(time.Duration(v) * 24 * time.Hour)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = dayDuration(v)
	return nil
}
