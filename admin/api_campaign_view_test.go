package admin

import (
	"bufio"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
)

// TestAPICampaignReason: reason is always in a campaign object and in the
// progress events, "" when the system did not pause it.
func TestAPICampaignReason(t *testing.T) {
	t.Parallel()
	e := apiEnv(t)
	c := e.newAPICampaign(`{"name":"T","subject":"Hi","lists":["newsletter"],"body":"<p>Hi</p>"}`)
	_, text := e.do(apiReq("GET", campaignPath(c, ""), "ed", nil))
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &obj); err != nil || string(obj["reason"]) != `""` {
		t.Errorf("GET campaign: reason %s, want \"\" (%v)", obj["reason"], err)
	}
	res, text := e.do(apiReq("GET", campaignPath(c, "/progress"), "ed", nil))
	found := false
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: {"); ok {
			found = true
			if !strings.Contains(data, `"reason":""`) {
				t.Errorf("progress data {%s: no reason", data)
			}
		}
	}
	if res.StatusCode != 200 || !found {
		t.Errorf("progress = %d, no stats data:\n%s", res.StatusCode, text)
	}
}

// TestAPICampaignTimesWholeSeconds: a campaign's times are whole seconds
// like every other object's, and two edits within one second still move
// the revision the template cache keys on.
func TestAPICampaignTimesWholeSeconds(t *testing.T) {
	t.Parallel()
	e := apiEnv(t)
	e.advance(1500*time.Millisecond + 171) // a clock with nanoseconds
	c := e.newAPICampaign(`{"name":"T","subject":"Hi","lists":["newsletter"],"body":"<p>Hi</p>"}`)
	e.call("PUT", campaignPath(c, ""), "ed", `{"body":"<p>first</p>"}`, 200, nil)
	e.call("PUT", campaignPath(c, ""), "ed", `{"body":"<p>second</p>"}`, 200, nil)
	stored, err := e.db.Campaign(t.Context(), list.CampaignID(c.ID))
	if err != nil || stored.Revision != 2 || stored.Body != "<p>second</p>" {
		t.Errorf("after two edits at one clock reading: revision %d body %q (%v), want 2 and the second body", stored.Revision, stored.Body, err)
	}
	e.advance(time.Second)
	e.call("POST", campaignPath(c, "/send"), "ed", "", 200, nil)
	e.advance(time.Second)
	var got campaignJSON
	e.call("POST", campaignPath(c, "/cancel"), "ed", "", 200, &got)
	whole := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)
	for name, v := range map[string]*string{"created_at": &got.CreatedAt, "updated_at": &got.UpdatedAt, "started_at": got.StartedAt, "finished_at": got.FinishedAt} {
		if v == nil || !whole.MatchString(*v) {
			t.Errorf("%s = %v, want RFC 3339 in whole seconds", name, v)
		}
	}
}
