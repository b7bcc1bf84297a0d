package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"os"
	"strings"

	"github.com/bulletin/bulletin/list"
)

// runUser manages admin users on a stopped store: "user add" and "user passwd".
func runUser(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "add" && args[0] != "passwd") {
		return usageError("user: want add or passwd")
	}
	var cfg config
	var role string
	fs := newFlagSet("user "+args[0], stderr)
	dataFlag(fs, &cfg)
	if args[0] == "add" {
		fs.StringVar(&role, "role", "editor", "role: admin or editor")
	}
	fs.StringVar(&cfg.Server, "server", "", "URL of a running server to change through its API (credentials from BULLETIN_TOKEN)")
	if err := parse(fs, args[1:], getenv, &cfg); err != nil {
		return &exitError{code: 2, err: err}
	}
	if fs.NArg() != 1 {
		return usageError("user %s: want exactly one user NAME", args[0])
	}
	// Every mistake of the command line is refused before the password is
	// asked for.
	if args[0] == "add" && role != string(list.RoleAdmin) && role != string(list.RoleEditor) {
		return usageError("user add: --role must be admin or editor, not %q", role)
	}
	token := getenv("BULLETIN_TOKEN")
	if cfg.Server != "" && token == "" {
		return needsToken("user " + args[0])
	}
	name := fs.Arg(0)
	pw, err := readPassword(getenv, stdout)
	if err != nil {
		return err
	}
	if cfg.Server != "" {
		return userRemote(ctx, cfg.Server, token, args[0], name, role, pw, stdout)
	}
	if err := existingStore(cfg, "user "+args[0]); err != nil {
		return err
	}
	return withInstance(ctx, cfg, stderr, func(in *instance) error {
		o := list.Origin{User: "cli"}
		switch args[0] {
		case "add":
			if _, err := in.svc.AddUser(ctx, name, list.Role(role), pw, o); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "user %s added (%s)\n", name, role)
			return nil
		case "passwd":
			if err := in.svc.SetPassword(ctx, name, pw, o); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "password of %s changed\n", name)
			return nil
		}
		return usageError("user: unknown subcommand %q", args[0])
	})
}

// readPassword takes the password from BULLETIN_PASSWORD or the first line
// of standard input, so that it never appears in the process list.
func readPassword(getenv func(string) string, stdout io.Writer) (string, error) {
	if pw := getenv("BULLETIN_PASSWORD"); pw != "" {
		return pw, nil
	}
	fmt.Fprint(stdout, "Password: ")
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("reading the password from standard input: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// userRemote adds a user or sets a password through a running server's API.
func userRemote(ctx context.Context, server, token, sub, name, role, pw string, stdout io.Writer) error {
	base := strings.TrimRight(server, "/") + "/api/v1/users"
	method, url, body := "POST", base, map[string]string{"name": name, "role": role, "password": pw}
	switch sub {
	case "passwd":
		method, url, body = "PUT", base+"/"+neturl.PathEscape(name)+"/password", map[string]string{"password": pw}
	case "add":
	default:
		return usageError("user: unknown subcommand %q", sub)
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
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("user %s: %s: %s", sub, resp.Status, strings.TrimSpace(string(msg)))
	}
	fmt.Fprintf(stdout, "user %s: done on %s\n", sub, server)
	return nil
}
