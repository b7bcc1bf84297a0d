package admin

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bulletin/bulletin/list"
	"github.com/gorilla/mux"
)

// Limits of the public forms.
const (
	maxFormBody  = 16 << 10
	maxEmailLen  = list.MaxAddressLen
	maxNameLen   = 200
	maxAttrLen   = 500
	honeypotName = "website"
	attrPrefix   = "attr."
)

// publicPage adapts a public page handler: errors become an HTML page.
func (s *Server) publicPage(fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			s.pageError(w, r, err)
		}
	})
}

// tokenPage is publicPage for the pages whose URL carries a token: never
// cached anywhere.
func (s *Server) tokenPage(fn handlerFunc) http.Handler {
	h := s.publicPage(fn)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// errorPage is the data of the public error page.
type errorPage struct {
	Status  int
	Message string
	// Link and LinkText, when set, offer a way on.
	Link, LinkText string
}

// pageError answers err with the public error page.
func (s *Server) pageError(w http.ResponseWriter, r *http.Request, err error) {
	ei := s.errorInfo(r, err)
	if started(w) {
		return
	}
	setErrorHeaders(w, ei)
	title, msg := "Something went wrong", ei.msg
	switch ei.status {
	case http.StatusBadRequest:
		title = "This link does not work"
		if !errors.Is(err, list.ErrInvalidToken) {
			title = "Bad request"
		} else {
			msg = "This link is invalid, has expired or has already been used. Nothing was changed. " +
				"If you copied it from an email, check that you copied all of it."
		}
	case http.StatusNotFound:
		title, msg = "Page not found", "There is no such page here."
	case http.StatusTooManyRequests:
		// The same wait as Retry-After: "a few minutes" when the next
		// request is allowed in 28 s would send people away for nothing.
		title = "Too many requests"
		msg = "Too many requests came from your network. Please wait " +
			waitWords(time.Duration(ei.retryAfter)*time.Second) + " and try again."
	case http.StatusRequestEntityTooLarge:
		title, msg = "Too much data", "The form sent more data than allowed."
	case http.StatusInternalServerError:
		msg = "The server could not handle your request. Please try again later."
	}
	w.Header().Set("Cache-Control", "no-store")
	v := view{Title: title, Data: errorPage{Status: ei.status, Message: msg}}
	if rerr := s.pub.render(w, ei.status, "error", v); rerr != nil {
		s.logger(r).Error("render error page", "err", rerr)
		http.Error(w, msg, ei.status)
	}
}

// waitWords words a wait for a person: "28 seconds", "1 minute",
// "5 minutes", rounded up to whole minutes from a minute on.
func waitWords(d time.Duration) string {
	unit, n := "second", int((d+time.Second-1)/time.Second)
	if n >= 60 {
		unit, n = "minute", int((d+time.Minute-1)/time.Minute)
	}
	n = max(n, 1)
	if n > 1 {
		unit += "s"
	}
	return fmt.Sprintf("%d %s", n, unit)
}

// parseForm reads a urlencoded or multipart body of at most maxFormBody
// bytes into r.PostForm.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	return parseBody(w, r, maxFormBody)
}

// parseBody reads a urlencoded or multipart body of at most limit bytes
// into r.PostForm: 413 when longer, 400 when malformed.
func parseBody(w http.ResponseWriter, r *http.Request, limit int64) error {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	var err error
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "multipart/form-data" {
		err = r.ParseMultipartForm(limit)
	} else {
		err = r.ParseForm()
	}
	var mbe *http.MaxBytesError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &mbe):
		return err
	case strings.Contains(err.Error(), "request body too large"):
		return &http.MaxBytesError{Limit: limit}
	}
	return errBadForm
}

// attrField is an attribute input of a form.
type attrField struct {
	Name  string
	Value string
	// Invalid and Focus mark a refused value, as fieldMarks does.
	Invalid, Focus bool
}

