package admin

import (
	"context"
	"errors"
	"html"
	"net/http"
	"strings"

	"github.com/bulletin/bulletin/list"
)

// layoutPage is the layout editor's data: the campaign layout's, or the
// system mail layout's when System is set.
type layoutPage struct {
	Layout   list.LayoutInfo
	Findings []list.Finding
	System   bool
	// Kind is the system mail previewed.
	Kind string
}

// Base is the editor's route.
func (p layoutPage) Base() string {
	if p.System {
		return "/admin/layout/system"
	}
	return "/admin/layout"
}

// PreviewKinds are the system mails the editor can preview, by form value.
func (layoutPage) PreviewKinds() [][2]string {
	return [][2]string{{"confirm", "Confirmation"}, {"reminder", "Reminder"}, {"welcome", "Welcome"},
		{"email_change", "Address change"}, {"email_changed", "Address changed"}, {"data_access", "Data request"}}
}

// uiLayout shows the campaign layout (the custom one, or the built-in
// source to start from) with a preview of a sample campaign in it.
func (s *Server) uiLayout(w http.ResponseWriter, r *http.Request) error {
	info, err := s.svc.CampaignLayout(r.Context())
	if err != nil {
		return err
	}
	return s.uiPage(w, r, http.StatusOK, "layout_edit", "templates", layoutPage{Layout: info}, "")
}

// postedLayout reads the editor's form.
func postedLayout(r *http.Request) list.Layout {
	return list.Layout{HTML: r.PostForm.Get("html"), Text: r.PostForm.Get("text")}
}

// uiSaveLayout validates and stores the posted layout. A layout that does
// not parse or run is shown again with the findings (the template error
// and its line), and nothing is stored.
func (s *Server) uiSaveLayout(w http.ResponseWriter, r *http.Request) error {
	if err := uiForm(w, r); err != nil {
		return err
	}
	p := layoutPage{Layout: list.LayoutInfo{Layout: postedLayout(r), Custom: true}}
	return s.saveLayoutForm(w, r, p, s.svc.SaveLayout, "/admin/layout")
}

// saveLayoutForm stores the layout of p with save and goes back; a layout
// that save refuses is shown again with the findings, nothing stored.
func (s *Server) saveLayoutForm(w http.ResponseWriter, r *http.Request, p layoutPage,
	save func(context.Context, list.Layout, list.Origin) ([]list.Finding, error), back string) error {
	_, err := save(r.Context(), p.Layout.Layout, s.origin(r))
	var le *list.LintError
	if errors.As(err, &le) {
		p.Findings = le.Findings
		// The findings are listed under the message, which does not
		// repeat them.
		return s.uiPage(w, r, http.StatusUnprocessableEntity, "layout_edit", "templates", p, "The layout was not saved: the errors are listed below.")
	}
	if err != nil {
		return s.formError(w, r, err, "layout_edit", "templates", p)
	}
	return redirect(w, r, back, "layout-saved")
}

// uiResetLayout goes back to the built-in layout.
func (s *Server) uiResetLayout(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.ResetLayout(r.Context(), s.origin(r)); err != nil {
		return err
	}
	return redirect(w, r, "/admin/layout", "layout-reset")
}

// uiLayoutPreviewHTML answers the preview frame: the sample campaign in
// the stored layout (GET) or in the posted, unsaved one (POST, the
// editor's Preview button targets the frame, no JavaScript needed). The
// lint's findings and the text part are shown in a box after the mail.
func (s *Server) uiLayoutPreviewHTML(w http.ResponseWriter, r *http.Request) error {
	l, err := previewedLayout(w, r, s.svc.CampaignLayout)
	if err != nil {
		return err
	}
	raw, fs, err := s.svc.PreviewLayout(r.Context(), l)
	return s.writeLayoutPreview(w, r, raw, fs, err)
}

// previewedLayout is the layout a preview frame shows: the posted, unsaved
// one (POST) or the stored one.
func previewedLayout(w http.ResponseWriter, r *http.Request, stored func(context.Context) (list.LayoutInfo, error)) (list.Layout, error) {
	if r.Method == http.MethodPost {
		if err := uiForm(w, r); err != nil {
			return list.Layout{}, err
		}
		return postedLayout(r), nil
	}
	info, err := stored(r.Context())
	return info.Layout, err
}

