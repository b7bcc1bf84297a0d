package list

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// CampaignView is a campaign as the UI and API show it: lists by slug.
type CampaignView struct {
	ID            CampaignID `json:"id"`
	Name          string     `json:"name"`
	Subject       string     `json:"subject"`
	Lists         []string   `json:"lists"`
	From          string     `json:"from"`
	Body          string     `json:"body"`
	Format        Format     `json:"format"`
	Text          string     `json:"text"`
	Advertisement bool       `json:"advertisement"`
	Tracking      bool       `json:"tracking"`
	SendAt        *time.Time `json:"send_at"`
	Status        Status     `json:"status"`
	// Reason says why the system paused the campaign; "" when it did not.
	Reason     string     `json:"reason"`
	Stats      Stats      `json:"stats"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

// CampaignInput creates or (partially) updates a draft campaign; nil fields
// stay as they are, and a SendAt of the zero time clears send_at.
type CampaignInput struct {
	Name          *string    `json:"name"`
	Subject       *string    `json:"subject"`
	Lists         *[]string  `json:"lists"`
	From          *string    `json:"from"`
	Body          *string    `json:"body"`
	Format        *Format    `json:"format"`
	Text          *string    `json:"text"`
	Advertisement *bool      `json:"advertisement"`
	Tracking      *bool      `json:"tracking"`
	SendAt        *time.Time `json:"send_at"`
}

// maxBody bounds a campaign body: 1 MiB is far beyond any sane newsletter.
const maxBody = 1 << 20

// campaignView shows c with its times in whole seconds, as every other
// object of the API and UI: the store keeps them exact, for ordering.
func (s *Service) campaignView(ctx context.Context, c Campaign) (CampaignView, error) {
	v := CampaignView{ID: c.ID, Name: c.Name, Subject: c.Subject, Lists: []string{}, From: c.From, Body: c.Body,
		Format: c.Format, Text: c.Text, Advertisement: c.Advertisement, Tracking: c.Tracking, SendAt: seconds(c.SendAt),
		Status: c.Status, Reason: c.Reason, Stats: remaining(c.Stats), StartedAt: seconds(c.StartedAt), FinishedAt: seconds(c.FinishedAt),
		CreatedAt: c.CreatedAt.Truncate(time.Second), UpdatedAt: c.UpdatedAt.Truncate(time.Second)}
	for _, id := range c.Lists {
		l, err := s.store.List(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return CampaignView{}, err
		}
		v.Lists = append(v.Lists, l.Slug)
	}
	return v, nil
}

// seconds is t truncated to whole seconds, nil for nil.
func seconds(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.Truncate(time.Second)
	return &v
}

// apply copies the set fields of in onto c, resolving list slugs.
func (s *Service) applyCampaign(ctx context.Context, c *Campaign, in CampaignInput) error {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&c.Name, in.Name)
	set(&c.Subject, in.Subject)
	set(&c.From, in.From)
	set(&c.Body, in.Body)
	set(&c.Text, in.Text)
	if in.Format != nil {
		c.Format = *in.Format
	}
	if in.Advertisement != nil {
		c.Advertisement = *in.Advertisement
	}
	if in.Tracking != nil {
		c.Tracking = *in.Tracking
	}
	if in.SendAt != nil {
		t := in.SendAt.UTC()
		c.SendAt = &t
		if t.IsZero() {
			c.SendAt = nil
		} else if t.Before(s.Now().Add(-time.Minute)) {
			// Send would then mail everyone at once: a time typed in local
			// time instead of UTC, or last year's, must not do that.
			return fmt.Errorf("%w: send_at %s UTC is in the past (times are UTC); clear it to send at once", ErrInvalid, t.Format("2006-01-02 15:04"))
		}
	}
	if in.Lists != nil {
		ls, err := s.listsBySlug(ctx, *in.Lists)
		if err != nil {
			return err
		}
		c.Lists = c.Lists[:0]
		for _, l := range ls {
			if !containsList(c.Lists, l.ID) {
				c.Lists = append(c.Lists, l.ID)
			}
		}
		sortListIDs(c.Lists)
	}
	return validateCampaign(c)
}

func validateCampaign(c *Campaign) error {
	c.Name = strings.TrimSpace(c.Name)
	if c.Name == "" {
		c.Name = c.Subject
	}
	if err := checkText("name", c.Name, 200); err != nil {
		return err
	}
	if err := checkText("subject", c.Subject, 400); err != nil {
		return err
	}
	if c.From != "" {
		c.From = ASCIISender(c.From)
		if err := CheckFrom(c.From); err != nil {
			return err
		}
	}
	switch c.Format {
	case "":
		c.Format = FormatHTML
	case FormatHTML, FormatMarkdown:
	default:
		return fmt.Errorf("%w: format must be \"html\" or \"markdown\"", ErrInvalid)
	}
	if len(c.Body) > maxBody || len(c.Text) > maxBody {
		return fmt.Errorf("%w: body is larger than 1 MiB", ErrInvalid)
	}
	if err := checkUTF8("body", c.Body); err != nil {
		return err
	}
	return checkUTF8("text part", c.Text)
}

// CreateCampaign stores a new draft.
func (s *Service) CreateCampaign(ctx context.Context, in CampaignInput, o Origin) (CampaignView, error) {
	now := s.Now()
	c := Campaign{Status: StatusDraft, CreatedAt: now, UpdatedAt: now}
	if err := s.applyCampaign(ctx, &c, in); err != nil {
		return CampaignView{}, err
	}
	if err := s.store.CreateCampaign(ctx, &c); err != nil {
		return CampaignView{}, err
	}
	s.audit(ctx, o, "campaign.create", fmt.Sprint(c.ID))
	return s.campaignView(ctx, c)
}

// GetCampaign returns one campaign.
func (s *Service) GetCampaign(ctx context.Context, id CampaignID) (CampaignView, error) {
	c, err := s.store.Campaign(ctx, id)
	if err != nil {
		return CampaignView{}, err
	}
	return s.campaignView(ctx, c)
}

// EachCampaign calls fn on every campaign in st, oldest first, reading a
// page at a time, until fn returns an error or ctx ends.
func EachCampaign(ctx context.Context, st Store, fn func(Campaign) error) error {
	const page = 200
	var after CampaignID
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		cs, err := st.Campaigns(ctx, after, page)
		if err != nil {
			return err
		}
		for _, c := range cs {
			if err := fn(c); err != nil {
				return err
			}
		}
		if len(cs) < page {
			return nil
		}
		after = cs[len(cs)-1].ID
	}
}

// Campaigns pages through campaigns, oldest first.
func (s *Service) Campaigns(ctx context.Context, after CampaignID, limit int) ([]CampaignView, *CampaignID, error) {
	limit = max(1, min(limit, 1000))
	cs, err := s.store.Campaigns(ctx, after, limit+1)
	if err != nil {
		return nil, nil, err
	}
	var next *CampaignID
	if len(cs) > limit {
		cs = cs[:limit]
		id := cs[limit-1].ID
		next = &id
	}
	out := make([]CampaignView, 0, len(cs))
	for _, c := range cs {
		v, err := s.campaignView(ctx, c)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, v)
	}
	return out, next, nil
}

// UpdateCampaign edits a draft; any other state is ErrBadTransition.
func (s *Service) UpdateCampaign(ctx context.Context, id CampaignID, in CampaignInput, o Origin) (CampaignView, error) {
	cur, err := s.store.Campaign(ctx, id)
	if err != nil {
		return CampaignView{}, err
	}
	if cur.Status != StatusDraft {
		return CampaignView{}, fmt.Errorf("%w: only a draft can be edited (campaign is %s)", ErrBadTransition, cur.Status)
	}
	if err := s.applyCampaign(ctx, &cur, in); err != nil {
		return CampaignView{}, err
	}
	now := s.Now()
	c, err := s.store.UpdateCampaign(ctx, id, func(c *Campaign) error {
		if c.Status != StatusDraft {
			return fmt.Errorf("%w: only a draft can be edited", ErrBadTransition)
		}
		stats, created, rev := c.Stats, c.CreatedAt, c.Revision
		*c = cur
		// Every edit moves the revision, even two within one clock tick:
		// a Mailer's template cache keys on it.
		c.Stats, c.CreatedAt, c.UpdatedAt, c.Revision = stats, created, now, rev+1
		return nil
	})
	if err != nil {
		return CampaignView{}, err
	}
	s.audit(ctx, o, "campaign.update", fmt.Sprint(id))
	return s.campaignView(ctx, c)
}

// DeleteCampaign deletes a draft.
func (s *Service) DeleteCampaign(ctx context.Context, id CampaignID, o Origin) error {
	c, err := s.store.Campaign(ctx, id)
	if err != nil {
		return err
	}
	if c.Status != StatusDraft {
		return fmt.Errorf("%w: only a draft can be deleted (campaign is %s)", ErrBadTransition, c.Status)
	}
	if err := s.store.DeleteCampaign(ctx, id); err != nil {
		return err
	}
	s.audit(ctx, o, "campaign.delete", fmt.Sprint(id))
	return nil
}

// CloneCampaign copies a campaign's content into a new draft.
func (s *Service) CloneCampaign(ctx context.Context, id CampaignID, o Origin) (CampaignView, error) {
	c, err := s.store.Campaign(ctx, id)
	if err != nil {
		return CampaignView{}, err
	}
	now := s.Now()
	n := Campaign{Name: "Copy of " + c.Name, Subject: c.Subject, Lists: append([]ListID(nil), c.Lists...),
		From: c.From, Body: c.Body, Format: c.Format, Text: c.Text, Advertisement: c.Advertisement,
		Tracking: c.Tracking, Status: StatusDraft, CreatedAt: now, UpdatedAt: now}
	n.Name = truncateChars(n.Name, 200)
	if err := s.store.CreateCampaign(ctx, &n); err != nil {
		return CampaignView{}, err
	}
	s.audit(ctx, o, "campaign.clone", fmt.Sprint(id))
	return s.campaignView(ctx, n)
}
