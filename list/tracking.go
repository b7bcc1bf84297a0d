package list

import (
	"context"
	"errors"
	"fmt"
	"html"
	"regexp"
	"strings"
	"time"
)

// Event kinds of consented per-person tracking.
const (
	EventOpened  EventKind = "opened"
	EventClicked EventKind = "clicked"
)

// Token.Arg of a PurposeTrack token: which of the two tracking URLs.
const (
	trackOpen  = 1
	trackClick = 2
)

// addTracking turns on open and click counting in a campaign message when
// the campaign asks for it and the subscriber did not opt out. Test sends
// and samples (no subscriber id) are never tracked.
func (s *Service) addTracking(m *Message, c *Campaign, sb *Subscriber, cfg Config) {
	if c == nil || !c.Tracking || sb == nil || sb.ID == 0 || sb.NoTracking || m.Test {
		return
	}
	open := s.tokens.Seal(Token{Purpose: PurposeTrack, Subscriber: sb.ID, Campaign: c.ID, Arg: trackOpen})
	click := s.tokens.Seal(Token{Purpose: PurposeTrack, Subscriber: sb.ID, Campaign: c.ID, Arg: trackClick})
	m.OpenURL = cfg.BaseURL + "/t/o/" + open + ".gif"
	m.ClickURL = cfg.BaseURL + "/t/c/" + click + "?u="
}

// saveTracking applies the tracking choices of the preference page.
func (s *Service) saveTracking(r *Record, fx *Effects, u ManageUpdate, o Origin, now time.Time) {
	changed := false
	if u.NoTracking != nil && *u.NoTracking != r.Subscriber.NoTracking {
		r.Subscriber.NoTracking, changed = *u.NoTracking, true
	}
	if u.TrackOpens != nil && *u.TrackOpens != r.Subscriber.TrackOpens {
		r.Subscriber.TrackOpens, changed = *u.TrackOpens, true
	}
	if r.Subscriber.NoTracking && r.Subscriber.TrackOpens {
		r.Subscriber.TrackOpens, changed = false, true // opting out wins
	}
	if changed {
		detail := fmt.Sprintf("tracking: no_tracking=%t track_opens=%t", r.Subscriber.NoTracking, r.Subscriber.TrackOpens)
		fx.Events = append(fx.Events, s.event(r, 0, EventProfileChanged, HowForm, o, now, detail))
		r.Subscriber.UpdatedAt = now
	}
}

// TrackRequest is what the open pixel and click redirect know of a fetch.
type TrackRequest struct {
	Method    string
	UserAgent string
	// NoTrack is set for a request with DNT: 1 or Sec-GPC: 1: it is not
	// recorded at all.
	NoTrack bool
}

// Fetcher classes of a tracking request.
const (
	fetchPerson  = "person"
	fetchMachine = "machine"
)

// mailProxies are user-agent fragments of mail-privacy proxies and image
// prefetchers: they fetch every image of every mail, opened or not.
var mailProxies = []string{
	"googleimageproxy", "ggpht.com", "yahoomailproxy", "yahoo! slurp", "ymailproxy",
	"ms-office", "microsoft outlook", "outlook-ios", "outlook-android", "owa-", "bingpreview",
	"apple mail privacy", "icloud", "proofpoint", "mimecast", "barracuda", "symantec",
	"fortinet", "trendmicro", "cisco", "ironport", "sophos", "zscaler", "forcepoint",
}

// linkScanners are user-agent fragments of link scanners and scripts that
// follow every link of a mail.
var linkScanners = []string{
	"barracuda", "proofpoint", "mimecast", "bingpreview", "safelinks", "safe links",
	"curl/", "wget/", "python-requests", "python-urllib", "go-http-client", "libwww-perl",
	"java/", "okhttp", "httpclient", "headlesschrome", "phantomjs", "scanner", "bot", "spider",
	"crawler", "preview", "symantec", "trendmicro", "fortinet", "ironport", "sophos", "zscaler",
}

// classifyFetch tells people from machines: HEAD requests, an empty user
// agent and the known proxies and scanners are machines.
func classifyFetch(req TrackRequest, click bool) string {
	if req.Method == "HEAD" || strings.TrimSpace(req.UserAgent) == "" {
		return fetchMachine
	}
	ua := strings.ToLower(req.UserAgent)
	known := mailProxies
	if click {
		known = linkScanners
	}
	for _, k := range known {
		if strings.Contains(ua, k) {
			return fetchMachine
		}
	}
	if !click && strings.HasPrefix(ua, "mozilla/5.0") && !strings.Contains(ua, "(") {
		return fetchMachine // a bare "Mozilla/5.0" is how several prefetchers present
	}
	return fetchPerson
}