// fieldMarks says which fields of a refused form to mark (aria-invalid,
// described by the message) and which one takes the focus: the first
// refused in the form's order, so that a keyboard or screen-reader user
// lands on what to correct instead of at the top of the page.
type fieldMarks struct {
	Invalid map[string]bool
	Focus   string
}

// markFields marks the fields err names (list.FieldError), order being
// the form's fields from top to bottom.
func markFields(err error, order []string) fieldMarks {
	m := fieldMarks{Invalid: list.InvalidFields(err)}
	for _, f := range order {
		if m.Invalid[f] {
			m.Focus = f
			break
		}
	}
	return m
}

// attrFields are the inputs of the attributes names, with their values
// and the marks of a refusal.
func attrFields(names []string, values func(string) string, m fieldMarks) []attrField {
	var out []attrField
	for _, a := range names {
		f := attrField{Name: a, Value: values(a), Invalid: m.Invalid[list.AttrField(a)]}
		f.Focus = m.Focus == list.AttrField(a)
		out = append(out, f)
	}
	return out
}

// formOrder is the order of a form's fields: first, then the attributes.
func formOrder(attrs []string, first ...string) []string {
	for _, a := range attrs {
		first = append(first, list.AttrField(a))
	}
	return first
}

// subscribePage is the data of the subscribe form.
type subscribePage struct {
	List       list.List
	Email      string
	Name       string
	Attrs      []attrField
	PrivacyURL string
	Marks      fieldMarks
}

// subscribeList loads a list that may be shown publicly.
func (s *Server) subscribeList(r *http.Request) (list.List, error) {
	l, err := s.svc.ListBySlug(r.Context(), mux.Vars(r)["list"])
	if err != nil {
		return list.List{}, err
	}
	if !l.Public {
		return list.List{}, list.ErrNotFound
	}
	return l.List, nil
}

// subscribeForm shows the sign-up form of a public list.
func (s *Server) subscribeForm(w http.ResponseWriter, r *http.Request) error {
	l, err := s.subscribeList(r)
	if err != nil {
		return err
	}
	return s.renderSubscribe(w, http.StatusOK, l, nil, nil)
}

// renderSubscribe shows the form with what was typed and, when it was
// refused, the reason with its fields marked.
func (s *Server) renderSubscribe(w http.ResponseWriter, status int, l list.List, r *http.Request, refused error) error {
	p := subscribePage{List: l, PrivacyURL: s.svc.Config().PrivacyURL}
	msg := ""
	if refused != nil {
		msg, p.Marks = publicMessage(refused), markFields(refused, formOrder(l.Attributes, "email", "name"))
	}
	typed := func(string) string { return "" }
	if r != nil {
		p.Email, p.Name = retyped(r, "email"), retyped(r, "name")
		typed = func(a string) string { return retyped(r, attrPrefix+a) }
	}
	p.Attrs = attrFields(l.Attributes, typed, p.Marks)
	return s.pub.render(w, status, "subscribe", view{Title: l.Name, Data: p, Error: msg})
}

// checkInboxPage is the data of the answer to a sign-up. It depends only on
// the list, never on the address, so that it tells nobody whether an
// address was new, pending or confirmed; the list's opt-in mode is public.
type checkInboxPage struct {
	List list.List
	// Wait is how long an address waits for a second confirmation mail:
	// sooner, a sign-up sends none, silently.
	Wait string
}

