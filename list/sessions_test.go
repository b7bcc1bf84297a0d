package list_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
)

// sessionFixture is a service over a real store with one editor, "ed".
func sessionFixture(t *testing.T) (*privFixture, list.User) {
	t.Helper()
	f := newPrivFixture(t, nil)
	u, err := f.svc.AddUser(t.Context(), "ed", list.RoleEditor, "ed-password", list.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	return f, u
}

// startSession starts a session for u and fails the test if it cannot.
func startSession(t *testing.T, f *privFixture, u list.User) string {
	t.Helper()
	id, err := f.svc.StartSession(t.Context(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// stored is the stored row of session id.
func stored(t *testing.T, f *privFixture, id string) (list.Session, error) {
	t.Helper()
	sum := sha256.Sum256([]byte(id))
	return f.db.Session(t.Context(), sum[:])
}

func TestSessionStoredAsHash(t *testing.T) {
	t.Parallel()
	f, u := sessionFixture(t)
	id := startSession(t, f, u)
	if got, err := f.svc.SessionUser(t.Context(), id); err != nil || got.ID != u.ID {
		t.Fatalf("SessionUser = %+v, %v", got, err)
	}
	if _, err := stored(t, f, id); err != nil {
		t.Fatalf("no row under the SHA-256 of the id: %v", err)
	}
	var buf bytes.Buffer
	if _, err := f.db.Backup(t.Context(), &buf); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte(id)) {
		t.Error("the store holds the session id itself")
	}
	for _, bad := range []string{"", "x" + id, id[:10]} {
		if _, err := f.svc.SessionUser(t.Context(), bad); !errors.Is(err, list.ErrUnauthorized) {
			t.Errorf("SessionUser(%q) = %v, want ErrUnauthorized", bad, err)
		}
	}
}

func TestSessionSeenWrittenAtMostEveryMinute(t *testing.T) {
	t.Parallel()
	f, u := sessionFixture(t)
	id := startSession(t, f, u)
	start := f.now()
	f.add(30 * time.Second)
	if _, err := f.svc.SessionUser(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	if s, _ := stored(t, f, id); !s.SeenAt.Equal(start) {
		t.Errorf("SeenAt after a use 30s on = %v, want %v unwritten", s.SeenAt, start)
	}
	f.add(31 * time.Second)
	if _, err := f.svc.SessionUser(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	if s, _ := stored(t, f, id); !s.SeenAt.Equal(f.now()) {
		t.Errorf("SeenAt after a use 61s on = %v, want %v", s.SeenAt, f.now())
	}
}

func TestSessionLimits(t *testing.T) {
	t.Parallel()
	f, u := sessionFixture(t)
	idle, busy := startSession(t, f, u), startSession(t, f, u)
	// expired checks that id is refused and its row deleted.
	expired := func(what, id string) {
		t.Helper()
		if _, err := f.svc.SessionUser(t.Context(), id); !errors.Is(err, list.ErrUnauthorized) {
			t.Errorf("%s = %v, want ErrUnauthorized", what, err)
		}
		if _, err := stored(t, f, id); !errors.Is(err, list.ErrNotFound) {
			t.Errorf("%s: still stored", what)
		}
	}
	// busy is used every 11 hours, so it outlives idle and ends at 7 days.
	for i := range 15 {
		f.add(11 * time.Hour)
		if _, err := f.svc.SessionUser(t.Context(), busy); err != nil {
			t.Fatalf("a session used every 11 hours ended at %v: %v", f.now(), err)
		}
		if i == 1 {
			expired("a session unused for 22 hours", idle)
		}
	}
	f.add(11 * time.Hour) // 176 h > 7 days
	expired("a session used every 11 hours, after 7 days", busy)
}

func TestSetPasswordEndsSessions(t *testing.T) {
	t.Parallel()
	f, u := sessionFixture(t)
	id := startSession(t, f, u)
	if err := f.svc.SetPassword(t.Context(), "ed", "another-password", list.Origin{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SessionUser(t.Context(), id); !errors.Is(err, list.ErrUnauthorized) {
		t.Errorf("session after a password change = %v, want ErrUnauthorized", err)
	}
}

func TestRetentionSweepsSessions(t *testing.T) {
	t.Parallel()
	f, u := sessionFixture(t)
	gone := startSession(t, f, u)
	f.add(list.SessionIdle - time.Hour)
	kept := startSession(t, f, u)
	f.add(2 * time.Hour)
	rep, err := f.svc.Retention(t.Context())
	if err != nil || rep.SessionsSwept != 1 {
		t.Fatalf("Retention = %+v, %v, want 1 session swept", rep, err)
	}
	if _, err := stored(t, f, gone); !errors.Is(err, list.ErrNotFound) {
		t.Error("idle session not swept")
	}
	if _, err := stored(t, f, kept); err != nil {
		t.Errorf("live session swept: %v", err)
	}
}

func TestDeriveKey(t *testing.T) {
	t.Parallel()
	f, _ := sessionFixture(t)
	a, b := f.svc.DeriveKey("admin csrf"), f.svc.DeriveKey("other")
	if len(a) != 32 || bytes.Equal(a, b) || bytes.Contains(a, []byte("0123456789abcdef")) {
		t.Errorf("DeriveKey: %x and %x, want two distinct 32-byte keys", a, b)
	}
	again, err := list.New(list.Options{Store: f.db, Mailer: f.mail, Secret: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.DeriveKey("admin csrf"), a) {
		t.Error("a service over the same secret derives another key")
	}
}