// openTrack opens a tracking token of the given kind.
func (s *Service) openTrack(token string, kind uint64) (Token, error) {
	t, err := s.tokens.Open(PurposeTrack, token, s.Now())
	if err != nil {
		return Token{}, err
	}
	if t.Arg != kind || t.Campaign == 0 || t.Subscriber == 0 {
		return Token{}, fmt.Errorf("%w: not a tracking link", ErrInvalidToken)
	}
	return t, nil
}

// RecordOpen counts a fetch of the open pixel. It is one of the two GETs
// that write: an aggregate counter of the campaign, machines apart, and a
// per-person event only for a subscriber who consented. A DNT or GPC
// request, and a subscriber who opted out, are not recorded.
func (s *Service) RecordOpen(ctx context.Context, token string, req TrackRequest) error {
	t, err := s.openTrack(token, trackOpen)
	if err != nil {
		return err
	}
	return s.recordTrack(ctx, t, req, false, "")
}

// ClickResult is where a click goes.
type ClickResult struct {
	// Target is the URL asked for.
	Target string
	// Verified is true when Target is a link of the campaign: only then is
	// it followed at once. Anything else is shown, not redirected to, so the
	// address is never an open redirect.
	Verified bool
}

// RecordClick checks that target is a link of the token's campaign, and
// counts the click as RecordOpen counts opens.
func (s *Service) RecordClick(ctx context.Context, token, target string, req TrackRequest) (ClickResult, error) {
	t, err := s.openTrack(token, trackClick)
	if err != nil {
		return ClickResult{}, err
	}
	if !strings.HasPrefix(target, "https://") && !strings.HasPrefix(target, "http://") || len(target) > 4000 {
		return ClickResult{}, fmt.Errorf("%w: not a web link", ErrInvalid)
	}
	c, err := s.store.Campaign(ctx, t.Campaign)
	if errors.Is(err, ErrNotFound) {
		return ClickResult{Target: target}, nil
	}
	if err != nil {
		return ClickResult{}, err
	}
	res := ClickResult{Target: target, Verified: campaignLinks(&c).allows(target)}
	if !res.Verified {
		return res, nil
	}
	return res, s.recordTrack(ctx, t, req, true, target)
}

// recordTrack writes the counters and, with consent, the event.
func (s *Service) recordTrack(ctx context.Context, t Token, req TrackRequest, click bool, target string) error {
	if req.NoTrack {
		return nil
	}
	rec, err := s.store.Record(ctx, Key{ID: t.Subscriber})
	if errors.Is(err, ErrNotFound) {
		return nil // erased: nothing is recorded about them any more
	}
	if err != nil {
		return err
	}
	if rec.Subscriber.NoTracking {
		return nil
	}
	machine := classifyFetch(req, click) == fetchMachine
	_, err = s.store.UpdateCampaign(ctx, t.Campaign, func(c *Campaign) error {
		switch {
		case click && machine:
			c.Stats.ClicksScanner++
		case click:
			c.Stats.Clicks++
		case machine:
			c.Stats.OpensProxy++
		default:
			c.Stats.Opens++
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil || machine || !rec.Subscriber.TrackOpens {
		return err
	}
	kind := EventOpened
	if click {
		kind = EventClicked
	}
	s.appendEvent(ctx, Event{Subscriber: t.Subscriber, Campaign: t.Campaign, Kind: kind, How: HowSystem, At: s.Now(), Detail: target})
	return nil
}

// linkSet is the links of a campaign: exact URLs, and the static prefixes
// of links that a template completes per recipient.
type linkSet struct {
	exact    map[string]bool
	prefixes []string
}

var linkRE = regexp.MustCompile(`https?://[^\s"'<>()\[\]{}\\]+`)

// campaignLinks collects the web links of a campaign's body and text.
func campaignLinks(c *Campaign) linkSet {
	ls := linkSet{exact: map[string]bool{}}
	for _, src := range []string{c.Body, c.Text} {
		for _, loc := range linkRE.FindAllStringIndex(src, -1) {
			u := html.UnescapeString(src[loc[0]:loc[1]])
			if strings.HasPrefix(src[loc[1]:], "{{") {
				// A link completed by a template: its static part must reach
				// past the host, so the host cannot be chosen by anyone.
				if i := strings.Index(u, "://"); i >= 0 && strings.ContainsAny(u[i+3:], "/?#") {
					ls.prefixes = append(ls.prefixes, u)
				}
				continue
			}
			ls.exact[u] = true
			ls.exact[strings.TrimRight(u, ".,;:!")] = true // a link at the end of a sentence
		}
	}
	return ls
}

func (ls linkSet) allows(target string) bool {
	if ls.exact[target] {
		return true
	}
	for _, p := range ls.prefixes {
		if strings.HasPrefix(target, p) {
			return true
		}
	}
	return false
}
