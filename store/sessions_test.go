package store

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
	bolt "go.etcd.io/bbolt"
)

// sessionHashOf is a stand-in for the hash the list package stores.
func sessionHashOf(id string) []byte {
	sum := sha256.Sum256([]byte(id))
	return sum[:]
}

// addSessionUser makes a user for sessions to belong to.
func addSessionUser(t *testing.T, db *DB, name string) list.UserID {
	t.Helper()
	u := list.User{Name: name, Role: list.RoleEditor, PasswordHash: "x"}
	if err := db.CreateUser(t.Context(), &u); err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// putSession stores a session of user made at created and last seen at seen.
func putSession(t *testing.T, db *DB, id string, user list.UserID, created, seen time.Time) []byte {
	t.Helper()
	h := sessionHashOf(id)
	if err := db.CreateSession(t.Context(), list.Session{Hash: h, User: user, CreatedAt: created, SeenAt: seen}, 0); err != nil {
		t.Fatalf("CreateSession(%s) = %v", id, err)
	}
	return h
}

// sessionGone reports whether the session under h is no longer stored.
func sessionGone(t *testing.T, db *DB, h []byte) bool {
	t.Helper()
	_, err := db.Session(t.Context(), h)
	if err != nil && !errors.Is(err, list.ErrNotFound) {
		t.Fatal(err)
	}
	return err != nil
}

func TestSessions(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := t.Context()
	ann, bob := addSessionUser(t, db, "ann"), addSessionUser(t, db, "bob")
	h := putSession(t, db, "a1", ann, testTime, testTime)

	got, err := db.Session(ctx, h)
	if err != nil || got.User != ann || !got.CreatedAt.Equal(testTime) || !got.SeenAt.Equal(testTime) || !bytes.Equal(got.Hash, h) {
		t.Fatalf("Session = %+v, %v", got, err)
	}
	if err := db.CreateSession(ctx, list.Session{Hash: h, User: ann}, 0); !errors.Is(err, list.ErrExists) {
		t.Errorf("CreateSession of a taken hash = %v, want ErrExists", err)
	}
	if err := db.CreateSession(ctx, list.Session{Hash: sessionHashOf("x"), User: 99}, 0); !errors.Is(err, list.ErrNotFound) {
		t.Errorf("CreateSession for no user = %v, want ErrNotFound", err)
	}

	// Touch moves SeenAt forward only.
	later := testTime.Add(time.Hour)
	if err := db.TouchSession(ctx, h, later); err != nil {
		t.Fatal(err)
	}
	if err := db.TouchSession(ctx, h, testTime); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Session(ctx, h); !got.SeenAt.Equal(later) || !got.CreatedAt.Equal(testTime) {
		t.Errorf("after touches SeenAt = %v CreatedAt = %v, want %v and %v", got.SeenAt, got.CreatedAt, later, testTime)
	}
	if err := db.TouchSession(ctx, sessionHashOf("none"), later); !errors.Is(err, list.ErrNotFound) {
		t.Errorf("TouchSession of an unknown session = %v, want ErrNotFound", err)
	}

	if err := db.DeleteSession(ctx, h); err != nil || !sessionGone(t, db, h) {
		t.Fatalf("DeleteSession = %v, gone %v", err, sessionGone(t, db, h))
	}
	if err := db.DeleteSession(ctx, h); err != nil {
		t.Errorf("DeleteSession again = %v, want nil", err)
	}

	// By user: all of ann's but the one kept; bob's stay.
	a2, a3 := putSession(t, db, "a2", ann, testTime, testTime), putSession(t, db, "a3", ann, testTime, testTime)
	b1 := putSession(t, db, "b1", bob, testTime, testTime)
	if n, err := db.DeleteUserSessions(ctx, ann, a3); err != nil || n != 1 {
		t.Errorf("DeleteUserSessions(ann, keep a3) = %d, %v, want 1", n, err)
	}
	if !sessionGone(t, db, a2) || sessionGone(t, db, a3) || sessionGone(t, db, b1) {
		t.Error("DeleteUserSessions deleted the wrong sessions")
	}
	if n, err := db.DeleteUserSessions(ctx, ann, nil); err != nil || n != 1 || !sessionGone(t, db, a3) {
		t.Errorf("DeleteUserSessions(ann) = %d, %v, want 1", n, err)
	}

	// Deleting a user deletes their sessions in the same transaction.
	if err := db.DeleteUser(ctx, bob); err != nil || !sessionGone(t, db, b1) {
		t.Errorf("DeleteUser = %v, session left: %v", err, !sessionGone(t, db, b1))
	}
}

func TestSweepSessions(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	u := addSessionUser(t, db, "ann")
	day := 24 * time.Hour
	idle := putSession(t, db, "idle", u, testTime.Add(-2*day), testTime.Add(-13*time.Hour))
	old := putSession(t, db, "old", u, testTime.Add(-8*day), testTime.Add(-time.Minute))
	live := putSession(t, db, "live", u, testTime.Add(-6*day), testTime.Add(-11*time.Hour))
	n, err := db.SweepSessions(t.Context(), testTime.Add(-12*time.Hour), testTime.Add(-7*day))
	if err != nil || n != 2 {
		t.Fatalf("SweepSessions = %d, %v, want 2", n, err)
	}
	if !sessionGone(t, db, idle) || !sessionGone(t, db, old) || sessionGone(t, db, live) {
		t.Error("SweepSessions deleted the wrong sessions")
	}
}

func TestSessionsPerUserBound(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	u := addSessionUser(t, db, "ann")
	var hs [][]byte
	for i, id := range []string{"s0", "s1", "s2"} {
		// s1 is the least recently seen.
		seen := testTime.Add(time.Duration([]int{2, 1, 3}[i]) * time.Minute)
		hs = append(hs, putSession(t, db, id, u, testTime, seen))
	}
	h := sessionHashOf("s3")
	if err := db.CreateSession(t.Context(), list.Session{Hash: h, User: u, CreatedAt: testTime, SeenAt: testTime}, 3); err != nil {
		t.Fatal(err)
	}
	if !sessionGone(t, db, hs[1]) || sessionGone(t, db, hs[0]) || sessionGone(t, db, hs[2]) || sessionGone(t, db, h) {
		t.Error("a fourth session under a bound of 3 did not replace the least recently seen")
	}
}

func TestSessionsSurviveReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bulletin.db")
	db, err := Open(path, Options{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	h := putSession(t, db, "s", addSessionUser(t, db, "ann"), testTime, testTime)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(path, Options{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if sessionGone(t, db, h) {
		t.Fatal("a session did not survive closing and reopening the store")
	}
	checkDB(t, db)
}

// TestSessionsBucketMadeAtOpen: a store last written by a Bulletin without
// sessions gets the bucket at the next read-write Open, with no schema
// change, and reads as having no session when opened read-only before that.
func TestSessionsBucketMadeAtOpen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bulletin.db")
	db, err := Open(path, Options{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	err = db.bolt.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte(bSessions)) })
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if !sessionGone(t, ro, sessionHashOf("s")) {
		t.Error("a store without the sessions bucket has a session")
	}
	ro.Close()
	db, err = Open(path, Options{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	putSession(t, db, "s", addSessionUser(t, db, "ann"), testTime, testTime)
	db.bolt.View(func(tx *bolt.Tx) error {
		if v := readSchema(tx); v != schemaVersion {
			t.Errorf("schema after Open = %d, want %d unchanged", v, schemaVersion)
		}
		return nil
	})
}
