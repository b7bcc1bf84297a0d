package main

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/store"
)

// TestSenderDomains: the doctor is given the domain of each list's own
// sender, with the lists using it; lists without one send as the instance.
func TestSenderDomains(t *testing.T) {
	t.Parallel()
	db, err := store.Open(filepath.Join(t.TempDir(), "bulletin.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, l := range []list.List{
		{Slug: "cafe-news", Name: "Café", From: "Café <news@Other.example>"},
		{Slug: "deals", Name: "Deals", From: "Deals <deals@other.example>"},
		{Slug: "plain", Name: "Plain"},
	} {
		if err := db.CreateList(t.Context(), &l); err != nil {
			t.Fatal(err)
		}
	}
	got, err := senderDomains(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !slices.Equal(got["other.example"], []string{"cafe-news", "deals"}) {
		t.Errorf("senderDomains = %v, want other.example: cafe-news, deals", got)
	}
}
