package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/bulletin/bulletin/list"
	"github.com/gorilla/mux"
)

// managePage is the data of the preference page.
type managePage struct {
	View  list.ManageView
	Name  string
	Attrs []attrField
	Lists []manageList
	// NewEmail is what was typed in the address-change form.
	NewEmail string
	// PrivacyURL is the privacy policy, linked from the page.
	PrivacyURL string
	// Error is why the form named by ErrorIn ("save" or "email") was
	// refused. It is shown in that form, beside the fields Marks names,
	// rather than at the top of a long page, far from them.
	Error, ErrorIn string
	Marks          fieldMarks
}

// manageList is one checkbox of the preference page.
type manageList struct {
	Slug, Name, Description string
	On                      bool
	// Pending: joined, waiting for the confirmation link.
	Pending bool
	// Consent is the list's consent text, shown by a list the person is
	// not on: joining records it as the text they were shown.
	Consent string
}

// newManagePage is the preference page, with what r typed when it is a
// refused save, and m's marks.
func newManagePage(mv list.ManageView, r *http.Request, privacy string, m fieldMarks) managePage {
	p := managePage{View: mv, Name: mv.Subscriber.Name, PrivacyURL: privacy, Marks: m}
	typed := r != nil && r.PostForm != nil && r.PostForm.Get("action") == "save"
	if r != nil && r.PostForm != nil {
		p.NewEmail = retyped(r, "email")
	}
	value := func(a string) string { return mv.Subscriber.Attributes[a] }
	if typed {
		p.Name = retyped(r, "name")
		value = func(a string) string { return retyped(r, attrPrefix+a) }
	}
	p.Attrs = attrFields(mv.Attributes, value, p.Marks)
	want := map[string]bool{}
	if typed {
		for _, slug := range r.PostForm["list"] {
			want[slug] = true
		}
	}
	for _, l := range mv.Lists {
		on := mv.Subscribed(l.ID)
		if typed {
			on = want[l.Slug]
		}
		ml := manageList{Slug: l.Slug, Name: l.Name, Description: l.Description, On: on, Pending: mv.Pending(l.ID)}
		if !mv.Subscribed(l.ID) {
			ml.Consent = l.ConsentText
		}
		p.Lists = append(p.Lists, ml)
	}
	return p
}

// retyped is what was posted in field name, to show again in a refused
// form: a value that is not UTF-8 text is left out, as the page is UTF-8
// and the message asks for it to be typed again.
func retyped(r *http.Request, name string) string {
	v := r.PostForm.Get(name)
	if !utf8.ValidString(v) {
		return ""
	}
	return v
}

// renderManage shows the preference page with a notice.
func (s *Server) renderManage(w http.ResponseWriter, status int, mv list.ManageView, r *http.Request, notice string) error {
	v := view{Title: "Your subscription", Data: newManagePage(mv, r, s.svc.Config().PrivacyURL, fieldMarks{}), Notice: notice}
	return s.pub.render(w, status, "manage", v)
}

// refuseManage shows the preference page again with what was typed in the
// refused form (r's action) and why, its fields marked. Refusals of the
// address form name no field: it has one.
func (s *Server) refuseManage(w http.ResponseWriter, mv list.ManageView, r *http.Request, refused error) error {
	in, msg, order := r.PostForm.Get("action"), publicMessage(refused), formOrder(mv.Attributes, "name")
	if in == "email" {
		order, refused = []string{"email"}, refuse("email", msg)
	}
	p := newManagePage(mv, r, s.svc.Config().PrivacyURL, markFields(refused, order))
	p.ErrorIn, p.Error = in, msg
	v := view{Title: "Your subscription", Data: p}
	return s.pub.render(w, http.StatusUnprocessableEntity, "manage", v)
}

// linkPage is the data of the address-change and data-access pages.
type linkPage struct {
	Link       list.ManageLink
	ManageURL  string
	PrivacyURL string
	// SignUp are the public lists whose forms the erasure page links.
	SignUp []list.List
}

