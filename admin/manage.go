package admin

import (
	"errors"
	"net/http"

	"github.com/bulletin/bulletin/list"
	"github.com/gorilla/mux"
)

// managePage is the data of the preference page.
type managePage struct {
	View  list.ManageView
	Name  string
	Attrs []attrField
	Lists []manageList
}

// manageList is one checkbox of the preference page.
type manageList struct {
	Slug, Name, Description string
	On                      bool
}

func newManagePage(mv list.ManageView, r *http.Request) managePage {
	p := managePage{View: mv, Name: mv.Subscriber.Name}
	typed := r != nil && r.PostForm != nil
	if typed {
		p.Name = r.PostForm.Get("name")
	}
	for _, a := range mv.Attributes {
		f := attrField{Name: a, Value: mv.Subscriber.Attributes[a]}
		if typed {
			f.Value = r.PostForm.Get(attrPrefix + a)
		}
		p.Attrs = append(p.Attrs, f)
	}
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
		p.Lists = append(p.Lists, manageList{Slug: l.Slug, Name: l.Name, Description: l.Description, On: on})
	}
	return p
}

// manageForm shows the preference page.
func (s *Server) manageForm(w http.ResponseWriter, r *http.Request) error {
	mv, err := s.svc.ManageInfo(r.Context(), mux.Vars(r)["token"])
	if err != nil {
		return err
	}
	return s.pub.render(w, http.StatusOK, "manage", view{Title: "Your subscription", Data: newManagePage(mv, nil)})
}

// managePost saves the preference page (action=save). The data-access
// actions (export, erase) are only accepted where the page offers them.
func (s *Server) managePost(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	token := mux.Vars(r)["token"]
	mv, err := s.svc.ManageInfo(r.Context(), token)
	if err != nil {
		return err
	}
	switch r.PostForm.Get("action") {
	case "save":
	case "export", "erase":
		if !mv.Privacy {
			return newHTTPError(http.StatusBadRequest, "unknown action")
		}
		return newHTTPError(http.StatusNotImplemented, "not implemented yet")
	default:
		return newHTTPError(http.StatusBadRequest, "unknown action")
	}
	u := list.ManageUpdate{Name: r.PostForm.Get("name"), Lists: r.PostForm["list"]}
	msg := ""
	if len(u.Name) > maxNameLen {
		msg = "The name is too long."
	}
	for _, a := range mv.Attributes {
		if v, ok := r.PostForm[attrPrefix+a]; ok && len(v) > 0 {
			if len(v[0]) > maxAttrLen {
				msg = "The field “" + label(a) + "” is too long."
			}
			if u.Attributes == nil {
				u.Attributes = make(map[string]string)
			}
			u.Attributes[a] = v[0]
		}
	}
	if msg == "" {
		err = s.svc.ManageSave(r.Context(), token, u, s.origin(r))
		if errors.Is(err, list.ErrInvalid) {
			msg = classify(err).msg
		} else if err != nil {
			return err
		}
	}
	if msg != "" {
		v := view{Title: "Your subscription", Data: newManagePage(mv, r), Error: msg}
		return s.pub.render(w, http.StatusUnprocessableEntity, "manage", v)
	}
	if mv, err = s.svc.ManageInfo(r.Context(), token); err != nil {
		return err
	}
	v := view{Title: "Your subscription", Data: newManagePage(mv, nil), Notice: "Your preferences are saved."}
	return s.pub.render(w, http.StatusOK, "manage", v)
}
