package admin

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"
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
