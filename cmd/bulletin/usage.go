package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// opts holds the values of the flags that are not settings of config:
// each command reads its own.
type opts struct {
	list, state  string // export, import
	mode, reason string // import
	role         string // user add
	kind         string // dkim keygen
}

// commandFlags returns the flag set of command (its words: "user add"),
// bound to cfg and o. Every command parses the set it returns, and help
// lists the same sets, so that help cannot leave out a flag again. A flag's
// value name is the word quoted with backquotes in its usage, as
// flag.PrintDefaults shows it; "(required)" at the end of its usage drops
// the brackets around it in help.
func commandFlags(command string, w io.Writer, cfg *config, o *opts) *flag.FlagSet {
	fs := newFlagSet(command, w)
	switch command {
	case "serve", "doctor", "dkim dns":
		serveFlags(fs, cfg)
	case "dkim keygen":
		serveFlags(fs, cfg)
		fs.StringVar(&o.kind, "type", "rsa", "key type: `rsa|ed25519` (RSA-2048 or Ed25519)")
	case "import":
		serveFlags(fs, cfg)
		fs.StringVar(&o.list, "list", "", "slug `S` of the list to import into (required)")
		fs.StringVar(&o.mode, "mode", "optin", "`confirmed|optin`: confirmed subscribes the rows at once (and needs --reason), optin mails each a confirmation")
		fs.StringVar(&o.reason, "reason", "", "the consent source `R`: where the consent was given (required with --mode confirmed)")
		serverFlag(fs, cfg, "import through")
	case "export":
		dataFlag(fs, cfg)
		fs.StringVar(&o.list, "list", "", "only the list whose slug is `S`")
		fs.StringVar(&o.state, "state", "", "only the subscriptions in state `S`: unconfirmed, confirmed or unsubscribed")
		serverFlag(fs, cfg, "export through")
	case "user add":
		dataFlag(fs, cfg)
		fs.StringVar(&o.role, "role", "editor", "the user's role: `admin|editor`")
		serverFlag(fs, cfg, "change through")
	case "user passwd":
		dataFlag(fs, cfg)
		serverFlag(fs, cfg, "change through")
	case "campaign send":
		serveFlags(fs, cfg)
		serverFlag(fs, cfg, "drive through")
	case "backup":
		dataFlag(fs, cfg)
		serverFlag(fs, cfg, "back up through")
	case "restore":
		fs.StringVar(&cfg.Data, "data", "./data", "data folder `DIR` to restore into: absent or empty")
	default: // compact, version
		dataFlag(fs, cfg)
	}
	return fs
}

// serverFlag registers --server, of the commands that can work through a
// running server's API.
func serverFlag(fs *flag.FlagSet, cfg *config, what string) {
	fs.StringVar(&cfg.Server, "server", "", "`URL` of a running server to "+what+" its API (credentials from BULLETIN_TOKEN: user:password or an API token)")
}

// helpEntry is a command as help lists it.
type helpEntry struct {
	name  string // the command's words: "user add"
	args  string // what comes after the flags: "NAME"
	about string // what it does; a "\n" starts a line of its own
}

// helpEntries are the commands help lists, in its order.
func helpEntries() []helpEntry {
	return []helpEntry{
		{"serve", "", "run the server (HTTP, inbound SMTP, sender)"},
		{"import", "FILE", "import subscribers from a CSV FILE (- for stdin)"},
		{"export", "", "write subscribers as CSV to stdout"},
		{"user add", "NAME", "add a user, an editor unless --role admin\n(password from stdin or BULLETIN_PASSWORD)"},
		{"user passwd", "NAME", "set a user's password"},
		{"dkim keygen", "", "make a new DKIM key"},
		{"dkim dns", "", "print the DKIM, SPF and DMARC records to publish"},
		{"campaign send", "ID", "send a campaign and show its progress"},
		{"backup", "FILE", "write a consistent copy of the store"},
		{"restore", "FILE", "restore a backup into an empty data folder"},
		{"compact", "", "rewrite a stopped store to reclaim space"},
		{"doctor", "", "check deliverability: DNS, relay, settings"},
		{"version", "", "print version and build information"},
	}
}

