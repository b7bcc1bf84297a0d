package store

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/bulletin/bulletin/list"
	bolt "go.etcd.io/bbolt"
)

// userValue keeps the password hash, which the API type hides.
type userValue struct {
	list.User
	PasswordHash string `json:"password_hash"`
}

func (v *userValue) user() list.User {
	u := v.User
	u.PasswordHash = v.PasswordHash
	return u
}

// tokenValue keeps the token hash, which the API type hides.
type tokenValue struct {
	list.APIToken
	Hash []byte `json:"hash"`
}

func (v *tokenValue) token() list.APIToken {
	t := v.APIToken
	t.Hash = v.Hash
	return t
}

// CreateUser stores u and sets its ID; ErrExists if the name is taken.
func (db *DB) CreateUser(ctx context.Context, u *list.User) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		users := bucket(tx, bUsers)
		id, err := next(users)
		if err != nil {
			return err
		}
		if err := userNameFree(tx, u.Name, u64(id)); err != nil {
			return err
		}
		if err := moveUnique(bucket(tx, bUserName), "", u.Name, u64(id), "user name"); err != nil {
			return err
		}
		v := userValue{User: *u, PasswordHash: u.PasswordHash}
		v.ID = list.UserID(id)
		if v.CreatedAt.IsZero() {
			v.CreatedAt = db.now()
		}
		if err := putJSON(users, u64(id), &v); err != nil {
			return err
		}
		u.ID, u.CreatedAt = v.ID, v.CreatedAt
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: create user: %w", err)
	}
	return nil
}

// User returns the user with the given id.
func (db *DB) User(ctx context.Context, id list.UserID) (list.User, error) {
	var v userValue
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return mustGet(bucket(tx, bUsers), u64(uint64(id)), &v, "user", uint64(id))
	})
	if err != nil {
		return list.User{}, fmt.Errorf("store: user %d: %w", id, err)
	}
	return v.user(), nil
}

// UserByName returns the user with the given name.
func (db *DB) UserByName(ctx context.Context, name string) (list.User, error) {
	var v userValue
	err := db.view(ctx, func(tx *bolt.Tx) error {
		id := bucket(tx, bUserName).Get([]byte(name))
		if id == nil || name == "" {
			return list.ErrNotFound
		}
		return mustGet(bucket(tx, bUsers), id, &v, "user", readU64(id, 0))
	})
	if err != nil {
		return list.User{}, fmt.Errorf("store: user %q: %w", name, err)
	}
	return v.user(), nil
}

// Users returns every user ordered by id.
func (db *DB) Users(ctx context.Context) ([]list.User, error) {
	out := []list.User{}
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return bucket(tx, bUsers).ForEach(func(k, v []byte) error {
			var uv userValue
			if err := decode(k, v, &uv); err != nil {
				return err
			}
			out = append(out, uv.user())
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: users: %w", err)
	}
	return out, nil
}

// UpdateUser runs fn on the user in one transaction; a changed name moves
// the name index (ErrExists if taken). An error from fn is returned as is.
func (db *DB) UpdateUser(ctx context.Context, id list.UserID, fn func(*list.User) error) (list.User, error) {
	var u list.User
	var fnErr error
	err := db.update(ctx, func(tx *bolt.Tx) error {
		users := bucket(tx, bUsers)
		var v userValue
		if err := mustGet(users, u64(uint64(id)), &v, "user", uint64(id)); err != nil {
			return err
		}
		u = v.user()
		if fnErr = fn(&u); fnErr != nil {
			return fnErr
		}
		u.ID = id
		if u.Name != v.Name {
			if err := userNameFree(tx, u.Name, u64(uint64(id))); err != nil {
				return err
			}
		}
		if err := moveUnique(bucket(tx, bUserName), v.Name, u.Name, u64(uint64(id)), "user name"); err != nil {
			return err
		}
		return putJSON(users, u64(uint64(id)), &userValue{User: u, PasswordHash: u.PasswordHash})
	})
	if fnErr != nil {
		return list.User{}, fnErr
	}
	if err != nil {
		return list.User{}, fmt.Errorf("store: update user %d: %w", id, err)
	}
	return u, nil
}

// DeleteUser deletes a user with their API tokens and sessions, which
// would otherwise still authenticate as nobody.
func (db *DB) DeleteUser(ctx context.Context, id list.UserID) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		var v userValue
		if err := mustGet(bucket(tx, bUsers), u64(uint64(id)), &v, "user", uint64(id)); err != nil {
			return err
		}
		toks, err := tokensOf(tx, id)
		if err != nil {
			return err
		}
		for _, t := range toks {
			if err := removeToken(tx, &t); err != nil {
				return err
			}
		}
		if _, err := deleteUserSessions(tx, id, nil); err != nil {
			return err
		}
		if err := bucket(tx, bUserName).Delete([]byte(v.Name)); err != nil {
			return err
		}
		return bucket(tx, bUsers).Delete(u64(uint64(id)))
	})
	if err != nil {
		return fmt.Errorf("store: delete user %d: %w", id, err)
	}
	return nil
}

// userNameFree refuses a name that another user's differs from only in
// case: "Edith" and "edith" would be two accounts for one person to mix
// up. Users are few, so the index is read whole, in the writing
// transaction, so that two creations cannot both pass.
func userNameFree(tx *bolt.Tx, name string, id []byte) error {
	return bucket(tx, bUserName).ForEach(func(k, v []byte) error {
		if strings.EqualFold(string(k), name) && !bytes.Equal(v, id) {
			return fmt.Errorf("%w: user name %q (as %q)", list.ErrExists, name, k)
		}
		return nil
	})
}
