package smtp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"mime"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bulletin/bulletin/list"
)

// outbox is the Maildir transport used when no relay is configured: each
// message is written to tmp/ and renamed into new/ (the Maildir protocol,
// https://cr.yp.to/proto/maildir.html), never sent.
type outbox struct {
	dir  string
	host string
	pid  int
	seq  atomic.Uint64
}

func newOutbox(dir string) (*outbox, error) {
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("smtp: outbox: %w", err)
		}
	}
	host, _ := os.Hostname()
	// Maildir names must not contain "/" or ":".
	host = strings.NewReplacer("/", `\057`, ":", `\072`).Replace(host)
	if host == "" {
		host = "localhost"
	}
	return &outbox{dir: dir, host: host, pid: os.Getpid()}, nil
}

// name returns a unique Maildir file name: time, then microseconds, pid
// and a per-process counter, then the host.
func (o *outbox) name() string {
	t := time.Now()
	return strconv.FormatInt(t.Unix(), 10) + ".M" + strconv.Itoa(t.Nanosecond()/1000) +
		"P" + strconv.Itoa(o.pid) + "Q" + strconv.FormatUint(o.seq.Add(1), 10) + "." + o.host
}

func (o *outbox) deliver(ctx context.Context, from, to string, parts ...[]byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	name := o.name()
	tmp := filepath.Join(o.dir, "tmp", name)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("smtp: outbox: %w", err)
	}
	// The envelope, as a delivering MTA would record it.
	env := "Return-Path: <" + from + ">\r\nDelivered-To: " + to + "\r\n"
	_, err = f.WriteString(env)
	for _, p := range parts {
		if err == nil {
			_, err = f.Write(p)
		}
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(o.dir, "new", name))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("smtp: outbox: %w", err)
	}
	return nil
}

func (o *outbox) close() error { return nil }

// OutboxEntry describes one message in the outbox.
type OutboxEntry struct {
	// Name is the Maildir file name, the key for OutboxRead.
	Name string
	// Seen is true for messages in cur/ (moved there by a mail reader).
	Seen      bool
	From      string
	To        string
	Subject   string
	MessageID string
	Date      time.Time
	Size      int64
}

// OutboxList lists the messages in the outbox Maildir dir (new/ and cur/),
// newest first, at most limit of them (all when limit <= 0).
func OutboxList(dir string, limit int) ([]OutboxEntry, error) {
	var out []OutboxEntry
	for _, sub := range []string{"new", "cur"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("smtp: outbox: %w", err)
		}
		for _, de := range ents {
			if !de.Type().IsRegular() || strings.HasPrefix(de.Name(), ".") {
				continue
			}
			e, err := readEntry(filepath.Join(dir, sub, de.Name()))
			if err != nil {
				continue // vanished or unreadable: not ours to judge here
			}
			e.Name, e.Seen = de.Name(), sub == "cur"
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b OutboxEntry) int {
		if c := b.Date.Compare(a.Date); c != 0 {
			return c
		}
		return strings.Compare(b.Name, a.Name)
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func readEntry(path string) (OutboxEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return OutboxEntry{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return OutboxEntry{}, err
	}
	m, err := mail.ReadMessage(bufio.NewReaderSize(f, 8192))
	if err != nil {
		return OutboxEntry{}, err
	}
	var dec mime.WordDecoder
	subject, err := dec.DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		subject = m.Header.Get("Subject")
	}
	e := OutboxEntry{
		From:      decodeAddr(m.Header.Get("From")),
		To:        decodeAddr(m.Header.Get("To")),
		Subject:   subject,
		MessageID: strings.Trim(m.Header.Get("Message-ID"), "<> "),
		Size:      fi.Size(),
		Date:      fi.ModTime(),
	}
	if d, err := m.Header.Date(); err == nil {
		e.Date = d
	}
	return e, nil
}

func decodeAddr(s string) string {
	if a, err := mail.ParseAddress(s); err == nil {
		return a.String()
	}
	return s
}

// OutboxRead returns the raw message called name from the outbox dir.
func OutboxRead(dir, name string) ([]byte, error) {
	if name == "" || name != filepath.Base(name) || strings.HasPrefix(name, ".") || strings.ContainsAny(name, `/\`) {
		return nil, fmt.Errorf("smtp: outbox message %q: %w", name, list.ErrNotFound)
	}
	for _, sub := range []string{"new", "cur"} {
		b, err := os.ReadFile(filepath.Join(dir, sub, name))
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("smtp: outbox: %w", err)
		}
	}
	// Maildir readers append ":2,FLAGS" when moving to cur/.
	matches, _ := filepath.Glob(filepath.Join(dir, "cur", name+":2,*"))
	if len(matches) > 0 {
		return os.ReadFile(matches[0])
	}
	return nil, fmt.Errorf("smtp: outbox message %q: %w", name, list.ErrNotFound)
}
