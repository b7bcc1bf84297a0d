package admin

import (
	"net/http"
	"net/url"

	"github.com/bulletin/bulletin/list"
	"github.com/gorilla/mux"
)

// templatesPage shows each list's system mail texts.
type templatesPage struct {
	Lists []list.ListWithCounts
}

// uiTemplates shows the confirmation, reminder and welcome texts of every
// list, each editable with a preview of the mail as it goes out (wrapped
// in the system mail layout, with the footer).
func (s *Server) uiTemplates(w http.ResponseWriter, r *http.Request) error {
	ls, err := s.svc.Lists(r.Context())
	if err != nil {
		return err
	}
	return s.uiPage(w, r, http.StatusOK, "templates", "templates", templatesPage{Lists: ls}, "")
}

func (s *Server) uiSaveTemplates(w http.ResponseWriter, r *http.Request) error {
	if err := uiForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	confirm, reminder, welcome, on := f.Get("confirm_text"), f.Get("reminder_text"), f.Get("welcome_text"), formBool(r, "welcome")
	p := list.ListPatch{ConfirmText: &confirm, ReminderText: &reminder, WelcomeText: &welcome, Welcome: &on}
	slug := mux.Vars(r)["slug"]
	if _, err := s.svc.UpdateList(r.Context(), slug, p, s.origin(r)); err != nil {
		ls, lerr := s.svc.Lists(r.Context())
		if lerr != nil {
			return err
		}
		// The page again, with the posted texts in the list's form.
		for i := range ls {
			if ls[i].Slug == slug {
				ls[i].ConfirmText, ls[i].ReminderText, ls[i].WelcomeText, ls[i].Welcome = confirm, reminder, welcome, on
			}
		}
		return s.formError(w, r, err, "templates", "templates", templatesPage{Lists: ls})
	}
	return redirect(w, r, "/admin/templates", "templates-saved")
}

// mailKind reads ?kind= (or the form's kind) as a system mail kind.
func mailKind(v string) list.MailKind {
	switch v {
	case "welcome":
		return list.MailWelcome
	case "reminder":
		return list.MailReminder
	}
	return list.MailConfirm
}

// uiTemplatePreview shows a list's stored system mail, without JavaScript.
func (s *Server) uiTemplatePreview(w http.ResponseWriter, r *http.Request) error {
	slug := mux.Vars(r)["slug"]
	raw, err := s.svc.PreviewSystemMail(r.Context(), slug, mailKind(r.URL.Query().Get("kind")), nil)
	if err != nil {
		return err
	}
	m, err := parseMail(raw)
	if err != nil {
		return err
	}
	kind := r.URL.Query().Get("kind")
	return s.uiPage(w, r, http.StatusOK, "mail", "templates", mailPage{Title: "Preview: " + m.Subject, Mail: m, Back: "/admin/templates",
		HTMLURL: "/admin/templates/" + url.PathEscape(slug) + "/preview.html?kind=" + url.QueryEscape(kind)}, "")
}

// uiTemplatePreviewHTML answers the HTML part of a list's stored system
// mail for the preview frame.
// On POST, the unsaved text of the form (kind, text) is shown.
func (s *Server) uiTemplatePreviewHTML(w http.ResponseWriter, r *http.Request) error {
	kind, text := mailKind(r.URL.Query().Get("kind")), (*string)(nil)
	if r.Method == http.MethodPost {
		if err := uiForm(w, r); err != nil {
			return err
		}
		t := r.PostForm.Get("text")
		kind, text = mailKind(r.PostForm.Get("kind")), &t
	}
	raw, err := s.svc.PreviewSystemMail(r.Context(), mux.Vars(r)["slug"], kind, text)
	if err != nil {
		return writeMailHTML(w, "<p>The preview failed: "+htmlEscape(previewMessage(s, r, err))+"</p>")
	}
	m, err := parseMail(raw)
	if err != nil {
		return err
	}
	return writeMailHTML(w, m.HTML)
}

// uiTemplatePreviewPost renders the posted, unsaved text as JSON for the
// live preview.
func (s *Server) uiTemplatePreviewPost(w http.ResponseWriter, r *http.Request) error {
	if err := uiForm(w, r); err != nil {
		return err
	}
	text := r.PostForm.Get("text")
	raw, err := s.svc.PreviewSystemMail(r.Context(), mux.Vars(r)["slug"], mailKind(r.PostForm.Get("kind")), &text)
	if err != nil {
		return previewError(w, r, s, err)
	}
	m, err := parseMail(raw)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, previewAnswer{Subject: m.Subject, HTML: m.HTML, Text: m.Text, Headers: m.Headers, Findings: []list.Finding{}})
}
