package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/list/logtest"
	bolt "go.etcd.io/bbolt"
)

func TestOpenInUse(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bulletin.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	start := time.Now()
	db2, err := Open(path, Options{})
	if err == nil {
		db2.Close()
		t.Fatal("second Open succeeded, want ErrStoreInUse")
	}
	if !errors.Is(err, list.ErrStoreInUse) {
		t.Errorf("second Open = %v, want ErrStoreInUse", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("second Open took %v, want about a second", d)
	}
}

func TestSchemaTooNew(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bulletin.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		return bucket(tx, bMeta).Put([]byte(metaSchema), u64(schemaVersion+41))
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = Open(path, Options{})
	if !errors.Is(err, list.ErrSchemaTooNew) {
		t.Fatalf("Open of a newer store = %v, want ErrSchemaTooNew", err)
	}
	for _, v := range []string{fmt.Sprint(schemaVersion + 41), fmt.Sprint(schemaVersion)} {
		if !strings.Contains(err.Error(), v) {
			t.Errorf("error %q does not name version %s", err, v)
		}
	}
}

func TestRestartPersists(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "bulletin.db")
	db, err := Open(path, Options{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	l := mustCreateList(t, db, "news")
	r := mustUpdate(t, db, list.Key{Identity: "ann@example.org"}, true, subscribe(l.ID, list.StateConfirmed, "Ann"))
	c := list.Campaign{Name: "c", Lists: []list.ListID{l.ID}}
	if err := db.CreateCampaign(ctx, &c); err != nil {
		t.Fatal(err)
	}
	u := list.User{Name: "admin", Role: list.RoleAdmin, PasswordHash: "h"}
	if err := db.CreateUser(ctx, &u); err != nil {
		t.Fatal(err)
	}
	if err := db.PutSetting(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(path, Options{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { checkDB(t, db); db.Close() })
	got, err := db.Record(ctx, list.Key{Identity: "ann@example.org"})
	if err != nil || got.Subscriber.ID != r.Subscriber.ID || got.Subscriber.Name != "Ann" {
		t.Errorf("Record after reopen = %+v, %v", got, err)
	}
	if n, err := db.Counts(ctx, l.ID); err != nil || n.Confirmed != 1 {
		t.Errorf("Counts after reopen = %+v, %v", n, err)
	}
	if gc, err := db.Campaign(ctx, c.ID); err != nil || gc.Name != "c" {
		t.Errorf("Campaign after reopen = %+v, %v", gc, err)
	}
	if gu, err := db.UserByName(ctx, "admin"); err != nil || gu.PasswordHash != "h" {
		t.Errorf("UserByName after reopen = %+v, %v", gu, err)
	}
	if v, err := db.Setting(ctx, "k"); err != nil || string(v) != "v" {
		t.Errorf("Setting after reopen = %q, %v", v, err)
	}
}

func TestReadOnly(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bulletin.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustCreateList(t, db, "news")
	db.Close()
	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("Open read-only = %v", err)
	}
	defer ro.Close()
	if _, err := ro.ListBySlug(t.Context(), "news"); err != nil {
		t.Errorf("ListBySlug on read-only store = %v", err)
	}
	if err := ro.PutSetting(t.Context(), "k", nil); err == nil {
		t.Error("PutSetting on read-only store succeeded")
	}
}

func TestCanceledContext(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := db.Lists(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Lists(canceled) = %v, want context.Canceled", err)
	}
	_, err := db.UpdateSubscriber(ctx, list.Key{Identity: "a@b"}, true, subscribe(1, list.StateConfirmed, ""))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("UpdateSubscriber(canceled) = %v, want context.Canceled", err)
	}
}

func TestSettings(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := t.Context()
	if _, err := db.Setting(ctx, "missing"); !errors.Is(err, list.ErrNotFound) {
		t.Errorf("Setting(missing) = %v, want ErrNotFound", err)
	}
	if err := db.PutSetting(ctx, "empty", nil); err != nil {
		t.Fatal(err)
	}
	if v, err := db.Setting(ctx, "empty"); err != nil || len(v) != 0 {
		t.Errorf("Setting(empty) = %q, %v", v, err)
	}
	if err := db.PutSetting(ctx, "x", []byte{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	if v, _ := db.Setting(ctx, "x"); string(v) != "\x00\x01\x02" {
		t.Errorf("Setting(x) = %q", v)
	}
}

// TestCreatedLoggedOnce: a new store says it was created, once, rather than
// logging each migration as if it were an upgrade; opening it again says
// nothing of its schema.
func TestCreatedLoggedOnce(t *testing.T) {
	t.Parallel()
	var logs logtest.Buffer
	path := filepath.Join(t.TempDir(), "bulletin.db")
	for range 2 {
		db, err := Open(path, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	if got := logs.String(); strings.Count(got, `msg="store created"`) != 1 || strings.Contains(got, "migrated") {
		t.Errorf("logs of creating and opening a store:\n%s", got)
	}
}