// subscribePost signs an address up. It answers the same page whether the
// address was new, known, confirmed or limited.
func (s *Server) subscribePost(w http.ResponseWriter, r *http.Request) error {
	if ok, wait := s.subscribeLimit.allow(clientKey(s.clientIP(r)), s.now()); !ok {
		return &limitedError{after: wait}
	}
	start := time.Now()
	if err := parseForm(w, r); err != nil {
		return err
	}
	l, err := s.subscribeList(r)
	if err != nil {
		return err
	}
	done := func() error {
		if wait := s.subscribeFloor - time.Since(start); wait > 0 {
			if err := s.sleep(r, wait); err != nil {
				return err
			}
		}
		p := checkInboxPage{List: l, Wait: waitWords(s.svc.Config().ConfirmEvery)}
		return s.pub.render(w, http.StatusOK, "check_inbox", view{Title: "Check your inbox", Data: p})
	}
	if r.PostForm.Get(honeypotName) != "" {
		s.logger(r).Info("honeypot filled: sign-up ignored", "list_id", l.ID)
		return done()
	}
	req := list.SubscribeRequest{List: l.Slug, Email: strings.TrimSpace(r.PostForm.Get("email")),
		Name: r.PostForm.Get("name"), How: list.HowForm, Origin: s.origin(r)}
	if err := checkFields(r, l, &req); err != nil {
		return s.renderSubscribe(w, http.StatusUnprocessableEntity, l, r, err)
	}
	err = s.svc.Subscribe(r.Context(), req)
	if errors.Is(err, list.ErrInvalid) {
		return s.renderSubscribe(w, http.StatusUnprocessableEntity, l, r, err)
	}
	if err != nil {
		return err
	}
	return done()
}

// publicMessage words a refused input for the public pages as their own
// messages are worded: a sentence, capitalised and closed.
func publicMessage(err error) string {
	return list.Sentence(classify(err).msg)
}

// refuse is a refusal of one form field, worded for the person.
func refuse(field, msg string) error {
	return fmt.Errorf("%w: %w", list.ErrInvalid, &list.FieldError{Field: field, Err: errors.New(msg)})
}

// notText words the refusal of a value that is not UTF-8. Browsers send
// UTF-8, so this is a broken page or a crafted request: the import's
// advice to save the file as UTF-8 would mean nothing here.
func notText(what string) string {
	return what + " contains characters that are not text. Please type it again."
}

// tooLong reports whether v has more than max characters, as the form's
// maxlength counts them (a character outside the BMP counts 2 there, 1
// here, so what the form takes passes).
func tooLong(v string, max int) bool {
	return len(v) > max && utf8.RuneCountInString(v) > max
}

// checkAttr applies the form's own limits to attribute a's value v.
func checkAttr(a, v string) error {
	switch {
	case tooLong(v, maxAttrLen):
		return refuse(list.AttrField(a), fmt.Sprintf("The field “%s” is too long: at most %d characters.", label(a), maxAttrLen))
	case !utf8.ValidString(v):
		return refuse(list.AttrField(a), notText("The field “"+label(a)+"”"))
	}
	return nil
}

// checkFields applies the form's own size limits and collects the list's
// attributes into req; it returns the refusal of a field, or nil.
func checkFields(r *http.Request, l list.List, req *list.SubscribeRequest) error {
	switch {
	case req.Email == "":
		return refuse("email", "Please enter your email address.")
	case len(req.Email) > maxEmailLen:
		return refuse("email", "The email address is too long.")
	case tooLong(req.Name, maxNameLen):
		return refuse("name", fmt.Sprintf("The name is too long: at most %d characters.", maxNameLen))
	case !utf8.ValidString(req.Name):
		return refuse("name", notText("The name"))
	}
	for _, a := range l.Attributes {
		v, ok := r.PostForm[attrPrefix+a]
		if !ok || len(v) == 0 {
			continue
		}
		if err := checkAttr(a, v[0]); err != nil {
			return err
		}
		if req.Attributes == nil {
			req.Attributes = make(map[string]string)
		}
		req.Attributes[a] = v[0]
	}
	return nil
}

// confirmForm shows the confirmation button; it changes nothing, since mail
// scanners fetch every link.
func (s *Server) confirmForm(w http.ResponseWriter, r *http.Request) error {
	info, err := s.svc.ConfirmInfo(r.Context(), mux.Vars(r)["token"])
	if err != nil {
		return err
	}
	return s.renderConfirm(w, info)
}

// renderConfirm shows the confirmation button, or, once the subscription
// is confirmed, says so without one.
func (s *Server) renderConfirm(w http.ResponseWriter, info list.LinkInfo) error {
	title := "Confirm your subscription"
	if info.Done {
		title = "You are already subscribed"
	}
	return s.pub.render(w, http.StatusOK, "confirm", view{Title: title, Data: info})
}

