package list

import (
	"bufio"
	"cmp"
	"container/heap"
	"context"
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
	// Progress, when set, is called as the import goes with the data rows
	// handled (written or refused) and its progress in input bytes. The
	// rows are read first and written in address order, so the bytes count
	// the reading as its share of the work and the writing as the rest; the
	// last call has every row and the input's size.
	Progress func(rows, bytes int)
	// BatchSize is the number of rows written per transaction (10,000).
	BatchSize int
	// SpillDir is where rows are sorted when they are more than SortBudget
	// bytes (os.TempDir when empty). The file is unlinked at once.
	SpillDir string
	// SortBudget is the bytes of rows sorted in memory at a time (32 MiB).
	SortBudget int
}

// ImportError is one refused row.
type ImportError struct {
	// Line is the 1-based line where the record starts (the header is line 1).
	Line  int    `json:"line"`
	Error string `json:"error"`
}

// ImportResult counts every data row once: imported (a new subscriber),
// updated (a subscriber that existed) or skipped (refused, with its line
// in Errors; a row whose address an earlier row of the file has is
// refused as a repeat of that line).
type ImportResult struct {
	Imported int           `json:"imported"`
	Updated  int           `json:"updated"`
	Skipped  int           `json:"skipped"`
	Errors   []ImportError `json:"errors"`
	// ErrorsTruncated is true when more rows were refused than Errors holds.
	ErrorsTruncated bool `json:"errors_truncated"`
}

// MaxImportErrors caps the refused rows an import reports one by one: it
// reports those of the lowest lines.
const MaxImportErrors = 1000

const (
	defaultImportBatch = 10_000
	defaultSortBudget  = 32 << 20
)

// Shares of an import's progress: reading and sorting the rows, writing
// them, and adding the deferred name index entries.
const (
	readShare  = 0.10
	namesShare = 0.10
)

// nameDeferrer is a store that can leave the name search entries of an
// import's new subscribers out of its transactions and add them at the end
// in key order, which a large import writes much faster. Finish must follow
// a Defer that reported true, and the store finishes itself after a crash.
type nameDeferrer interface {
	DeferNameIndex(ctx context.Context) (bool, error)
	FinishNameIndex(ctx context.Context, progress func(done, total int)) error
}

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
// input is streamed: rows are parsed and checked, sorted by address through
// a spill file when they are more than memory should hold, and written in
// address order in batches of one transaction each, so memory stays flat
// however long the file, and each index page is written about once. A bad
// row is skipped and reported by line; an address on the suppression list
// is never subscribed; an address in the store is merged into its
// subscriber; a row that repeats the address of an earlier row of the file
// is refused, naming that row's line: the first row of an address wins,
// found without memory for the addresses, as the sorted rows of one address
// are adjacent. The header must name an email
// column, else the import fails with ErrInvalid before writing anything.
// Subscribers can be found by name when Import returns.
func (s *Service) Import(ctx context.Context, r io.Reader, o ImportOptions) (res ImportResult, err error) {
	res = ImportResult{Errors: []ImportError{}}
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
	defer im.sortErrors()
	sorted := NewSpill(o.SpillDir, o.SortBudget, compareImportRows)
	defer sorted.Close()
	if err := im.read(ctx, in, cr, sorted); err != nil {
		return res, err
	}
	if err := im.writeSorted(ctx, sorted); err != nil {
		return res, err
	}
	im.progress(1)
	s.Kick()
	s.audit(ctx, o.Origin, "subscriber.import", fmt.Sprintf("%s: %d imported, %d updated, %d skipped",
		l.Slug, res.Imported, res.Updated, res.Skipped))
	return res, nil
}

// read parses and checks every row, refusing the bad ones and adding the
// others to sorted.
func (im *importer) read(ctx context.Context, in *importReader, cr *countingReader, sorted *Spill) error {
	var rec []byte
	for {
		row, perr, err := in.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("import: read line %d: %w", in.line(), err)
		}
		im.rows++
		if perr == nil {
			// The list's address rules hold on imports as on the form and the API.
			if err := im.s.CheckAddress(im.l, row.address()); err != nil {
				perr = &ImportError{Line: row.line, Error: importErrorText(err)}
			}
		}
		if perr != nil {
			im.refuse(perr.Line, perr.Error)
		} else {
			rec = appendImportRow(rec[:0], &row)
			if err := sorted.Add(rec); err != nil {
				return fmt.Errorf("import: %w", err)
			}
		}
		if im.rows%im.o.BatchSize == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			im.bytes = cr.n
			im.progress(readShare)
		}
	}
	im.bytes = cr.n
	im.progress(readShare)
	return nil
}

