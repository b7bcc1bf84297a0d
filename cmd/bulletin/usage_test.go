package main

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// defaultLineRE is the first line of a flag in flag.PrintDefaults: the
// flag's name and value name; its usage is on the next line.
var defaultLineRE = regexp.MustCompile(`^  -(\S+)`)

// flagsOf runs "bulletin COMMAND -h" and returns the usage of each flag it
// lists: the flags the command really parses.
func flagsOf(t *testing.T, command string) map[string]string {
	t.Helper()
	code, out := runCmd(t, nil, append(strings.Fields(command), "-h")...)
	if code != 0 {
		t.Fatalf("%s -h = exit %d:\n%s", command, code, out)
	}
	flags := map[string]string{}
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if m := defaultLineRE.FindStringSubmatch(l); m != nil && i+1 < len(lines) {
			flags[m[1]] = strings.TrimSpace(lines[i+1])
		}
	}
	if len(flags) == 0 {
		t.Fatalf("%s -h lists no flags:\n%s", command, out)
	}
	return flags
}

// helpUsage returns the usage of command in bulletin help: its line up to
// the description, and the lines it wraps onto.
func helpUsage(t *testing.T, help, command string) string {
	t.Helper()
	lines := strings.Split(help, "\n")
	for i, l := range lines {
		if l != "  "+command && !strings.HasPrefix(l, "  "+command+" ") {
			continue
		}
		usage, _, _ := strings.Cut(strings.TrimSpace(l), "  ")
		for _, c := range lines[i+1:] {
			indent := len(c) - len(strings.TrimLeft(c, " "))
			if indent <= 2 || indent >= aboutColumn {
				break
			}
			usage += " " + strings.TrimSpace(c)
		}
		return usage
	}
	t.Fatalf("bulletin help has no line for %s:\n%s", command, help)
	return ""
}

// TestHelpListsEveryFlag: bulletin help names every flag each command
// parses, as the command's -h lists them: in the command's line, or, for
// serve's settings, as "[serve flags]" in that line, or, for the --data
// every command takes, once under the list.
func TestHelpListsEveryFlag(t *testing.T) {
	t.Parallel()
	code, help := runCmd(t, nil, "help")
	if code != 0 {
		t.Fatalf("help = exit %d", code)
	}
	for _, want := range []string{"Every command takes --data DIR (./data).", `[serve flags] are the settings of`, `"bulletin serve -h" lists them`} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q:\n%s", want, help)
		}
	}
	serve := flagsOf(t, "serve")
	for _, command := range []string{"serve", "import", "export", "user add", "user passwd", "dkim keygen", "dkim dns",
		"campaign send", "backup", "restore", "compact", "doctor", "version"} {
		usage := helpUsage(t, help, command)
		var missing []string
		for name, text := range flagsOf(t, command) {
			shared := serve[name] == text
			switch {
			case regexp.MustCompile(`(^|[ \[])--` + regexp.QuoteMeta(name) + `([ \]]|$)`).MatchString(usage):
			case shared && name == "data":
			case shared && strings.Contains(usage, "[serve flags]"):
			default:
				missing = append(missing, "--"+name)
			}
		}
		if len(missing) > 0 {
			slices.Sort(missing)
			t.Errorf("bulletin help's %q does not name %s, which %s -h lists", usage, strings.Join(missing, ", "), command)
		}
	}
}

// TestHelpUsageLines: the usage lines of help say which flags are
// required, put --server last, and wrap to fit a terminal.
func TestHelpUsageLines(t *testing.T) {
	t.Parallel()
	_, help := runCmd(t, nil, "help")
	for command, want := range map[string]string{
		"import":      "import --list S [--mode confirmed|optin] [--reason R] [--server URL] [serve flags] FILE",
		"export":      "export [--list S] [--state S] [--server URL]",
		"user add":    "user add [--role admin|editor] [--server URL] NAME",
		"user passwd": "user passwd [--server URL] NAME",
		"dkim keygen": "dkim keygen [--type rsa|ed25519] [serve flags]",
		"backup":      "backup [--server URL] FILE",
		"restore":     "restore [--data DIR] FILE",
		"compact":     "compact",
	} {
		if got := helpUsage(t, help, command); got != want {
			t.Errorf("help's usage of %s = %q, want %q", command, got, want)
		}
	}
	for _, l := range strings.Split(help, "\n") {
		if n := len([]rune(l)); n > 80 {
			t.Errorf("help line of %d columns, wider than a terminal: %q", n, l)
		}
	}
}
