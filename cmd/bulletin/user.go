package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/bulletin/bulletin/list"
)

// userUsage is the text of "bulletin user -h".
func userUsage() string {
	return commandUsage("user add", "user passwd") + `
On a stopped store (--data DIR, ./data), or through a running server with
--server URL (credentials from BULLETIN_TOKEN). The password is read from
BULLETIN_PASSWORD, or typed at the terminal (not shown), or the first line
of standard input. Flags go before NAME. Run "bulletin user add -h" for the
flags.
`
}

// runUser manages admin users on a stopped store: "user add" and "user passwd".
func runUser(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprint(stdout, userUsage())
		return nil
	}
	if len(args) == 0 || (args[0] != "add" && args[0] != "passwd") {
		return usageError("user: want add or passwd (bulletin user -h)")
	}
	sub := args[0]
	var cfg config
	var o opts
	fs := commandFlags("user "+sub, stderr, &cfg, &o)
	if err := parse(fs, args[1:], getenv, &cfg); err != nil {
		return &exitError{code: 2, err: err}
	}
	if err := wantArgs(fs, 1, "user NAME", "user "+sub+" [flags] NAME"); err != nil {
		return err
	}
	// Every mistake of the command line is refused before the password is
	// asked for.
	role := o.role // "" for passwd, which takes no role
	if sub == "add" && role != string(list.RoleAdmin) && role != string(list.RoleEditor) {
		return usageError("user add: --role must be admin or editor, not %q", role)
	}
	token := getenv("BULLETIN_TOKEN")
	if cfg.Server != "" && token == "" {
		return needsToken("user " + sub)
	}
	name := fs.Arg(0)
	if cfg.Server != "" {
		pw, err := readPassword(ctx, getenv, os.Stdin, stderr)
		if err != nil {
			return err
		}
		return userRemote(ctx, cfg, token, sub, name, role, pw, stdout)
	}
	if err := existingStore(cfg, "user "+sub); err != nil {
		return err
	}
	// The store is opened first: nobody types a password to be told then
	// that a server holds the store.
	return withInstance(ctx, cfg, stderr, func(in *instance) error {
		pw, err := readPassword(ctx, getenv, os.Stdin, stderr)
		if err != nil {
			return err
		}
		by := list.Origin{User: "cli"}
		if sub == "passwd" {
			if err := in.svc.SetPassword(ctx, name, pw, by); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "password of %s changed\n", name)
			return nil
		}
		u, err := in.svc.AddUser(ctx, name, list.Role(role), pw, by)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "user %s added (%s%s)\n", u.Name, u.Role, roleSource(cfg))
		return nil
	})
}

// roleSource says where a role that was not typed on the command line came
// from: BULLETIN_ROLE left in the environment would otherwise make admins
// without a word.
func roleSource(cfg config) string {
	if cfg.env["role"] {
		return ", from BULLETIN_ROLE"
	}
	return ""
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

// readPassword takes the password from BULLETIN_PASSWORD or standard input,
// so that it never appears in the process list: typed at a terminal, it is
// not shown, after a prompt on stderr; from a pipe, it is the first line.
func readPassword(ctx context.Context, getenv func(string) string, stdin *os.File, stderr io.Writer) (string, error) {
	if pw := getenv("BULLETIN_PASSWORD"); pw != "" {
		return pw, nil
	}
	if term.IsTerminal(int(stdin.Fd())) {
		return readHidden(ctx, stdin, stderr)
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("reading the password from standard input: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// readHidden reads a password typed at the terminal tty with echo off. The
// terminal's state is restored however the read ends: term.ReadPassword
// restores it when the line is read, and an interrupt (Ctrl-C, which the
// process catches to cancel ctx) restores it here.
func readHidden(ctx context.Context, tty *os.File, prompt io.Writer) (string, error) {
	fd := int(tty.Fd())
	saved, err := term.GetState(fd)
	if err != nil {
		return "", fmt.Errorf("reading the password from the terminal: %w", err)
	}
	type line struct {
		b   []byte
		err error
	}
	got := make(chan line, 1)
	fmt.Fprint(prompt, "Password: ")
	go func() {
		b, err := term.ReadPassword(fd)
		got <- line{b, err}
	}()
	select {
	case l := <-got:
		fmt.Fprintln(prompt) // the typed Enter was not echoed either
		if l.err != nil {
			return "", fmt.Errorf("reading the password from the terminal: %w", l.err)
		}
		return string(l.b), nil
	case <-ctx.Done():
		term.Restore(fd, saved)
		fmt.Fprintln(prompt)
		return "", interrupted("nothing was changed")
	}
}

// userRemote adds a user or sets a password through a running server's
// API, and answers as the command does on a stopped store, with the server
// named: the user and role the server stored, and where a role not typed
// came from.
func userRemote(ctx context.Context, cfg config, token, sub, name, role, pw string, stdout io.Writer) error {
	base := strings.TrimRight(cfg.Server, "/") + "/api/v1/users"
	method, url, body := "POST", base, map[string]string{"name": name, "role": role, "password": pw}
	if sub == "passwd" {
		method, url, body = "PUT", base+"/"+neturl.PathEscape(name)+"/password", map[string]string{"password": pw}
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	authorize(req, token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("user %s: %w", sub, apiError(resp))
	}
	// The account as the server stored it ({id, name, role, created_at});
	// an answer without it (a proxy's, say) leaves what was asked for.
	u := struct {
		Name string `json:"name"`
		Role string `json:"role"`
	}{name, role}
	json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&u)
	if sub == "passwd" {
		fmt.Fprintf(stdout, "password of %s changed on %s\n", u.Name, cfg.Server)
		return nil
	}
	fmt.Fprintf(stdout, "user %s added (%s%s) on %s\n", u.Name, u.Role, roleSource(cfg), cfg.Server)
	return nil
}

// apiError is the error of an API answer that is not a success: its status
// and the message of its {"error": "…"} body, or the body's first bytes
// when it is not JSON (a proxy's page, say).
func apiError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	var e struct {
		Error string `json:"error"`
	}
	msg := strings.TrimSpace(string(b))
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		msg = e.Error
	} else if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	if msg == "" {
		return errors.New(resp.Status)
	}
	return fmt.Errorf("%s: %s", resp.Status, msg)
}