// manageForm shows the page a /manage/ link opens: the preference page, or
// the button that confirms an address change or a data-access request. It
// changes nothing: mail scanners fetch every link.
func (s *Server) manageForm(w http.ResponseWriter, r *http.Request) error {
	link, err := s.svc.OpenManageLink(r.Context(), mux.Vars(r)["token"])
	if err != nil {
		return err
	}
	switch link.Kind {
	case list.LinkSample:
		return s.samplePage(w)
	case list.LinkEmailChange:
		return s.pub.render(w, http.StatusOK, "email_change", view{Title: "Confirm your new address", Data: s.linkPage(link)})
	case list.LinkDataAccess:
		title := "Download your data"
		if link.Action == list.DataErase {
			title = "Erase your data"
		}
		return s.pub.render(w, http.StatusOK, "data_access", view{Title: title, Data: s.linkPage(link)})
	}
	return s.renderManage(w, http.StatusOK, link.View, nil, "")
}

// samplePage answers the manage link of a test message, which names no
// subscriber, whatever is asked of it: a tester who follows it sees what
// it is rather than a broken link.
func (s *Server) samplePage(w http.ResponseWriter) error {
	return s.pub.render(w, http.StatusOK, "sample", view{Title: "A link from a test message",
		Data: linkPage{PrivacyURL: s.svc.Config().PrivacyURL}})
}

func (s *Server) linkPage(link list.ManageLink) linkPage {
	return linkPage{Link: link, PrivacyURL: s.svc.Config().PrivacyURL}
}

// managePost acts on a /manage/ link: the preference page's actions, or the
// confirmation of an address change or a data-access request.
func (s *Server) managePost(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	token := mux.Vars(r)["token"]
	link, err := s.svc.OpenManageLink(r.Context(), token)
	if err != nil {
		return err
	}
	switch link.Kind {
	case list.LinkSample:
		return s.samplePage(w)
	case list.LinkEmailChange:
		return s.confirmEmailChange(w, r, token)
	case list.LinkDataAccess:
		return s.dataAccess(w, r, token, link)
	}
	mv := link.View
	switch action := r.PostForm.Get("action"); action {
	case "save":
		return s.manageSave(w, r, token, mv)
	case "email":
		return s.manageEmail(w, r, token, mv)
	case list.DataExport, list.DataErase:
		err := s.svc.RequestDataAccess(r.Context(), token, action, s.origin(r))
		if err != nil {
			return err
		}
		notice := "We sent a link to " + mv.Subscriber.Email + ". Follow it within 24 hours to download your data."
		if action == list.DataErase {
			notice = "We sent a link to " + mv.Subscriber.Email + ". Follow it within 24 hours to confirm the erasure: nothing is erased before."
		}
		return s.renderManage(w, http.StatusOK, mv, nil, notice)
	case "unsubscribe_all":
		if err := s.svc.ManageUnsubscribeAll(r.Context(), token, s.origin(r)); err != nil {
			return err
		}
		data := unsubscribedPage{Info: list.LinkInfo{Subscriber: mv.Subscriber}, All: true, SignUp: publicLists(mv.Lists)}
		return s.pub.render(w, http.StatusOK, "unsubscribed", view{Title: "You are unsubscribed", Data: data})
	}
	return newHTTPError(http.StatusBadRequest, "unknown action")
}

// manageSave saves name, attributes, lists and tracking choices.
func (s *Server) manageSave(w http.ResponseWriter, r *http.Request, token string, mv list.ManageView) error {
	u := list.ManageUpdate{Name: r.PostForm.Get("name"), Lists: r.PostForm["list"]}
	if r.PostForm.Get("tracking_form") == "1" {
		no, opens := r.PostForm.Get("no_tracking") == "1", r.PostForm.Get("track_opens") == "1"
		u.NoTracking, u.TrackOpens = &no, &opens
	}
	// The first refusal, in the form's order, is the one reported: the
	// field that gets the focus.
	var refused error
	switch {
	case tooLong(u.Name, maxNameLen):
		refused = refuse("name", fmt.Sprintf("The name is too long: at most %d characters.", maxNameLen))
	case !utf8.ValidString(u.Name):
		refused = refuse("name", notText("The name"))
	}
	for _, a := range mv.Attributes {
		if v, ok := r.PostForm[attrPrefix+a]; ok && len(v) > 0 {
			if refused == nil {
				refused = checkAttr(a, v[0])
			}
			if u.Attributes == nil {
				u.Attributes = make(map[string]string)
			}
			u.Attributes[a] = v[0]
		}
	}
	if refused == nil {
		refused = s.svc.ManageSave(r.Context(), token, u, s.origin(r))
		if refused != nil && !errors.Is(refused, list.ErrInvalid) {
			return refused
		}
	}
	if refused != nil {
		return s.refuseManage(w, mv, r, refused)
	}
	after, err := s.svc.ManageInfo(r.Context(), token)
	if err != nil {
		return err
	}
	notice := "Your preferences are saved."
	var waiting []string
	for _, l := range after.Lists {
		if after.Pending(l.ID) && !mv.Pending(l.ID) {
			waiting = append(waiting, l.Name)
		}
	}
	if len(waiting) > 0 {
		notice += " To join " + strings.Join(waiting, ", ") + ", follow the confirmation link we sent to " + after.Subscriber.Email + "."
	}
	return s.renderManage(w, http.StatusOK, after, nil, notice)
}

