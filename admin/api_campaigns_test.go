package admin

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// campaignJSON is the part of an API campaign object the tests read.
type campaignJSON struct {
	ID         uint64  `json:"id"`
	Name       string  `json:"name"`
	Subject    string  `json:"subject"`
	Body       string  `json:"body"`
	SendAt     *string `json:"send_at"`
	Status     string  `json:"status"`
	CreatedAt  string  `json:"created_at"`
	UpdatedAt  string  `json:"updated_at"`
	StartedAt  *string `json:"started_at"`
	FinishedAt *string `json:"finished_at"`
}

// newAPICampaign creates a draft through the API from a JSON body.
func (e *env) newAPICampaign(body string) campaignJSON {
	e.t.Helper()
	var c campaignJSON
	e.call("POST", "/api/v1/campaigns", "ed", body, 201, &c)
	return c
}

func campaignPath(c campaignJSON, suffix string) string {
	return fmt.Sprintf("/api/v1/campaigns/%d%s", c.ID, suffix)
}

// TestAPICampaignTestValidatesFirst: one bad address among good ones is a
// 422 and nobody is mailed.
func TestAPICampaignTestValidatesFirst(t *testing.T) {
	t.Parallel()
	e := apiEnv(t)
	c := e.newAPICampaign(`{"name":"T","subject":"Hi","lists":["newsletter"],"body":"<p>Hi</p>"}`)
	var ae apiErr
	e.call("POST", campaignPath(c, "/test"), "ed", `{"emails":["tester2@example.com","bad"]}`, 422, &ae)
	if ae.Error == "" {
		t.Error("422 without an error message")
	}
	if n := len(e.mail.all()); n != 0 {
		t.Errorf("%d test mails sent before refusing a bad address, want 0", n)
	}
	var ok struct {
		Sent int `json:"sent"`
	}
	e.call("POST", campaignPath(c, "/test"), "ed", `{"emails":["tester2@example.com","tester3@example.com"]}`, 200, &ok)
	if ok.Sent != 2 || len(e.mail.all()) != 2 {
		t.Errorf("test to two good addresses: sent %d, %d mails, want 2 and 2", ok.Sent, len(e.mail.all()))
	}
}

// TestAPICampaignTestBrokenTemplate: a test of a draft whose template does
// not parse is refused like send, 422 {error, findings}, and mails nobody.
func TestAPICampaignTestBrokenTemplate(t *testing.T) {
	t.Parallel()
	e := apiEnv(t)
	e.mail.lintTemplates = true
	c := e.newAPICampaign(`{"name":"T","subject":"{{.Nope","lists":["newsletter"],"body":"<p>Hi</p>"}`)
	for _, action := range []string{"/test", "/send"} {
		res, text := e.do(apiReq("POST", campaignPath(c, action), "ed", `{"emails":["tester@example.com"]}`))
		var got struct {
			Error    string `json:"error"`
			Findings []struct {
				Severity string `json:"severity"`
				Code     string `json:"code"`
			} `json:"findings"`
		}
		if err := json.Unmarshal([]byte(text), &got); err != nil || res.StatusCode != 422 || got.Error == "" ||
			len(got.Findings) == 0 || got.Findings[0].Code != "template" {
			t.Errorf("POST %s of a broken template = %d %s, want 422 with the template finding", action, res.StatusCode, text)
		}
	}
	if n := len(e.mail.all()); n != 0 {
		t.Errorf("%d mails sent for a broken template, want 0", n)
	}
}

