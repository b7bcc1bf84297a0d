package list

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// ImportMode says what an import does with new subscriptions.
type ImportMode string

// Import modes: confirmed subscribes at once (the reason is kept as the
// consent source); optin queues a confirmation mail to each address.
const (
	ImportConfirmed ImportMode = "confirmed"
	ImportOptIn     ImportMode = "optin"
)

// ImportOptions configure one CSV import.
type ImportOptions struct {
	// List is the slug of the list to subscribe to.
	List string
	// Mode is confirmed or optin ("" means optin).
	Mode ImportMode
	// Reason is required for confirmed: where the consent was obtained.
	Reason string
	// How is recorded in the events (HowImport when empty).
	How    How
	Origin Origin
	// Progress, when set, is called after each batch with the data rows
	// read and the input bytes consumed so far.
	Progress func(rows, bytes int)
	// BatchSize is the number of rows written per transaction (2,500).
	BatchSize int
}

// ImportError is one refused row.
type ImportError struct {
	// Line is the 1-based line where the record starts (the header is line 1).
	Line  int    `json:"line"`
	Error string `json:"error"`
}

// ImportResult counts every data row once: imported (a new subscriber),
// updated (a subscriber that existed, or appeared earlier in the file) or
// skipped (refused, with its line in Errors).
type ImportResult struct {
	Imported int           `json:"imported"`
	Updated  int           `json:"updated"`
	Skipped  int           `json:"skipped"`
	Errors   []ImportError `json:"errors"`
	// ErrorsTruncated is true when more rows were refused than Errors holds.
	ErrorsTruncated bool `json:"errors_truncated"`
}

// MaxImportErrors caps the refused rows an import reports one by one.
const MaxImportErrors = 1000

const defaultImportBatch = 2500

// errSuppressedRow refuses a suppressed address inside the store transaction.
var errSuppressedRow = errors.New("suppressed")

// importRow is one parsed data row; the slice of them is reused per batch.
type importRow struct {
	line     int
	display  string
	identity string
	name     string
	attrs    map[string]string
}

// Import reads subscribers from CSV and subscribes them to a list. The
// input is streamed: rows are parsed and written in batches of one
// transaction each, so memory stays flat however long the file. A bad row
// is skipped and reported by line; an address on the suppression list is
// never subscribed; an address seen before (in the store or earlier in the
// file) is merged into its subscriber. The header must name an email
// column, else the import fails with ErrInvalid before writing anything.
func (s *Service) Import(ctx context.Context, r io.Reader, o ImportOptions) (ImportResult, error) {
	res := ImportResult{Errors: []ImportError{}}
	if err := checkImportOptions(&o); err != nil {
		return res, err
	}
	l, err := s.store.ListBySlug(ctx, o.List)
	if errors.Is(err, ErrNotFound) {
		return res, fmt.Errorf("%w: no list %q", ErrInvalid, o.List)
	}
	if err != nil {
		return res, err
	}
	cr := &countingReader{r: r}
	in, err := newImportReader(cr)
	if err != nil {
		return res, err
	}
	im := &importer{s: s, l: &l, o: o, res: &res}
	batch := make([]importRow, 0, o.BatchSize)
	rows := 0
	for {
		row, perr, err := in.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return res, fmt.Errorf("import: read line %d: %w", in.line(), err)
		}
		rows++
		if perr == nil {
			// The list's address rules hold on imports as on the form and the API.
			if err := s.CheckAddress(&l, row.address()); err != nil {
				perr = &ImportError{Line: row.line, Error: importErrorText(err)}
			}
		}
		if perr != nil {
			im.refuse(perr.Line, perr.Error)
		} else {
			batch = append(batch, row)
		}
		if len(batch) == cap(batch) {
			if err := im.write(ctx, batch); err != nil {
				return res, err
			}
			batch = batch[:0]
			if o.Progress != nil {
				o.Progress(rows, cr.n)
			}
		}
	}
	if err := im.write(ctx, batch); err != nil {
		return res, err
	}
	if o.Progress != nil {
		o.Progress(rows, cr.n)
	}
	s.Kick()
	s.audit(ctx, o.Origin, "subscriber.import", fmt.Sprintf("%s: %d imported, %d updated, %d skipped",
		l.Slug, res.Imported, res.Updated, res.Skipped))
	return res, nil
}

