package admin

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
)

// TestExportShowsSubjectAsReceived: a person's export names each campaign
// by the subject their mail read, not its template, and shows their
// attributes as the API does ({} rather than null).
func TestExportShowsSubjectAsReceived(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	ctx := t.Context()
	v, err := u.svc.AddSubscriber(ctx, list.NewSubscriber{Email: "ann@example.com", Name: "Ann", Lists: []string{"newsletter"},
		State: list.StateConfirmed, Reason: "test"}, list.HowAdmin, list.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	subject, body, lists := "News for {{.Name}} ✓", "Hello", []string{"newsletter"}
	c, err := u.svc.CreateCampaign(ctx, list.CampaignInput{Subject: &subject, Body: &body, Lists: &lists}, list.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.svc.CampaignAction(ctx, c.ID, "send", list.Origin{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := u.db.Campaign(ctx, c.ID)
		if err == nil && got.Status == list.StatusFinished {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the campaign did not finish: %+v %v", got, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	x, err := u.svc.ExportSubscriber(ctx, v.ID, list.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	if len(x.Mails) != 1 || x.Mails[0].Subject != "News for Ann ✓" {
		t.Errorf("exported mails = %+v, want the subject as Ann's mail read", x.Mails)
	}
	if j, _ := json.Marshal(x.Subscriber); !strings.Contains(string(j), `"attributes":{}`) {
		t.Errorf("exported subscriber = %s, want attributes {}", j)
	}
}
