package main

import (
	"strings"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
)

func TestPrivacyFlags(t *testing.T) {
	t.Parallel()
	parseArgs := func(args []string, env map[string]string) (config, error) {
		fs, c := serveFlagSet()
		if err := parse(fs, args, func(k string) string { return env[k] }, c); err != nil {
			return *c, err
		}
		return *c, c.validate()
	}
	c, err := parseArgs(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := c.Privacy.config(list.Config{})
	if got.ReminderAfter != 3*24*time.Hour || got.PurgeUnconfirmedAfter != 30*24*time.Hour || got.TruncateIPsAfter != 90*24*time.Hour || c.Resolver != "" {
		t.Errorf("defaults = %+v", got)
	}
	c, err = parseArgs([]string{"--reminder-after", "0", "--purge-unconfirmed-after", "14d", "--resolver", "127.0.0.1:53"},
		map[string]string{"BULLETIN_TRUNCATE_IPS_AFTER": "720h"})
	if err != nil {
		t.Fatal(err)
	}
	got = c.Privacy.config(list.Config{})
	if got.ReminderAfter >= 0 || got.PurgeUnconfirmedAfter != 14*24*time.Hour || got.TruncateIPsAfter != 30*24*time.Hour || c.Resolver != "127.0.0.1:53" {
		t.Errorf("set = %+v, resolver %q", got, c.Resolver)
	}
	for _, bad := range [][]string{
		{"--reminder-after", "40d"},
		{"--resolver", "no-port"},
		{"--retention-every", "1s"},
		{"--purge-unconfirmed-after", "-3d"},
	} {
		if _, err := parseArgs(bad, nil); err == nil {
			t.Errorf("%s accepted", strings.Join(bad, " "))
		}
	}
}