// CheckImport validates import options and the list before any data is
// read, for callers that answer before the import runs (an asynchronous
// job).
func (s *Service) CheckImport(ctx context.Context, o ImportOptions) error {
	if err := checkImportOptions(&o); err != nil {
		return err
	}
	_, err := s.store.ListBySlug(ctx, o.List)
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%w: no list %q", ErrInvalid, o.List)
	}
	return err
}

// CheckImportHeader reads the header row of an import file and says
// whether Import would accept it (it needs an email column).
func CheckImportHeader(r io.Reader) error {
	_, err := newImportReader(r)
	return err
}

func checkImportOptions(o *ImportOptions) error {
	if o.How == "" {
		o.How = HowImport
	}
	if o.BatchSize <= 0 {
		o.BatchSize = defaultImportBatch
	}
	o.Reason = strings.TrimSpace(o.Reason)
	switch o.Mode {
	case "", ImportOptIn:
		o.Mode = ImportOptIn
	case ImportConfirmed:
		if o.Reason == "" {
			return fmt.Errorf("%w: a confirmed import needs a reason (where the consent was given)", ErrInvalid)
		}
	default:
		return fmt.Errorf("%w: mode must be \"confirmed\" or \"optin\"", ErrInvalid)
	}
	if err := checkText("reason", o.Reason, 500); err != nil {
		return err
	}
	if strings.TrimSpace(o.List) == "" {
		return fmt.Errorf("%w: choose a list to import into", ErrInvalid)
	}
	return nil
}

// importer applies batches of rows to the store.
type importer struct {
	s   *Service
	l   *List
	o   ImportOptions
	res *ImportResult
	// order, keys, outcome and errs are reused between batches.
	order   []int // batch indexes in identity order
	keys    []Key
	outcome []bool // true: the row made a new subscriber
	errs    []error
}

func (im *importer) refuse(line int, msg string) {
	im.res.Skipped++
	if len(im.res.Errors) >= MaxImportErrors {
		im.res.ErrorsTruncated = true
		return
	}
	im.res.Errors = append(im.res.Errors, ImportError{Line: line, Error: msg})
}

// write applies one batch in one transaction. The rows go to the store in
// identity order (a stable sort: the same address twice stays in file
// order), so that the index writes walk bbolt's pages in order; the results
// are counted and reported in file order.
func (im *importer) write(ctx context.Context, batch []importRow) error {
	if len(batch) == 0 {
		return nil
	}
	im.order = im.order[:0]
	for i := range batch {
		im.order = append(im.order, i)
	}
	slices.SortStableFunc(im.order, func(a, b int) int { return strings.Compare(batch[a].identity, batch[b].identity) })
	im.keys = im.keys[:0]
	for _, j := range im.order {
		im.keys = append(im.keys, Key{Identity: batch[j].identity, Hash: im.s.tokens.AddressHash(batch[j].identity)})
	}
	im.outcome = append(im.outcome[:0], make([]bool, len(batch))...)
	now, cfg := im.s.Now(), im.s.Config()
	errs, err := im.s.store.UpdateSubscribers(ctx, im.keys, true, func(i int, r *Record, fx *Effects) error {
		j := im.order[i]
		im.outcome[j] = r.Subscriber.ID == 0
		return im.apply(r, fx, &batch[j], now, cfg)
	})
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	im.errs = append(im.errs[:0], make([]error, len(batch))...)
	for i, err := range errs {
		im.errs[im.order[i]] = err
	}
	for j, err := range im.errs {
		switch {
		case err == nil && im.outcome[j]:
			im.res.Imported++
		case err == nil:
			im.res.Updated++
		default:
			im.refuse(batch[j].line, importErrorText(err))
		}
	}
	return nil
}

// importErrorText is a refusal as the import report shows it.
func importErrorText(err error) string {
	switch {
	case errors.Is(err, errSuppressedRow):
		return "suppressed"
	case errors.Is(err, ErrInvalid):
		msg := err.Error()
		return strings.TrimPrefix(msg, ErrInvalid.Error()+": ")
	}
	return err.Error()
}

