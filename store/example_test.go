package store_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/store"
)

// Example opens a store, creates a list and subscribes someone to it in one
// transaction, then reads the list's counters.
func Example() {
	dir, err := os.MkdirTemp("", "bulletin-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := store.Open(filepath.Join(dir, "bulletin.db"), store.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	ctx := context.Background()
	l := list.List{Slug: "newsletter", Name: "Newsletter", OptIn: list.OptInDouble, Public: true}
	if err := db.CreateList(ctx, &l); err != nil {
		log.Fatal(err)
	}
	// fn decides; the store writes the record, its indexes and the effects.
	rec, err := db.UpdateSubscriber(ctx, list.Key{Identity: "ann@example.org"}, true,
		func(r *list.Record, e *list.Effects) error {
			r.Subscriber.Email = "Ann@example.org"
			r.Subscriptions = append(r.Subscriptions, list.Subscription{List: l.ID, State: list.StateUnconfirmed})
			e.Mails = append(e.Mails, list.QueuedMail{Kind: list.MailConfirm, List: l.ID})
			return nil
		})
	if err != nil {
		log.Fatal(err)
	}
	counts, err := db.Counts(ctx, l.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rec.Subscriber.ID, rec.Subscriber.Email, counts.Unconfirmed)
	// Output: 1 Ann@example.org 1
}
