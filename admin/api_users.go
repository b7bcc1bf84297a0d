package admin

import (
	"net/http"

	"github.com/bulletin/bulletin/list"
	"github.com/gorilla/mux"
)

// userJSON is a user account as the API shows it: never the password hash.
type userJSON struct {
	ID        list.UserID `json:"id"`
	Name      string      `json:"name"`
	Role      list.Role   `json:"role"`
	CreatedAt rfcTime     `json:"created_at"`
}

func newUserJSON(u list.User) userJSON {
	return userJSON{ID: u.ID, Name: u.Name, Role: u.Role, CreatedAt: rfcTime(u.CreatedAt)}
}

// apiUsers answers every user (admins only).
func (s *Server) apiUsers(w http.ResponseWriter, r *http.Request) error {
	us, err := s.svc.Store().Users(r.Context())
	if err != nil {
		return err
	}
	p := page[userJSON]{Items: make([]userJSON, 0, len(us)), Total: len(us)}
	for _, u := range us {
		p.Items = append(p.Items, newUserJSON(u))
	}
	return writeJSON(w, http.StatusOK, p)
}

// apiCreateUser adds a user: {name, role, password} (admins only).
func (s *Server) apiCreateUser(w http.ResponseWriter, r *http.Request) error {
	var b struct {
		Name     string    `json:"name"`
		Role     list.Role `json:"role"`
		Password string    `json:"password"`
	}
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	u, err := s.svc.AddUser(r.Context(), b.Name, b.Role, b.Password, s.origin(r))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, newUserJSON(u))
}

// apiUserPassword sets a user's password: PUT {password} (admins only). The
// Basic-auth cache forgets the old password within its minute.
func (s *Server) apiUserPassword(w http.ResponseWriter, r *http.Request) error {
	var b struct {
		Password string `json:"password"`
	}
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	name := mux.Vars(r)["name"]
	if err := s.svc.SetPassword(r.Context(), name, b.Password, s.origin(r)); err != nil {
		return err
	}
	u, err := s.svc.Store().UserByName(r.Context(), name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, newUserJSON(u))
}