// apply merges one row into its record. It runs inside the store
// transaction: pure, no I/O.
func (im *importer) apply(r *Record, fx *Effects, row *importRow, now time.Time, cfg Config) error {
	if r.Suppression != nil || r.Subscriber.Blocklisted {
		return errSuppressedRow
	}
	o, how := im.o.Origin, im.o.How
	if r.Subscriber.ID == 0 {
		r.Subscriber = Subscriber{Email: row.display, Identity: row.identity, Name: row.name,
			Attributes: row.attrs, CreatedAt: now, UpdatedAt: now, Nonce: im.s.nonce()}
	} else if mergeProfile(&r.Subscriber, row) {
		r.Subscriber.UpdatedAt = now
		fx.Events = append(fx.Events, im.s.event(r, 0, EventProfileChanged, how, o, now, "import"))
	}
	sub := r.Subscription(im.l.ID)
	switch {
	case sub != nil && sub.State == StateUnsubscribed:
		return fmt.Errorf("%w: unsubscribed from this list; an import does not subscribe them again", ErrInvalid)
	case sub != nil && sub.State == StateConfirmed:
		return nil
	case sub == nil:
		r.Subscriptions = append(r.Subscriptions, Subscription{List: im.l.ID, State: StateUnconfirmed, CreatedAt: now})
		sortSubscriptions(r.Subscriptions)
		sub = r.Subscription(im.l.ID)
		sub.Nonce = im.s.nonce()
		sub.Consent = &Consent{Source: string(how), Reason: im.o.Reason, Text: im.l.ConsentText,
			TextVersion: im.l.ConsentVersion, PrivacyURL: cfg.PrivacyURL, At: now, IP: o.IP, UserAgent: o.UserAgent}
		if im.o.Mode == ImportOptIn {
			fx.Events = append(fx.Events, im.s.event(r, im.l.ID, EventSubscribed, how, o, now, ""))
		}
	}
	if im.o.Mode == ImportConfirmed {
		// One event says it all for a confirmed import: subscribed and
		// confirmed at once, by import, for this reason.
		t := now
		sub.State, sub.ConfirmedAt, sub.Nonce = StateConfirmed, &t, sub.Nonce+1
		if sub.Consent == nil {
			sub.Consent = &Consent{Source: string(how), At: now}
		}
		sub.Consent.Reason, sub.Consent.ConfirmedAt = im.o.Reason, &t
		fx.Events = append(fx.Events, im.s.event(r, im.l.ID, EventConfirmed, how, o, now, im.o.Reason))
		return nil
	}
	if now.Sub(sub.LastConfirmMail) < cfg.ConfirmEvery {
		return nil // mailed a moment ago (the same address earlier in the file)
	}
	sub.LastConfirmMail = now
	fx.Mails = append(fx.Mails, QueuedMail{Kind: MailConfirm, Subscriber: r.Subscriber.ID, List: im.l.ID, Due: now, Created: now})
	return nil
}

// mergeProfile copies a row's non-empty name and attributes onto an
// existing subscriber and reports whether anything changed.
func mergeProfile(sb *Subscriber, row *importRow) bool {
	changed := false
	if row.name != "" && row.name != sb.Name {
		sb.Name, changed = row.name, true
	}
	for k, v := range row.attrs {
		if sb.Attributes[k] == v {
			continue
		}
		if sb.Attributes == nil {
			sb.Attributes = map[string]string{}
		}
		if len(sb.Attributes) >= 50 {
			if _, ok := sb.Attributes[k]; !ok {
				continue
			}
		}
		sb.Attributes[k], changed = v, true
	}
	return changed
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// sniffDelimiter guesses the field separator from the header line: phpList
// exports use tabs, spreadsheets in many locales semicolons.
func sniffDelimiter(br *bufio.Reader) rune {
	head, _ := br.Peek(br.Size())
	if i := strings.IndexByte(string(head), '\n'); i >= 0 {
		head = head[:i]
	}
	line := string(head)
	best, n := ',', strings.Count(line, ",")
	for _, d := range []rune{'\t', ';'} {
		if c := strings.Count(line, string(d)); c > n {
			best, n = d, c
		}
	}
	return best
}

// newCSVReader returns a csv.Reader over r with the sniffed delimiter.
func newCSVReader(r io.Reader) *csv.Reader {
	br := bufio.NewReaderSize(r, 64<<10)
	cr := csv.NewReader(br)
	cr.Comma = sniffDelimiter(br)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	return cr
}

// address is the row's parsed address, for the list's address rules.
func (row *importRow) address() Address {
	return Address{Display: row.display, Identity: row.identity, Domain: row.identity[strings.LastIndexByte(row.identity, '@')+1:]}
}