// writeLayoutPreview answers a layout preview frame: the mail's HTML part
// with the findings and the text part after it, or why there is none.
func (s *Server) writeLayoutPreview(w http.ResponseWriter, r *http.Request, raw []byte, fs []list.Finding, err error) error {
	if err != nil {
		return writeMailHTML(w, "<p>The preview failed: "+htmlEscape(previewMessage(s, r, err))+"</p>")
	}
	if raw == nil {
		return writeMailHTML(w, previewNotes(fs, ""))
	}
	m, err := parseMail(raw)
	if err != nil {
		return err
	}
	return writeMailHTML(w, withNotes(m.HTML, previewNotes(fs, m.Text)))
}

// previewKind reads a system mail kind to preview; "" and unknown values
// are the confirmation.
func previewKind(v string) list.MailKind {
	switch k := list.MailKind(v); k {
	case list.MailReminder, list.MailWelcome, list.MailEmailChange, list.MailEmailChanged, list.MailDataAccess:
		return k
	}
	return list.MailConfirm
}

// uiSystemLayout shows the system mail layout (the custom one, or the
// built-in source to start from) with a preview of a system mail in it.
func (s *Server) uiSystemLayout(w http.ResponseWriter, r *http.Request) error {
	info, err := s.svc.SystemLayout(r.Context())
	if err != nil {
		return err
	}
	p := layoutPage{Layout: info, System: true, Kind: string(previewKind(r.URL.Query().Get("kind")))}
	return s.uiPage(w, r, http.StatusOK, "layout_edit", "templates", p, "")
}

// uiSaveSystemLayout validates and stores the posted system mail layout.
// A layout that does not parse or run, or that would send a mail without
// its confirmation or preference link, is shown again with the findings,
// and nothing is stored.
func (s *Server) uiSaveSystemLayout(w http.ResponseWriter, r *http.Request) error {
	if err := uiForm(w, r); err != nil {
		return err
	}
	p := layoutPage{Layout: list.LayoutInfo{Layout: postedLayout(r), Custom: true}, System: true, Kind: string(previewKind(r.PostForm.Get("kind")))}
	return s.saveLayoutForm(w, r, p, s.svc.SaveSystemLayout, "/admin/layout/system")
}

// uiResetSystemLayout goes back to the built-in system mail layout.
func (s *Server) uiResetSystemLayout(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.ResetSystemLayout(r.Context(), s.origin(r)); err != nil {
		return err
	}
	return redirect(w, r, "/admin/layout/system", "layout-reset")
}

// uiSystemLayoutPreviewHTML answers the preview frame: a sample system
// mail (?kind=, the confirmation by default) in the stored layout (GET) or
// in the posted, unsaved one (POST: html, text, kind). The findings of
// the check on every system mail and the text part follow the mail.
func (s *Server) uiSystemLayoutPreviewHTML(w http.ResponseWriter, r *http.Request) error {
	l, err := previewedLayout(w, r, s.svc.SystemLayout)
	if err != nil {
		return err
	}
	kind := previewKind(r.URL.Query().Get("kind"))
	if r.Method == http.MethodPost {
		kind = previewKind(r.PostForm.Get("kind"))
	}
	raw, fs, err := s.svc.PreviewSystemLayout(r.Context(), l, kind)
	return s.writeLayoutPreview(w, r, raw, fs, err)
}

// previewNotes is the box under a previewed mail: findings and text part.
func previewNotes(fs []list.Finding, text string) string {
	var b strings.Builder
	b.WriteString(`<div style="max-width:640px;margin:24px auto;padding:12px;border:2px dashed #a1a1aa;font:14px/1.4 sans-serif;color:#18181b;background:#fff;">`)
	b.WriteString("<p><strong>Preview notes (not part of the mail)</strong></p>")
	if len(fs) > 0 {
		b.WriteString("<ul>")
		for _, f := range fs {
			b.WriteString("<li><strong>" + html.EscapeString(f.Severity) + ":</strong> " + html.EscapeString(f.Message))
			if f.Fix != "" {
				b.WriteString(" — " + html.EscapeString(f.Fix))
			}
			b.WriteString("</li>")
		}
		b.WriteString("</ul>")
	}
	if text != "" {
		b.WriteString(`<p>Text part:</p><pre style="white-space:pre-wrap;font:13px/1.4 monospace;">` + html.EscapeString(text) + "</pre>")
	}
	b.WriteString("</div>")
	return b.String()
}

// withNotes puts notes before the mail's </body>.
func withNotes(mail, notes string) string {
	if i := strings.LastIndex(strings.ToLower(mail), "</body>"); i >= 0 {
		return mail[:i] + notes + mail[i:]
	}
	return mail + notes
}
