package list

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

var slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// ListWithCounts is a list and its subscription counts.
type ListWithCounts struct {
	List
	Counts Counts `json:"counts"`
}

// validateList checks a list's editable fields. Every refusal is given at
// once, so that a form is not sent back once for each field.
func validateList(l *List) error {
	var refused refusals
	refuse := refused.add
	if !slugRE.MatchString(l.Slug) {
		refuse(fmt.Errorf("%w: slug must be 1-63 lower-case letters, digits or dashes", ErrInvalid))
	}
	l.Name = strings.TrimSpace(l.Name)
	if l.Name == "" {
		refuse(fmt.Errorf("%w: name is required", ErrInvalid))
	} else {
		refuse(checkText("name", l.Name, 200))
	}
	for _, f := range []struct {
		name string
		v    string
		max  int
	}{{"description", l.Description, 2000}, {"consent text", l.ConsentText, 4000}, {"welcome text", l.WelcomeText, 20000},
		{"confirmation text", l.ConfirmText, 20000}, {"reminder text", l.ReminderText, 20000}} {
		if tooLong(f.v, f.max) {
			refuse(fmt.Errorf("%w: the %s of list %s is longer than %d characters", ErrInvalid, f.name, l.Slug, f.max))
		} else {
			refuse(checkUTF8("the "+f.name+" of list "+l.Slug, f.v))
		}
	}
	switch l.OptIn {
	case "":
		l.OptIn = OptInDouble
	case OptInDouble, OptInSingle:
	default:
		refuse(fmt.Errorf("%w: optin must be \"double\" or \"single\"", ErrInvalid))
	}
	if l.From != "" {
		// An international domain is kept in its xn-- form, as the
		// settings keep the instance's sender.
		l.From = ASCIISender(l.From)
		refuse(CheckFrom(l.From))
	}
	if len(l.Attributes) > 50 {
		refuse(fmt.Errorf("%w: at most 50 attributes", ErrInvalid))
	}
	refuse(validateRules(l))
	for _, a := range l.Attributes {
		if !attrRE.MatchString(a) {
			refuse(fmt.Errorf("%w: attribute name %q must be 1-40 letters, digits or _", ErrInvalid, a))
		}
	}
	return refused.err()
}

var attrRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,39}$`)

// CreateList validates and stores a new list.
func (s *Service) CreateList(ctx context.Context, l List, o Origin) (List, error) {
	if err := validateList(&l); err != nil {
		return List{}, err
	}
	now := s.Now()
	l.ID, l.CreatedAt, l.UpdatedAt = 0, now, now
	if l.ConsentText == "" {
		// Every sign-up records the statement the person agreed to: a
		// list made without one gets a plain one, which editors can reword.
		l.ConsentText = "Yes, send me " + l.Name + " by email. I can unsubscribe at any time."
	}
	l.ConsentVersion = 1
	if err := s.store.CreateList(ctx, &l); err != nil {
		return List{}, err
	}
	s.audit(ctx, o, "list.create", l.Slug)
	return l, nil
}

// ListPatch is a partial update of a list; nil fields stay as they are.
type ListPatch struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	OptIn       *OptIn  `json:"optin"`
	Public      *bool   `json:"public"`
	ConsentText *string `json:"consent_text"`
	From        *string `json:"from"`
	WelcomeText *string `json:"welcome_text"`
	ConfirmText *string `json:"confirm_text"`
	// ReminderText is optional like the other texts.
	ReminderText *string   `json:"reminder_text"`
	Welcome      *bool     `json:"welcome"`
	Reminder     *bool     `json:"reminder"`
	Attributes   *[]string `json:"attributes"`
	// Address rules (see CheckAddress).
	AllowDomains  *[]string `json:"allow_domains"`
	BlockDomains  *[]string `json:"block_domains"`
	BlockFreeMail *bool     `json:"block_free_mail"`
	AllowRoles    *bool     `json:"allow_roles"`
}

// apply copies the set fields of p onto l.
func (p ListPatch) apply(l *List) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&l.Name, p.Name)
	set(&l.Description, p.Description)
	set(&l.From, p.From)
	set(&l.WelcomeText, p.WelcomeText)
	set(&l.ConfirmText, p.ConfirmText)
	set(&l.ReminderText, p.ReminderText)
	if p.ConsentText != nil && *p.ConsentText != l.ConsentText {
		// A new wording is a new version: consent records name the one shown.
		l.ConsentText = *p.ConsentText
		l.ConsentVersion++
	}
	if p.OptIn != nil {
		l.OptIn = *p.OptIn
	}
	if p.Public != nil {
		l.Public = *p.Public
	}
	if p.Welcome != nil {
		l.Welcome = *p.Welcome
	}
	if p.Reminder != nil {
		l.Reminder = *p.Reminder
	}
	if p.Attributes != nil {
		l.Attributes = append([]string(nil), (*p.Attributes)...)
	}
	p.ApplyRules(l)
}

// UpdateList applies a partial update to the list with the given slug.
func (s *Service) UpdateList(ctx context.Context, slug string, p ListPatch, o Origin) (List, error) {
	l, err := s.store.ListBySlug(ctx, slug)
	if err != nil {
		return List{}, err
	}
	now := s.Now()
	l, err = s.store.UpdateList(ctx, l.ID, func(l *List) error {
		p.apply(l)
		l.UpdatedAt = now
		return validateList(l)
	})
	if err != nil {
		return List{}, err
	}
	s.audit(ctx, o, "list.update", slug)
	return l, nil
}

// DeleteList deletes a list with its subscriptions.
func (s *Service) DeleteList(ctx context.Context, slug string, o Origin) error {
	l, err := s.store.ListBySlug(ctx, slug)
	if err != nil {
		return err
	}
	if err := s.store.DeleteList(ctx, l.ID); err != nil {
		return err
	}
	s.audit(ctx, o, "list.delete", slug)
	return s.dropListFromCampaigns(ctx, l)
}

// dropListFromCampaigns takes a deleted list out of every campaign still to
// send (draft, scheduled, running or paused), which could otherwise be
// neither opened, sent nor resumed; finished and cancelled ones keep it for
// their history, shown without it. A scheduled campaign left without a list
// goes back to draft, saying why, rather than starting to nobody.
func (s *Service) dropListFromCampaigns(ctx context.Context, l List) error {
	return EachCampaign(ctx, s.store, func(c Campaign) error {
		if c.Status == StatusFinished || c.Status == StatusCancelled || !slices.Contains(c.Lists, l.ID) {
			return nil
		}
		_, err := s.store.UpdateCampaign(ctx, c.ID, func(c *Campaign) error {
			c.Lists = slices.DeleteFunc(c.Lists, func(id ListID) bool { return id == l.ID })
			if len(c.Lists) == 0 && c.Status == StatusScheduled {
				c.Status, c.SendAt = StatusDraft, nil
				c.Reason = "unscheduled: its list " + l.Slug + " was deleted"
			}
			c.UpdatedAt = s.Now()
			return nil
		})
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	})
}

// Lists returns every list with its counts.
func (s *Service) Lists(ctx context.Context) ([]ListWithCounts, error) {
	ls, err := s.store.Lists(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ListWithCounts, 0, len(ls))
	for _, l := range ls {
		c, err := s.store.Counts(ctx, l.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, ListWithCounts{List: l, Counts: c})
	}
	return out, nil
}

// ListBySlug returns one list with its counts.
func (s *Service) ListBySlug(ctx context.Context, slug string) (ListWithCounts, error) {
	l, err := s.store.ListBySlug(ctx, slug)
	if err != nil {
		return ListWithCounts{}, err
	}
	c, err := s.store.Counts(ctx, l.ID)
	if err != nil {
		return ListWithCounts{}, err
	}
	return ListWithCounts{List: l, Counts: c}, nil
}

// audit appends an audit entry for an admin action; a failure is logged,
// since the action itself already happened.
func (s *Service) audit(ctx context.Context, o Origin, action, target string) {
	if o.User == "" {
		return
	}
	e := AuditEntry{At: s.Now(), User: o.User, Action: action, Target: target, IP: o.IP}
	if err := s.store.AppendAudit(ctx, &e); err != nil {
		s.log.Error("audit log write failed", "action", action, "err", err)
	}
}
