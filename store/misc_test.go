package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
	bolt "go.etcd.io/bbolt"
)

func TestBounces(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := t.Context()
	add := []list.Bounce{
		{Email: "Ann@Example.org", Kind: list.BounceHard, Campaign: 1, Raw: []byte("report")},
		{Email: "bob@example.org", Kind: list.BounceSoft, Campaign: 1},
		{Email: "ann@example.org", Kind: list.BounceComplaint},
		{Email: "ann@example.org.evil", Kind: list.BounceHard, Campaign: 2},
	}
	for i := range add {
		if err := db.AddBounce(ctx, &add[i]); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		f    list.BounceFilter
		want []list.BounceID
	}{
		{list.BounceFilter{}, []list.BounceID{1, 2, 3, 4}},
		{list.BounceFilter{After: 2}, []list.BounceID{3, 4}},
		{list.BounceFilter{Limit: 1, After: 1}, []list.BounceID{2}},
		{list.BounceFilter{Email: "ANN@example.org"}, []list.BounceID{1, 3}},
		{list.BounceFilter{Email: "ann@example.org", After: 1}, []list.BounceID{3}},
		{list.BounceFilter{Campaign: 1}, []list.BounceID{1, 2}},
		{list.BounceFilter{Campaign: 1, Kind: list.BounceSoft}, []list.BounceID{2}},
		{list.BounceFilter{Kind: list.BounceHard}, []list.BounceID{1, 4}},
	}
	for _, c := range cases {
		got, err := db.Bounces(ctx, c.f)
		var ids []list.BounceID
		for _, b := range got {
			ids = append(ids, b.ID)
		}
		if err != nil || fmt.Sprint(ids) != fmt.Sprint(c.want) {
			t.Errorf("Bounces(%+v) = %v, %v, want %v", c.f, ids, err, c.want)
		}
	}
	got, _ := db.Bounces(ctx, list.BounceFilter{Limit: 1})
	if string(got[0].Raw) != "report" || !got[0].At.Equal(testTime) {
		t.Errorf("bounce 1 = %+v, want raw report and a time", got[0])
	}
	// Counts ignore the page: After and Limit.
	counts := []struct {
		f    list.BounceFilter
		want int
	}{
		{list.BounceFilter{}, 4},
		{list.BounceFilter{After: 2, Limit: 1}, 4},
		{list.BounceFilter{Email: "ann@example.org"}, 2},
		{list.BounceFilter{Email: "ann@example.org", Kind: list.BounceComplaint}, 1},
		{list.BounceFilter{Email: "ann@example.org", Campaign: 1}, 1},
		{list.BounceFilter{Campaign: 1}, 2},
		{list.BounceFilter{Campaign: 1, Kind: list.BounceSoft}, 1},
		{list.BounceFilter{Kind: list.BounceHard}, 2},
		{list.BounceFilter{Email: "nobody@example.org"}, 0},
	}
	for _, c := range counts {
		if n, err := db.CountBounces(ctx, c.f); err != nil || n != c.want {
			t.Errorf("CountBounces(%+v) = %d, %v, want %d", c.f, n, err, c.want)
		}
	}
}

