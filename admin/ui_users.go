package admin

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/bulletin/bulletin/list"
)

// accountPage is the signed-in user's own page: password and API tokens.
type accountPage struct {
	User   list.User
	Tokens []list.APIToken
	// NewToken is a token just made, shown this once.
	NewToken string
}

func (s *Server) accountData(r *http.Request) (accountPage, error) {
	u, _ := user(r)
	ts, err := s.svc.Store().APITokens(r.Context(), u.ID)
	if err != nil {
		return accountPage{}, err
	}
	return accountPage{User: u, Tokens: ts}, nil
}

func (s *Server) uiAccount(w http.ResponseWriter, r *http.Request) error {
	p, err := s.accountData(r)
	if err != nil {
		return err
	}
	// Showing a new token once is the display of the POST's result, not a
	// change of stored state.
	p.NewToken = s.newTokens.take(info(r).sid, s.now())
	return s.uiPage(w, r, http.StatusOK, "account", "account", p, "")
}

// uiPassword changes the user's own password; the current one is asked
// again, so that an unattended session cannot take the account over.
func (s *Server) uiPassword(w http.ResponseWriter, r *http.Request) error {
	if err := uiForm(w, r); err != nil {
		return err
	}
	u, _ := user(r)
	f := r.PostForm
	fail := func(status int, msg string) error {
		p, err := s.accountData(r)
		if err != nil {
			return err
		}
		return s.uiPage(w, r, status, "account", "account", p, msg)
	}
	if f.Get("new") != f.Get("confirm") {
		return fail(http.StatusUnprocessableEntity, "The new passwords do not match.")
	}
	if _, err := s.checkPassword(r, u.Name, f.Get("current")); err != nil {
		if errors.Is(err, list.ErrUnauthorized) {
			return fail(http.StatusUnprocessableEntity, "The current password is wrong.")
		}
		if msg, ok := lockedMessage(w, err); ok {
			return fail(http.StatusTooManyRequests, msg)
		}
		return err
	}
	if err := s.svc.SetPassword(r.Context(), u.Name, f.Get("new"), s.origin(r)); err != nil {
		if errors.Is(err, list.ErrInvalid) {
			return fail(http.StatusUnprocessableEntity, classify(err).msg)
		}
		return err
	}
	s.basicCache.mu.Lock()
	clear(s.basicCache.m) // the old password must stop working for the API at once
	s.basicCache.mu.Unlock()
	// SetPassword ended every session of the user, this one too: the
	// browser that changed the password goes on under a new id.
	if err := s.startSession(w, r, u); err != nil {
		return err
	}
	return redirect(w, r, "/admin/account", "password")
}

func (s *Server) uiCreateToken(w http.ResponseWriter, r *http.Request) error {
	if err := uiForm(w, r); err != nil {
		return err
	}
	u, _ := user(r)
	name := r.PostForm.Get("name")
	if name == "" {
		name = "token"
	}
	secret, _, err := s.svc.CreateAPIToken(r.Context(), u.ID, name, s.origin(r))
	if err != nil {
		p, perr := s.accountData(r)
		if perr != nil {
			return perr
		}
		return s.formError(w, r, err, "account", "account", p)
	}
	// Redirect rather than answer, so that a reload does not make a second
	// token; the session carries the secret to the next page.
	s.newTokens.put(info(r).sid, secret, s.now())
	return redirect(w, r, "/admin/account", "token-created")
}

// uiDeleteToken revokes one of the user's own tokens (an admin may revoke
// anyone's).
func (s *Server) uiDeleteToken(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	u, _ := user(r)
	ctx := r.Context()
	ts, err := s.svc.Store().APITokens(ctx, u.ID)
	if err != nil {
		return err
	}
	mine := false
	for _, t := range ts {
		mine = mine || t.ID == id
	}
	if !mine && u.Role != list.RoleAdmin {
		return list.ErrNotFound
	}
	if err := s.svc.Store().DeleteAPIToken(ctx, id); err != nil {
		return err
	}
	s.svc.RecordAudit(ctx, s.origin(r), "token.delete", strconv.FormatUint(id, 10))
	return redirect(w, r, "/admin/account", "token-deleted")
}

// usersPage lists the accounts.
type usersPage struct {
	Users []list.User
	Me    list.UserID
	Name  string
	Role  string
}

func (s *Server) usersData(r *http.Request) (usersPage, error) {
	us, err := s.svc.Store().Users(r.Context())
	if err != nil {
		return usersPage{}, err
	}
	u, _ := user(r)
	return usersPage{Users: us, Me: u.ID, Role: string(list.RoleEditor)}, nil
}

func (s *Server) uiUsers(w http.ResponseWriter, r *http.Request) error {
	p, err := s.usersData(r)
	if err != nil {
		return err
	}
	return s.uiPage(w, r, http.StatusOK, "users", "users", p, "")
}

func (s *Server) uiAddUser(w http.ResponseWriter, r *http.Request) error {
	if err := uiForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	_, err := s.svc.AddUser(r.Context(), f.Get("name"), list.Role(f.Get("role")), f.Get("password"), s.origin(r))
	if err != nil {
		p, perr := s.usersData(r)
		if perr != nil {
			return perr
		}
		p.Name, p.Role = f.Get("name"), f.Get("role")
		return s.formError(w, r, err, "users", "users", p)
	}
	return redirect(w, r, "/admin/users", "user-added")
}

// uiDeleteUser deletes an account with its tokens and sessions; nobody
// deletes themselves, so there is always an admin left.
func (s *Server) uiDeleteUser(w http.ResponseWriter, r *http.Request) error {
	n, err := pathID(r, "id")
	if err != nil {
		return err
	}
	id, ctx := list.UserID(n), r.Context()
	if me, _ := user(r); me.ID == id {
		return newHTTPError(http.StatusConflict, "You cannot delete your own account.")
	}
	victim, err := s.svc.Store().User(ctx, id)
	if err != nil {
		return err
	}
	ts, err := s.svc.Store().APITokens(ctx, id)
	if err != nil {
		return err
	}
	for _, t := range ts {
		if err := s.svc.Store().DeleteAPIToken(ctx, t.ID); err != nil {
			return err
		}
	}
	if err := s.svc.Store().DeleteUser(ctx, id); err != nil {
		return err
	}
	s.basicCache.mu.Lock()
	clear(s.basicCache.m)
	s.basicCache.mu.Unlock()
	s.svc.RecordAudit(ctx, s.origin(r), "user.delete", victim.Name)
	return redirect(w, r, "/admin/users", "user-deleted")
}
