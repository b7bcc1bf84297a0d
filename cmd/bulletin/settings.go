package main

import (
	"context"

	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/smtp"
)

// settingFlags maps each setting of the settings page to its serve flag;
// the bounce rules go by their list.BounceRules JSON names.
var settingFlags = map[string]string{
	"domain": "domain", "bounce_domain": "bounce-domain", "from": "from", "postal_address": "postal-address",
	"privacy_url": "privacy-url", "base_url": "base-url", "relay": "relay", "rate": "rate", "max_conns": "max-conns",
	"hard_limit": "hard-bounce-limit", "soft_limit": "soft-bounce-limit", "soft_window": "soft-bounce-window",
}

// settingsWiring is what the settings page needs of the startup: the
// configuration before the stored settings were merged (flags, environment
// and defaults) and the stored settings merged then.
type settingsWiring struct {
	base    config
	startup list.Settings
}

// locked maps the settings given by a flag or the environment to where they
// came from: the page shows them read-only.
func (c *config) locked() map[string]string {
	m := map[string]string{}
	for key, flag := range settingFlags {
		if c.set[flag] {
			m[key] = "--" + flag + " / " + envName(flag)
		}
	}
	return m
}

// withStored lays the stored settings over c, a validated configuration:
// a flag or variable wins over a stored setting, a stored setting over the
// default, and the defaults that follow the domain follow the stored one.
func (c config) withStored(s list.Settings) config {
	str := func(flag, v string, dst *string) {
		if !c.set[flag] && v != "" {
			*dst = v
		}
	}
	str("domain", s.Domain, &c.Domain)
	str("bounce-domain", s.BounceDomain, &c.BounceDomain)
	str("from", s.From, &c.From)
	str("postal-address", s.PostalAddress, &c.PostalAddress)
	str("privacy-url", s.PrivacyURL, &c.PrivacyURL)
	str("base-url", s.BaseURL, &c.BaseURL)
	str("relay", s.Relay, &c.Relay)
	if !c.set["bounce-domain"] && s.BounceDomain == "" {
		c.BounceDomain = c.Domain
	}
	if !c.set["from"] && s.From == "" {
		c.From = "Bulletin <newsletter@" + c.Domain + ">"
	}
	if !c.set["rate"] && s.Rate != nil {
		c.Rate = *s.Rate
	}
	if !c.set["max-conns"] && s.MaxConns > 0 {
		c.MaxConns = s.MaxConns
	}
	return c
}

// mergeSettings lays the settings stored from the settings page over the
// configuration, before anything is built with it.
func (in *instance) mergeSettings(ctx context.Context) {
	stored, err := list.LoadSettings(ctx, in.db)
	if err != nil {
		in.log.Warn("stored settings unreadable, using flags and defaults", "err", err)
		stored = list.Settings{}
	}
	in.settings = settingsWiring{base: in.cfg, startup: stored}
	in.cfg = in.cfg.withStored(stored)
}

// settingsHooks connects the settings page to the wiring.
func (in *instance) settingsHooks() list.SettingsHooks {
	return list.SettingsHooks{
		Locked:     in.settings.base.locked(),
		Apply:      in.applySettings,
		Running:    in.runningSettings,
		Doctor:     in.settingsDoctor,
		DNSRecords: in.settingsDNS,
	}
}

// listenURL is the base URL that follows the HTTP listener once its port is
// known; it is in force unless a base URL was saved on the settings page.
func (in *instance) listenURL(u string) {
	in.settings.base.BaseURL = u
	if in.settings.startup.BaseURL == "" {
		c := in.svc.Config()
		c.BaseURL = u
		in.svc.SetConfig(c)
	}
}

// applySettings puts saved settings into force: those of the list
// configuration at once; the domains, relay, rate and connections at the
// next start (the sender and the inbound server are built with them), so
// the defaults that follow the domain follow the running one.
func (in *instance) applySettings(n list.Settings) {
	s := in.settings.startup
	n.Domain, n.BounceDomain, n.Relay, n.Rate, n.MaxConns = s.Domain, s.BounceDomain, s.Relay, s.Rate, s.MaxConns
	eff := in.settings.base.withStored(n)
	c := in.svc.Config()
	c.From, c.PostalAddress, c.PrivacyURL, c.BaseURL = eff.From, eff.PostalAddress, eff.PrivacyURL, eff.BaseURL
	in.svc.SetConfig(c)
}

// runningSettings are the settings in force.
func (in *instance) runningSettings() list.Settings {
	c := in.svc.Config()
	rate := in.cfg.Rate
	return list.Settings{Domain: in.cfg.Domain, BounceDomain: in.cfg.BounceDomain, From: c.From, PostalAddress: c.PostalAddress,
		PrivacyURL: c.PrivacyURL, BaseURL: c.BaseURL, Relay: in.cfg.Relay, Rate: &rate, MaxConns: in.cfg.MaxConns}
}

// savedConfig is the configuration the next start will run with: the
// saved settings over the flags, environment and defaults.
func (in *instance) savedConfig(ctx context.Context) config {
	stored, err := list.LoadSettings(ctx, in.db)
	if err != nil {
		stored = in.settings.startup
	}
	return in.settings.base.withStored(stored)
}

// settingsDoctor runs the doctor's checks with the saved settings, so that a
// relay can be tested before the restart that puts it in force.
func (in *instance) settingsDoctor(ctx context.Context) []list.Check {
	checks := in.doctorChecks(ctx, in.savedConfig(ctx))
	out := make([]list.Check, len(checks))
	for i, c := range checks {
		out[i] = list.Check{Name: c.Name, Status: string(c.Status), Detail: c.Detail, Fix: c.Fix}
	}
	return out
}

// settingsDNS returns the DNS records to publish for the saved settings:
// DKIM and DMARC at the From domain (the signing domain), SPF at the bounce
// domain.
func (in *instance) settingsDNS(ctx context.Context) []string {
	cfg := in.savedConfig(ctx)
	keys, selector, err := dkimKeys(ctx, in.db, cfg.DKIMSign, cfg.DKIMSelector)
	if err != nil {
		return []string{"; the DKIM keys cannot be read: " + err.Error()}
	}
	return smtp.DNSRecords(signingDomain(cfg), cfg.BounceDomain, selector, keys, relayHost(cfg.Relay))
}