func TestUsersTokensAudit(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := t.Context()
	u := list.User{Name: "admin", Role: list.RoleAdmin, PasswordHash: "$argon"}
	if err := db.CreateUser(ctx, &u); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"admin", "Admin", "ADMIN"} {
		if err := db.CreateUser(ctx, &list.User{Name: name}); !errors.Is(err, list.ErrExists) {
			t.Errorf("CreateUser(%q beside admin) = %v, want ErrExists", name, err)
		}
	}
	ed := list.User{Name: "ed", Role: list.RoleEditor}
	if err := db.CreateUser(ctx, &ed); err != nil {
		t.Fatal(err)
	}
	if got, err := db.User(ctx, u.ID); err != nil || got.PasswordHash != "$argon" {
		t.Errorf("User = %+v, %v", got, err)
	}
	for _, name := range []string{"admin", "Admin"} {
		if _, err := db.UpdateUser(ctx, ed.ID, func(u *list.User) error { u.Name = name; return nil }); !errors.Is(err, list.ErrExists) {
			t.Errorf("rename to %q beside admin = %v, want ErrExists", name, err)
		}
	}
	if got, err := db.UpdateUser(ctx, ed.ID, func(u *list.User) error { u.Name = "Ed"; return nil }); err != nil || got.Name != "Ed" {
		t.Errorf("a user's own name in another case: %+v, %v", got, err)
	}
	if got, err := db.UpdateUser(ctx, ed.ID, func(u *list.User) error { u.Name = "edith"; return nil }); err != nil || got.Name != "edith" {
		t.Errorf("UpdateUser = %+v, %v", got, err)
	}
	if _, err := db.UserByName(ctx, "ed"); !errors.Is(err, list.ErrNotFound) {
		t.Errorf("UserByName(old name) = %v, want ErrNotFound", err)
	}
	tok := list.APIToken{User: ed.ID, Name: "ci", Hash: []byte("hash1")}
	if err := db.CreateAPIToken(ctx, &tok); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateAPIToken(ctx, &list.APIToken{User: u.ID, Hash: []byte("hash1")}); !errors.Is(err, list.ErrExists) {
		t.Errorf("CreateAPIToken(duplicate hash) = %v, want ErrExists", err)
	}
	if got, err := db.APITokenByHash(ctx, []byte("hash1")); err != nil || got.ID != tok.ID || got.User != ed.ID {
		t.Errorf("APITokenByHash = %+v, %v", got, err)
	}
	if toks, err := db.APITokens(ctx, ed.ID); err != nil || len(toks) != 1 {
		t.Errorf("APITokens = %+v, %v", toks, err)
	}
	if err := db.DeleteUser(ctx, ed.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.APITokenByHash(ctx, []byte("hash1")); !errors.Is(err, list.ErrNotFound) {
		t.Errorf("token of a deleted user = %v, want ErrNotFound", err)
	}
	if users, _ := db.Users(ctx); len(users) != 1 {
		t.Errorf("Users = %+v, want one", users)
	}
	t2 := list.APIToken{User: u.ID, Hash: []byte("hash2")}
	if err := db.CreateAPIToken(ctx, &t2); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteAPIToken(ctx, t2.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteAPIToken(ctx, t2.ID); !errors.Is(err, list.ErrNotFound) {
		t.Errorf("second DeleteAPIToken = %v, want ErrNotFound", err)
	}
	for i := range 3 {
		if err := db.AppendAudit(ctx, &list.AuditEntry{User: "admin", Action: fmt.Sprint("a", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := db.Audit(ctx, 1, 10); err != nil || len(got) != 2 || got[0].Action != "a1" || !got[0].At.Equal(testTime) {
		t.Errorf("Audit(after 1) = %+v, %v", got, err)
	}
	// Newest first, from the end or below a cursor (ids are 1, 2, 3).
	actions := func(es []list.AuditEntry) string {
		var out []string
		for _, e := range es {
			out = append(out, e.Action)
		}
		return strings.Join(out, " ")
	}
	for _, tc := range []struct {
		before uint64
		limit  int
		want   string
	}{
		{0, 10, "a2 a1 a0"},
		{0, 2, "a2 a1"},
		{3, 10, "a1 a0"},
		{2, 10, "a0"},
		{1, 10, ""},
		{99, 10, "a2 a1 a0"},
	} {
		got, err := db.AuditBefore(ctx, tc.before, tc.limit)
		if err != nil || actions(got) != tc.want {
			t.Errorf("AuditBefore(%d, %d) = %q, %v; want %q", tc.before, tc.limit, actions(got), err, tc.want)
		}
	}
}

func TestMailQueue(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := t.Context()
	for i, due := range []time.Duration{time.Hour, 0, time.Minute} {
		if err := db.PutMail(ctx, list.QueuedMail{Kind: list.MailConfirm, Subscriber: list.SubscriberID(i + 1), Due: testTime.Add(due)}); err != nil {
			t.Fatal(err)
		}
	}
	due, err := db.DueMails(ctx, testTime.Add(time.Minute), 10)
	if err != nil || len(due) != 2 || due[0].Subscriber != 2 || due[1].Subscriber != 3 {
		t.Fatalf("DueMails = %+v, %v, want subscribers 2 then 3", due, err)
	}
	m := due[0]
	m.Attempts++
	m.Due = testTime.Add(2 * time.Hour)
	if err := db.PutMail(ctx, m); err != nil {
		t.Fatal(err)
	}
	if due, _ := db.DueMails(ctx, testTime.Add(time.Hour), 10); len(due) != 2 || due[1].Subscriber != 1 {
		t.Errorf("DueMails after reschedule = %+v, want 3 then 1", due)
	}
	if err := db.DeleteMail(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.PutMail(ctx, m); !errors.Is(err, list.ErrNotFound) {
		t.Errorf("PutMail of a deleted mail = %v, want ErrNotFound", err)
	}
	if due, _ := db.DueMails(ctx, testTime.Add(24*time.Hour), 10); len(due) != 2 {
		t.Errorf("DueMails after delete = %+v, want 2", due)
	}
}

func TestEventsAndIPTruncation(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := t.Context()
	old := testTime.AddDate(0, -2, 0)
	evs := []list.Event{
		{Subscriber: 5, Kind: list.EventConfirmed, IP: "192.0.2.55", At: old},
		{Subscriber: 5, Kind: list.EventMailSent},
		{Subscriber: 6, Kind: list.EventSubscribed, IP: "198.51.100.7", At: testTime},
	}
	if err := db.AppendEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if evs[0].ID == 0 || evs[2].ID <= evs[1].ID {
		t.Errorf("AppendEvents ids = %d, %d, %d", evs[0].ID, evs[1].ID, evs[2].ID)
	}
	trunc := func(ip string) string { return ip[:strings.LastIndexByte(ip, '.')] + ".0" }
	n, err := db.TruncateEventIPs(ctx, testTime.AddDate(0, -1, 0), trunc)
	if err != nil || n != 1 {
		t.Fatalf("TruncateEventIPs = %d, %v, want 1", n, err)
	}
	if n, _ := db.TruncateEventIPs(ctx, testTime.AddDate(0, -1, 0), trunc); n != 0 {
		t.Errorf("second TruncateEventIPs = %d, want 0", n)
	}
	got, _ := db.Events(ctx, 5, 0, 10)
	if len(got) != 2 || got[0].IP != "192.0.2.0" {
		t.Errorf("Events(5) = %+v, want the IP truncated", got)
	}
	if got, _ := db.Events(ctx, 6, 0, 10); got[0].IP != "198.51.100.7" {
		t.Errorf("Events(6) = %+v, want the recent IP kept", got)
	}
}

func TestSuppressionList(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := t.Context()
	// Hash order c, a, b is not time order: the list comes oldest first.
	for i, h := range []string{"c", "a", "b"} {
		at := testTime.Add(time.Duration([]int{0, 2, 1}[i]) * time.Hour)
		if err := db.PutSuppression(ctx, list.Suppression{Hash: []byte(h), Reason: "admin", How: list.HowAdmin, At: at}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.PutSuppression(ctx, list.Suppression{}); !errors.Is(err, list.ErrInvalid) {
		t.Errorf("PutSuppression(no hash) = %v, want ErrInvalid", err)
	}
	if err := db.PutSuppression(ctx, list.Suppression{Hash: []byte("a"), Reason: "again"}); !errors.Is(err, list.ErrExists) {
		t.Errorf("PutSuppression(a again) = %v, want ErrExists", err)
	}
	hashes := func(ss []list.Suppression) (out string) {
		for _, s := range ss {
			out += string(s.Hash)
		}
		return out
	}
	all, total, err := db.Suppressions(ctx, nil, 10)
	if err != nil || hashes(all) != "cba" || total != 3 || all[2].Reason != "admin" {
		t.Fatalf("Suppressions = %q total %d, %v; want c, b, a of 3, a's reason kept", hashes(all), total, err)
	}
	first, _, _ := db.Suppressions(ctx, nil, 1)
	rest, total, err := db.Suppressions(ctx, first[0].Cursor, 10)
	if err != nil || hashes(rest) != "ba" || total != 3 {
		t.Errorf("Suppressions(after c) = %q total %d, %v; want b, a of 3", hashes(rest), total, err)
	}
	if err := db.DeleteSuppression(ctx, []byte("b")); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteSuppression(ctx, []byte("b")); !errors.Is(err, list.ErrNotFound) {
		t.Errorf("second DeleteSuppression = %v, want ErrNotFound", err)
	}
	if got, total, _ := db.Suppressions(ctx, nil, 10); hashes(got) != "ca" || total != 2 {
		t.Errorf("Suppressions = %q total %d, want c, a of 2", hashes(got), total)
	}
}

// TestSuppressionIndexFollowsSubscriber: a subscriber's entry written,
// rewritten with a new time (erasure) and lifted through UpdateSubscriber
// keeps suppression_at and the count in step (checkDB at the end).
func TestSuppressionIndexFollowsSubscriber(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := t.Context()
	k := list.Key{Identity: "ann@example.org", Hash: []byte("hash-ann")}
	set := func(sup *list.Suppression) {
		t.Helper()
		_, err := db.UpdateSubscriber(ctx, k, true, func(r *list.Record, fx *list.Effects) error {
			r.Subscriber.Email, r.Subscriber.Identity = "ann@example.org", "ann@example.org"
			r.Suppression = sup
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		checkDB(t, db)
	}
	set(&list.Suppression{Email: "ann@example.org", Reason: "complaint", How: list.HowComplaint, At: testTime})
	set(&list.Suppression{Reason: "erased", How: list.HowAdmin, At: testTime.Add(time.Hour)})
	if got, total, _ := db.Suppressions(ctx, nil, 10); len(got) != 1 || total != 1 || got[0].Reason != "erased" {
		t.Errorf("after the rewrite: %+v total %d, want the one erased entry", got, total)
	}
	set(nil)
	if got, total, _ := db.Suppressions(ctx, nil, 10); len(got) != 0 || total != 0 {
		t.Errorf("after lifting: %+v total %d, want none", got, total)
	}
}

// TestMigrateV3IndexesSuppressions opens a schema-2 store, which has
// suppression entries but no suppression_at, as every store before 3.
func TestMigrateV3IndexesSuppressions(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bulletin.db")
	db, err := Open(path, Options{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		for i, h := range []string{"z", "y", "x"} {
			s := list.Suppression{Reason: "old", How: list.HowBounce, At: testTime.Add(time.Duration(i) * time.Minute)}
			if err := putJSON(bucket(tx, bSuppression), []byte(h), &s); err != nil {
				return err
			}
		}
		if err := tx.DeleteBucket([]byte(bSuppressionAt)); err != nil {
			return err
		}
		if err := bucket(tx, bMeta).Delete([]byte(metaSuppressions)); err != nil {
			return err
		}
		return bucket(tx, bMeta).Put([]byte(metaSchema), u64(2))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	db, err = Open(path, Options{Now: testNow})
	if err != nil {
		t.Fatalf("Open of a schema-2 store = %v", err)
	}
	defer db.Close()
	got, total, err := db.Suppressions(t.Context(), nil, 10)
	if err != nil || total != 3 || len(got) != 3 || string(got[0].Hash) != "z" || string(got[2].Hash) != "x" {
		t.Errorf("Suppressions after migration = %+v total %d, %v; want z, y, x of 3", got, total, err)
	}
	checkDB(t, db)
}

// TestBouncesIDN: a report may name an address with its domain in Unicode
// or in IDNA; either form finds it, and erasure takes it whichever form
// erasure names.
func TestBouncesIDN(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := t.Context()
	for _, email := range []string{"Hans@Bücher.example", "hans@xn--bcher-kva.example"} {
		if err := db.AddBounce(ctx, &list.Bounce{Email: email, Kind: list.BounceHard}); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{"hans@bücher.example", "hans@xn--bcher-kva.example"} {
		bs, err := db.Bounces(ctx, list.BounceFilter{Email: q})
		n, cerr := db.CountBounces(ctx, list.BounceFilter{Email: q})
		if err != nil || cerr != nil || len(bs) != 2 || n != 2 {
			t.Errorf("bounces of %s = %d (count %d), %v %v; want 2", q, len(bs), n, err, cerr)
		}
	}
	if n, err := db.EraseTraces(ctx, 0, []string{"hans@xn--bcher-kva.example"}); err != nil || n != 2 {
		t.Errorf("EraseTraces = %d, %v; want both records", n, err)
	}
	if bs, _ := db.Bounces(ctx, list.BounceFilter{Email: "hans@bücher.example"}); len(bs) != 0 {
		t.Errorf("%d records left after erasure", len(bs))
	}
}