// TestAPICampaignSendAt: send_at is set by an RFC 3339 time, cleared by
// null, left alone when absent; a value that is no time is a 422 that
// names the field.
func TestAPICampaignSendAt(t *testing.T) {
	t.Parallel()
	e := apiEnv(t)
	c := e.newAPICampaign(`{"name":"T","subject":"Hi","lists":["newsletter"],"body":"<p>Hi</p>"}`)
	var got campaignJSON
	e.call("PUT", campaignPath(c, ""), "ed", `{"send_at":"2026-04-01T08:00:00Z"}`, 200, &got)
	if got.SendAt == nil || *got.SendAt != "2026-04-01T08:00:00Z" {
		t.Fatalf("send_at after setting = %v", got.SendAt)
	}
	e.call("PUT", campaignPath(c, ""), "ed", `{"name":"Renamed"}`, 200, &got)
	if got.SendAt == nil || got.Name != "Renamed" {
		t.Errorf("send_at after a PUT without it = %v, want it kept", got.SendAt)
	}
	var ae apiErr
	e.call("PUT", campaignPath(c, ""), "ed", `{"send_at":"tomorrow"}`, 422, &ae)
	if !strings.HasPrefix(ae.Error, "send_at: want an RFC 3339 time") {
		t.Errorf("send_at tomorrow: error %q", ae.Error)
	}
	e.call("PUT", campaignPath(c, ""), "ed", `{"send_at":null}`, 200, &got)
	if got.SendAt != nil {
		t.Errorf("send_at after null = %v, want null", *got.SendAt)
	}
	e.call("GET", campaignPath(c, ""), "ed", nil, 200, &got)
	if got.SendAt != nil {
		t.Errorf("stored send_at after null = %v, want null", *got.SendAt)
	}
}

// TestAPICampaignNullClears: null empties the optional text fields and
// the lists; absent fields stay.
func TestAPICampaignNullClears(t *testing.T) {
	t.Parallel()
	e := apiEnv(t)
	c := e.newAPICampaign(`{"name":"T","subject":"Hi","lists":["newsletter"],"body":"<p>Hi</p>","text":"Hi","from":"Ann <ann@news.example>"}`)
	var got struct {
		campaignJSON
		From  string   `json:"from"`
		Text  string   `json:"text"`
		Lists []string `json:"lists"`
	}
	e.call("PUT", campaignPath(c, ""), "ed", `{"from":null,"text":null,"lists":null}`, 200, &got)
	if got.From != "" || got.Text != "" || len(got.Lists) != 0 || got.Lists == nil || got.Body != "<p>Hi</p>" {
		t.Errorf("after nulls: from %q text %q lists %v body %q; want them cleared, the body kept", got.From, got.Text, got.Lists, got.Body)
	}
}

// TestAPITypeErrors: a value of the wrong type is a 422 naming the JSON
// field and what it takes, never a Go type.
func TestAPITypeErrors(t *testing.T) {
	t.Parallel()
	e := apiEnv(t)
	c := e.newAPICampaign(`{"name":"T","subject":"Hi","lists":["newsletter"],"body":"<p>Hi</p>"}`)
	for _, tc := range []struct{ method, path, body, want string }{
		{"PUT", campaignPath(c, ""), `{"name":5}`, "name: want a string, got a number"},
		{"POST", "/api/v1/campaigns", `{"lists":"weekly"}`, "lists: want an array of strings, got a string"},
		{"PUT", campaignPath(c, ""), `{"tracking":"yes"}`, "tracking: want true or false, got a string"},
		{"POST", campaignPath(c, "/test"), `{"emails":"a@example.org"}`, "emails: want an array of strings, got a string"},
		{"POST", "/api/v1/suppression", `{"email":["a@example.org"]}`, "email: want a string, got an array"},
		{"POST", "/api/v1/lists", `{"slug":"x","name":"X","public":"yes"}`, "public: want true or false, got a string"},
		{"PUT", "/api/v1/lists/newsletter", `{"name":{}}`, "name: want a string, got an object"},
		{"POST", "/api/v1/subscribers", `{"email":"a@example.org","attributes":{"a":1}}`, "attributes: want a string, got a number"},
	} {
		var ae apiErr
		e.call(tc.method, tc.path, "root", tc.body, 422, &ae)
		if ae.Error != tc.want {
			t.Errorf("%s %s %s: error %q, want %q", tc.method, tc.path, tc.body, ae.Error, tc.want)
		}
	}
}
