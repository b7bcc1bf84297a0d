package list

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters: OWASP's recommended minimum (19 MiB, 2 passes).
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// HashPassword hashes a password with argon2id into a PHC string.
func HashPassword(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime,
		argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword verifies a password against a PHC argon2id string.
func CheckPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m > 1<<20 || t > 16 || p == 0 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

var userRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._@-]{0,63}$`)

// MinPasswordLen is the shortest password accepted.
const MinPasswordLen = 10

// RandomSecret returns n random bytes encoded for humans (base64url).
func RandomSecret(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("list: crypto/rand failed: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// AddUser creates a user account.
func (s *Service) AddUser(ctx context.Context, name string, role Role, password string, o Origin) (User, error) {
	if !userRE.MatchString(name) {
		return User{}, fmt.Errorf("%w: user name must be 1-64 letters, digits or ._@-", ErrInvalid)
	}
	if role != RoleAdmin && role != RoleEditor {
		return User{}, fmt.Errorf("%w: role must be admin or editor", ErrInvalid)
	}
	if utf8.RuneCountInString(password) < MinPasswordLen {
		return User{}, fmt.Errorf("%w: password must have at least %d characters", ErrInvalid, MinPasswordLen)
	}
	h, err := HashPassword(password)
	if err != nil {
		return User{}, err
	}
	u := User{Name: name, Role: role, PasswordHash: h, CreatedAt: s.Now()}
	if err := s.store.CreateUser(ctx, &u); err != nil {
		return User{}, err
	}
	s.audit(ctx, o, "user.add", name)
	return u, nil
}

// EnsureAdmin creates the first admin account "admin" when there is no user.
// It uses password when given, else a random one; created reports whether
// an account was made (and so whether the password must be shown).
func (s *Service) EnsureAdmin(ctx context.Context, password string) (pw string, created bool, err error) {
	us, err := s.store.Users(ctx)
	if err != nil || len(us) > 0 {
		return "", false, err
	}
	if password == "" {
		password = RandomSecret(15)
	}
	if _, err := s.AddUser(ctx, "admin", RoleAdmin, password, Origin{User: "system"}); err != nil {
		return "", false, err
	}
	return password, true, nil
}

// Authenticate checks a user's password. It takes the same time for an
// unknown user, so that it reveals no account names.
func (s *Service) Authenticate(ctx context.Context, name, password string) (User, error) {
	u, err := s.store.UserByName(ctx, name)
	if errors.Is(err, ErrNotFound) {
		CheckPassword(dummyHash, password)
		return User{}, ErrUnauthorized
	}
	if err != nil {
		return User{}, err
	}
	if !CheckPassword(u.PasswordHash, password) {
		return User{}, ErrUnauthorized
	}
	return u, nil
}

// dummyHash is verified for unknown users to even out timing.
var dummyHash, _ = HashPassword("bulletin timing equaliser")

// SetPassword changes a user's password and ends their sessions, so that
// whoever was logged in with the old one is logged out everywhere.
func (s *Service) SetPassword(ctx context.Context, name, password string, o Origin) error {
	if utf8.RuneCountInString(password) < MinPasswordLen {
		return fmt.Errorf("%w: password must have at least %d characters", ErrInvalid, MinPasswordLen)
	}
	u, err := s.store.UserByName(ctx, name)
	if err != nil {
		return err
	}
	h, err := HashPassword(password)
	if err != nil {
		return err
	}
	_, err = s.store.UpdateUser(ctx, u.ID, func(u *User) error {
		u.PasswordHash = h
		return nil
	})
	if err != nil {
		return err
	}
	s.audit(ctx, o, "user.passwd", name)
	return s.EndUserSessions(ctx, u.ID, "")
}

// apiTokenPrefix marks Bulletin API tokens, so that secret scanners can
// recognise a leaked one.
const apiTokenPrefix = "blt_"

// CreateAPIToken makes a bearer token for user; the clear token is returned
// once and only its hash is stored.
func (s *Service) CreateAPIToken(ctx context.Context, user UserID, name string, o Origin) (string, APIToken, error) {
	name = strings.TrimSpace(name)
	if err := checkText("token name", name, 100); err != nil {
		return "", APIToken{}, err
	}
	if name == "" {
		return "", APIToken{}, fmt.Errorf("%w: give the token a name, to know later what uses it", ErrInvalid)
	}
	clear := apiTokenPrefix + RandomSecret(24)
	sum := sha256.Sum256([]byte(clear))
	t := APIToken{User: user, Name: name, Hash: sum[:], CreatedAt: s.Now()}
	if err := s.store.CreateAPIToken(ctx, &t); err != nil {
		return "", APIToken{}, err
	}
	s.audit(ctx, o, "token.create", name)
	return clear, t, nil
}

// AuthenticateToken finds the user of a bearer token. Tokens are long and
// random, so a plain SHA-256 is enough to store them.
func (s *Service) AuthenticateToken(ctx context.Context, token string) (User, error) {
	if !strings.HasPrefix(token, apiTokenPrefix) || len(token) > 100 {
		return User{}, ErrUnauthorized
	}
	sum := sha256.Sum256([]byte(token))
	t, err := s.store.APITokenByHash(ctx, sum[:])
	if errors.Is(err, ErrNotFound) {
		return User{}, ErrUnauthorized
	}
	if err != nil {
		return User{}, err
	}
	u, err := s.store.User(ctx, t.User)
	if errors.Is(err, ErrNotFound) {
		return User{}, ErrUnauthorized
	}
	return u, err
}
