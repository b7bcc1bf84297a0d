package store

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
)

// benchSubscribers is the size of the shared benchmark store.
const benchSubscribers = 200_000

// bigStore is built once per test binary and shared by the benchmarks; it is
// only read, so they cannot disturb each other.
var bigStore struct {
	once sync.Once
	dir  string
	db   *DB
	list list.ListID
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bigStore.db != nil {
		bigStore.db.Close()
		os.RemoveAll(bigStore.dir)
	}
	os.Exit(code)
}

// openBig returns the shared store of benchSubscribers subscribers, each on
// one list, a third in each state, named "Name <letter><number>".
func openBig(b *testing.B) (*DB, list.ListID) {
	bigStore.once.Do(func() {
		bigStore.dir, bigStore.err = os.MkdirTemp("", "bulletin-bench-")
		if bigStore.err != nil {
			return
		}
		bigStore.db, bigStore.err = Open(filepath.Join(bigStore.dir, "bench.db"), Options{Now: testNow})
		if bigStore.err != nil {
			return
		}
		l := mustCreateList(b, bigStore.db, "big")
		bigStore.list = l.ID
		fill(b, bigStore.db, benchSubscribers, l.ID)
	})
	if bigStore.err != nil {
		b.Fatal(bigStore.err)
	}
	return bigStore.db, bigStore.list
}

func BenchmarkSearchPrefix(b *testing.B) {
	db, l := openBig(b)
	cases := []struct {
		name string
		q    list.SubscriberQuery
	}{
		{"identity-1k-matches", list.SubscriberQuery{Prefix: "user0123", Limit: 100}},
		{"identity-10k-matches", list.SubscriberQuery{Prefix: "user019", Limit: 100}},
		{"name-7.7k-matches", list.SubscriberQuery{Prefix: "name q", Limit: 100}},
		{"one-match", list.SubscriberQuery{Prefix: "user0123456@", Limit: 100}},
		{"list-state-filter-1k", list.SubscriberQuery{Prefix: "user0123", List: l, State: list.StateConfirmed, Limit: 100}},
		{"list-state-page", list.SubscriberQuery{List: l, State: list.StateConfirmed, After: 100_000, Limit: 100}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			ctx := b.Context()
			for b.Loop() {
				if _, _, err := db.SearchSubscribers(ctx, c.q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMembers reads the membership index a page of 1000 at a time, as
// the campaign runner does when it merges lists.
func BenchmarkMembers(b *testing.B) {
	db, l := openBig(b)
	ctx := b.Context()
	after := list.SubscriberID(0)
	for b.Loop() {
		page, err := db.Members(ctx, l, after, 1000)
		if err != nil {
			b.Fatal(err)
		}
		after = 0
		if len(page) == 1000 {
			after = page[len(page)-1].Subscriber
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/member")
}

// BenchmarkUpdateSubscriber measures one committed subscriber mutation (a
// state change with an event): with fsync, as in production, and without,
// to show the cost of the store's own work.
func BenchmarkUpdateSubscriber(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		b.Run(map[bool]string{false: "fsync", true: "nosync"}[noSync], func(b *testing.B) {
			db := openTest(b)
			db.bolt.NoSync = noSync
			l := mustCreateList(b, db, "news")
			fill(b, db, 1000, l.ID)
			ctx := b.Context()
			i := 0
			for b.Loop() {
				i++
				state := []list.State{list.StateConfirmed, list.StateUnsubscribed}[i%2]
				k := list.Key{Identity: fmt.Sprintf("user%07d@example.org", i%1000)}
				_, err := db.UpdateSubscriber(ctx, k, false, func(r *list.Record, e *list.Effects) error {
					e.Events = append(e.Events, list.Event{Kind: list.EventConfirmed, List: l.ID})
					return subscribe(l.ID, state, "Name")(r, e)
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCommitSends writes commit groups of 32 sent records to a
// campaign with a 20 KB body, without fsync: the store's own work per
// group, which the campaign runner does for every 32 messages.
func BenchmarkCommitSends(b *testing.B) {
	db := openTest(b)
	db.bolt.NoSync = true
	ctx := b.Context()
	c := list.Campaign{Subject: "Hello", Body: strings.Repeat(`<p>A "paragraph" of <a href="https://example.com/?a=1&b=2">news</a>.</p>`, 280), Status: list.StatusRunning}
	if err := db.CreateCampaign(ctx, &c); err != nil {
		b.Fatal(err)
	}
	at := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	sub := list.SubscriberID(0)
	for b.Loop() {
		batch := list.SendBatch{Delta: list.Stats{Sent: 32}}
		for range 32 {
			sub++
			batch.Records = append(batch.Records, list.SendRecord{Subscriber: sub, Outcome: list.OutcomeSent, Attempts: 1, FirstTry: at, At: at,
				MessageID: fmt.Sprintf("<%016d.ABCDEFGHIJKLMNOP@news.example.com>", sub)})
		}
		batch.Cursor = sub
		if _, err := db.CommitSends(ctx, c.ID, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/32/1000, "µs/record")
}