// Layout of the command list: usage lines wrap at usageWidth columns, and
// the descriptions start at column aboutColumn.
const (
	usageWidth  = 78
	aboutColumn = 32
)

// usageParts are the words of command's usage line: its name, its flags
// as [--name VALUE] (required ones bare, --server last), "[serve flags]"
// for the settings it shares with serve, and args. --data, which every
// command takes, is left to the text under the list unless the command
// gives it a meaning of its own.
func usageParts(command, args string) []string {
	var shared config
	common := newFlagSet("", io.Discard)
	serveFlags(common, &shared)
	fs := commandFlags(command, io.Discard, new(config), new(opts))
	parts := []string{command}
	var optional, server []string
	serve := false
	fs.VisitAll(func(f *flag.Flag) {
		if g := common.Lookup(f.Name); g != nil && g.Usage == f.Usage {
			serve = serve || f.Name != "data"
			return
		}
		part := "--" + f.Name
		if value, _ := flag.UnquoteUsage(f); value != "" {
			part += " " + value
		}
		switch {
		case strings.HasSuffix(f.Usage, "(required)"):
			parts = append(parts, part)
		case f.Name == "server":
			server = append(server, "["+part+"]")
		default:
			optional = append(optional, "["+part+"]")
		}
	})
	parts = append(append(parts, optional...), server...)
	if serve {
		parts = append(parts, "[serve flags]")
	}
	if args != "" {
		parts = append(parts, args)
	}
	return parts
}

// usageLines joins parts into lines of at most usageWidth columns after
// indent; the lines after the first are indented under the first flag.
func usageLines(parts []string, indent int) []string {
	lines := []string{parts[0]}
	more := strings.Repeat(" ", len(parts[0])+1)
	for _, p := range parts[1:] {
		last := &lines[len(lines)-1]
		if indent+len(*last)+1+len(p) > usageWidth {
			lines = append(lines, more+p)
			continue
		}
		*last += " " + p
	}
	return lines
}

// commandUsage is the "Usage:" text of the commands named, for their -h.
func commandUsage(names ...string) string {
	var b strings.Builder
	for _, e := range helpEntries() {
		for _, n := range names {
			if e.name != n {
				continue
			}
			lead := "Usage: "
			if b.Len() > 0 {
				lead = "       "
			}
			for j, l := range usageLines(usageParts(e.name, e.args), len(lead)+len("bulletin ")) {
				if j == 0 {
					fmt.Fprintf(&b, "%sbulletin %s\n", lead, l)
				} else {
					fmt.Fprintf(&b, "%s%s%s\n", lead, "         ", l)
				}
			}
		}
	}
	return b.String()
}

// printHelp prints the commands with their usage lines, made from their
// flag sets (usageParts), and what they do.
func printHelp(w io.Writer) {
	fmt.Fprint(w, `Bulletin: a self-hosted newsletter and mailing-list server.

Usage: bulletin COMMAND [flags] [arguments]

Commands:
`)
	entries := append(helpEntries(), helpEntry{name: "help", about: "this text"})
	for _, e := range entries {
		lines := usageLines(usageParts(e.name, e.args), 2)
		about := strings.Split(e.about, "\n")
		if len(lines) == 1 && len(lines[0]) <= aboutColumn-4 {
			// The description starts on the usage line, two spaces at least after it.
			lines[0] = fmt.Sprintf("%-*s%s", aboutColumn-2, lines[0], about[0])
			about = about[1:]
		}
		for _, l := range lines {
			fmt.Fprintf(w, "  %s\n", l)
		}
		for _, a := range about {
			fmt.Fprintf(w, "%s%s\n", strings.Repeat(" ", aboutColumn), a)
		}
	}
	fmt.Fprint(w, `
Every command takes --data DIR (./data). [serve flags] are the settings of
serve (--domain, --relay, --base-url, …; "bulletin serve -h" lists them):
the commands that send mail, sign it or check its setup take them too.
Flags come before arguments. Every flag can also be set by its environment
variable: BULLETIN_ + the flag name upper-cased with - as _ (e.g.
BULLETIN_POSTAL_ADDRESS). Commands that change a store work on a stopped
store, or on a running server with --server URL (credentials from
BULLETIN_TOKEN).

Run "bulletin COMMAND -h" for a command's flags.
`)
}
