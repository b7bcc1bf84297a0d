package admin

import (
	"encoding/json"
	"fmt"
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