// confirmedPage is the data of the page after a confirmation.
type confirmedPage struct {
	Info      list.LinkInfo
	ManageURL string
}

// confirmPost confirms the subscription.
func (s *Server) confirmPost(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	info, err := s.svc.Confirm(r.Context(), mux.Vars(r)["token"], s.origin(r))
	if err != nil {
		return err
	}
	if info.Done {
		return s.renderConfirm(w, info)
	}
	p := confirmedPage{Info: info, ManageURL: s.manageLink(info.Subscriber)}
	return s.pub.render(w, http.StatusOK, "confirmed", view{Title: "You are subscribed", Data: p})
}

// manageLink is the path of the subscriber's preference page.
func (s *Server) manageLink(sb list.Subscriber) string {
	if m, ok := any(s.svc).(interface{ ManagePath(list.Subscriber) string }); ok {
		return m.ManagePath(sb)
	}
	// Adapter until list exports it: the same token as list's manageURL.
	return "/manage/" + s.svc.Tokens().Seal(list.Token{Purpose: list.PurposeManage, Subscriber: sb.ID, Nonce: sb.Nonce})
}

// unsubscribeForm shows the unsubscribe button and the "all lists" choice.
func (s *Server) unsubscribeForm(w http.ResponseWriter, r *http.Request) error {
	info, err := s.svc.UnsubscribeInfo(r.Context(), mux.Vars(r)["token"])
	if err != nil {
		return err
	}
	return s.renderUnsubscribe(w, info)
}

// renderUnsubscribe shows the unsubscribe button, or says that there is
// nothing to unsubscribe from.
func (s *Server) renderUnsubscribe(w http.ResponseWriter, info list.LinkInfo) error {
	title := "Unsubscribe"
	switch {
	case info.Gone:
		title = "You receive nothing from us"
	case info.Done:
		title = "You are already unsubscribed"
	}
	return s.pub.render(w, http.StatusOK, "unsubscribe", view{Title: title, Data: info})
}

// unsubscribePost unsubscribes: from the page (with all=1 from every list),
// or by an RFC 8058 one-click POST from the mail client, which carries
// List-Unsubscribe=One-Click, no cookie and no CSRF token, and gets a 200
// with no redirect (RFC 8058 §3.2). It is never rate-limited.
func (s *Server) unsubscribePost(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	token := mux.Vars(r)["token"]
	if r.PostForm.Get("List-Unsubscribe") == "One-Click" {
		if err := s.svc.Unsubscribe(r.Context(), token, false, list.HowOneClick, s.origin(r)); err != nil {
			return err
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, err := w.Write([]byte("unsubscribed\n"))
		return err
	}
	info, err := s.svc.UnsubscribeInfo(r.Context(), token)
	if err != nil {
		return err
	}
	if info.Gone {
		return s.renderUnsubscribe(w, info)
	}
	all := r.PostForm.Get("all") == "1"
	if err := s.svc.Unsubscribe(r.Context(), token, all, list.HowForm, s.origin(r)); err != nil {
		return err
	}
	data := unsubscribedPage{Info: info, All: all}
	if info.List != nil && info.List.Public {
		data.SignUp = []list.List{*info.List}
	}
	return s.pub.render(w, http.StatusOK, "unsubscribed", view{Title: "You are unsubscribed", Data: data})
}

// unsubscribedPage is the data of the page after an unsubscribe.
type unsubscribedPage struct {
	Info list.LinkInfo
	All  bool
	// SignUp are the public lists whose form the page links, for a way
	// back: the lists left, or every public list after leaving them all.
	SignUp []list.List
}

// publicLists are the lists with a public sign-up form.
func publicLists(ls []list.List) []list.List {
	var out []list.List
	for _, l := range ls {
		if l.Public {
			out = append(out, l)
		}
	}
	return out
}