// manageEmail starts an address change: the new address must confirm.
func (s *Server) manageEmail(w http.ResponseWriter, r *http.Request, token string, mv list.ManageView) error {
	email := r.PostForm.Get("email")
	if len(email) > maxEmailLen {
		return s.refuseManage(w, mv, r, refuse("email", "The email address is too long."))
	}
	err := s.svc.RequestEmailChange(r.Context(), token, email, s.origin(r))
	if errors.Is(err, list.ErrInvalid) {
		return s.refuseManage(w, mv, r, err)
	}
	if err != nil {
		return err
	}
	if mv, err = s.svc.ManageInfo(r.Context(), token); err != nil {
		return err
	}
	notice := "We sent a confirmation link to the new address. Until it is followed, we keep writing to " + mv.Subscriber.Email + "."
	return s.renderManage(w, http.StatusOK, mv, nil, notice)
}

// confirmEmailChange swaps the address; a taken address gets a page that
// says only that it cannot be used.
func (s *Server) confirmEmailChange(w http.ResponseWriter, r *http.Request, token string) error {
	sb, err := s.svc.ConfirmEmailChange(r.Context(), token, s.origin(r))
	if errors.Is(err, list.ErrAddressUnavailable) {
		v := view{Title: "This address cannot be used", Data: errorPage{Status: http.StatusConflict,
			Message: "This address cannot be used for your subscription. Nothing was changed: we keep writing to your current address."}}
		return s.pub.render(w, http.StatusConflict, "error", v)
	}
	if err != nil {
		return err
	}
	p := linkPage{Link: list.ManageLink{Kind: list.LinkEmailChange, Subscriber: sb}, ManageURL: s.manageLink(sb),
		PrivacyURL: s.svc.Config().PrivacyURL}
	return s.pub.render(w, http.StatusOK, "email_changed", view{Title: "Your address is changed", Data: p})
}

// dataAccess carries out a confirmed data-access request: the download as
// a JSON attachment, or the erasure.
func (s *Server) dataAccess(w http.ResponseWriter, r *http.Request, token string, link list.ManageLink) error {
	if a := r.PostForm.Get("action"); a != "" && a != link.Action {
		return newHTTPError(http.StatusBadRequest, "this link is for another action")
	}
	if link.Action == list.DataErase {
		if err := s.svc.EraseByToken(r.Context(), token, s.origin(r)); err != nil {
			return err
		}
		s.logger(r).Info("subscriber erased on request")
		p := s.linkPage(link)
		ls, err := s.svc.Lists(r.Context())
		if err != nil {
			return err
		}
		for _, l := range ls {
			p.SignUp = append(p.SignUp, l.List)
		}
		p.SignUp = publicLists(p.SignUp)
		return s.pub.render(w, http.StatusOK, "erased", view{Title: "Your data is erased", Data: p})
	}
	x, err := s.svc.ExportByToken(r.Context(), token, s.origin(r))
	if err != nil {
		return err
	}
	return writeExport(w, x)
}

// writeExport answers an export as a JSON download.
func writeExport(w http.ResponseWriter, x list.SubscriberExport) error {
	b, err := json.MarshalIndent(x, "", "  ")
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="my-data.json"`)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(append(b, '\n'))
	return err
}