// writeSorted writes the sorted rows in batches.
func (im *importer) writeSorted(ctx context.Context, sorted *Spill) (err error) {
	valid, names := sorted.Len(), 0.0
	finish, err := im.deferNames(ctx, valid)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	if finish != nil {
		names = namesShare
		defer func() {
			if ferr := finish(); err == nil && ferr != nil {
				err = fmt.Errorf("import: %w", ferr)
			}
		}()
	}
	batch := make([]importRow, 0, min(im.o.BatchSize, valid))
	written := 0 // rows written or refused as repeats
	flush := func() error {
		if err := im.write(ctx, batch); err != nil {
			return err
		}
		written += len(batch)
		batch = batch[:0]
		im.progress(readShare + (1-readShare-names)*float64(written)/float64(max(valid, 1)))
		return nil
	}
	// The rows of one address are adjacent, in file order: the first is
	// written, and the others refused as repeats of its line.
	var last string
	lastLine := 0
	err = sorted.Each(func(rec []byte) error {
		row := decodeImportRow(rec)
		if lastLine > 0 && row.identity == last {
			im.refuse(row.line, fmt.Sprintf("repeats the address of line %d; an import takes the first row of each address only", lastLine))
			written++
			return nil
		}
		last, lastLine = row.identity, row.line
		batch = append(batch, row)
		if len(batch) == im.o.BatchSize {
			return flush()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = flush()
	}
	return err
}

// deferNames asks the store, when it can and the rows need more than one
// batch, to add the name index entries of new subscribers at the end, in
// key order. The caller must run finish even when the import fails or its
// context ends: else its subscribers would be missing from name searches
// until the next import or the next start.
func (im *importer) deferNames(ctx context.Context, valid int) (finish func() error, err error) {
	nd, ok := im.s.store.(nameDeferrer)
	if !ok || valid <= im.o.BatchSize {
		return nil, nil
	}
	deferred, err := nd.DeferNameIndex(ctx)
	if err != nil || !deferred {
		return nil, err
	}
	return func() error {
		return nd.FinishNameIndex(context.WithoutCancel(ctx), func(done, total int) {
			im.progress(1 - namesShare + namesShare*float64(done)/float64(max(total, 1)))
		})
	}, nil
}

// progress reports the rows handled so far and the share done of the
// work, in input bytes.
func (im *importer) progress(share float64) {
	if im.o.Progress != nil {
		im.o.Progress(im.res.Imported+im.res.Updated+im.res.Skipped, int(share*float64(im.bytes)))
	}
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
	if o.SortBudget <= 0 {
		o.SortBudget = defaultSortBudget
	}
	o.Reason = strings.TrimSpace(o.Reason)
	switch o.Mode {
	case "", ImportOptIn:
		o.Mode = ImportOptIn
	case ImportConfirmed:
		if o.Reason == "" {
			return fmt.Errorf("%w: %w", ErrInvalid, &FieldError{Field: "reason", Err: errors.New("a confirmed import needs a reason (where the consent was given)")})
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
	// rows and bytes are the data rows and input bytes read.
	rows, bytes int
	// errs keeps the refusals of the lowest lines, the highest on top.
	errs errorHeap
	// keys and outcome are reused between batches.
	keys    []Key
	outcome []bool // true: the row made a new subscriber
}

// refuse counts a refused row and keeps it if its line is among the first
// MaxImportErrors refused: rows are written in address order, not in file
// order.
func (im *importer) refuse(line int, msg string) {
	im.res.Skipped++
	e := ImportError{Line: line, Error: msg}
	switch {
	case len(im.errs) < MaxImportErrors:
		heap.Push(&im.errs, e)
	case line < im.errs[0].Line:
		im.errs[0] = e
		heap.Fix(&im.errs, 0)
	}
}

// sortErrors puts the kept refusals in the result in line order.
func (im *importer) sortErrors() {
	im.res.Errors = append(im.res.Errors[:0], im.errs...)
	slices.SortFunc(im.res.Errors, func(a, b ImportError) int { return cmp.Compare(a.Line, b.Line) })
	im.res.ErrorsTruncated = im.res.Skipped > len(im.res.Errors)
}

// errorHeap is a max-heap of refusals by line.
type errorHeap []ImportError

func (h errorHeap) Len() int           { return len(h) }
func (h errorHeap) Less(i, j int) bool { return h[i].Line > h[j].Line }
func (h errorHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *errorHeap) Push(x any)        { *h = append(*h, x.(ImportError)) }
func (h *errorHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// write applies one batch, in address order, in one transaction, and
// counts the results.
func (im *importer) write(ctx context.Context, batch []importRow) error {
	if len(batch) == 0 {
		return nil
	}
	im.keys = im.keys[:0]
	for i := range batch {
		im.keys = append(im.keys, Key{Identity: batch[i].identity, Hash: im.s.tokens.AddressHash(batch[i].identity)})
	}
	im.outcome = append(im.outcome[:0], make([]bool, len(batch))...)
	now, cfg := im.s.Now(), im.s.Config()
	errs, err := im.s.store.UpdateSubscribers(ctx, im.keys, true, func(i int, r *Record, fx *Effects) error {
		im.outcome[i] = r.Subscriber.ID == 0
		return im.apply(r, fx, &batch[i], now, cfg)
	})
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	for i, err := range errs {
		switch {
		case err == nil && im.outcome[i]:
			im.res.Imported++
		case err == nil:
			im.res.Updated++
		default:
			im.refuse(batch[i].line, importErrorText(err))
		}
	}
	return nil
}

// importErrorText is a refusal as the import report shows it.
func importErrorText(err error) string {
	switch {
	case errors.Is(err, errSuppressedRow):
		return "suppressed"
	case errors.Is(err, errNotUTF8):
		return reason(err) + " (save the file as UTF-8)"
	case errors.Is(err, ErrInvalid):
		return reason(err)
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
	case sub != nil && (sub.State == StateUnsubscribed || sub.UnsubscribedAt != nil && sub.State != StateConfirmed):
		// The second case: left, then signed up again (by anyone who typed
		// the address) and not confirmed.
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
		return nil // mailed a moment ago (by the form, or an import of the same file)
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

// address is the row's parsed address, for the list's address rules.
func (row *importRow) address() Address {
	return Address{Display: row.display, Identity: row.identity, Domain: row.identity[strings.LastIndexByte(row.identity, '@')+1:]}
}
