package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/bulletin/bulletin/list"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

var _ list.Store = (*DB)(nil)

// Options configure a DB.
type Options struct {
	// Logger receives migration and maintenance messages; nil discards them.
	Logger *slog.Logger
	// Now is the clock used to stamp zero timestamps; nil means time.Now.
	Now func() time.Time
	// ReadOnly opens the file with a shared lock and writes nothing.
	ReadOnly bool
	// NoSync skips fsync on commit: only for seeding benchmark and test
	// stores, never for a server (a crash would lose committed data).
	NoSync bool
}

// DB is a Bulletin store in one bbolt file. It is safe for concurrent use.
type DB struct {
	bolt *bolt.DB
	path string
	log  *slog.Logger
	now  func() time.Time
	// purgeChunk is the DeleteList chunk size; tests make it small.
	purgeChunk int
	// namesChunk is the name entries added per transaction by a deferred
	// name index build; tests make it small.
	namesChunk int
	names      namesState
}

// Bucket names, in one table so that Open creates every one of them.
const (
	bMeta         = "meta"
	bLists        = "lists"
	bListSlug     = "list_slug"
	bListCounts   = "list_counts"
	bListDeleting = "list_deleting"
	bSubscribers  = "subscribers"
	bSubIdentity  = "sub_identity"
	bSubName      = "sub_name"
	bMembers      = "members"
	bEvents       = "events"
	bEventIP      = "event_ip"
	bSuppression  = "suppression"
	// bSuppressionAt indexes suppression entries by time (schema 3).
	bSuppressionAt = "suppression_at"
	bMails         = "mails"
	bMailDue       = "mail_due"
	bSubMails      = "sub_mails"
	bCampaigns     = "campaigns"
	bCampaignBody  = "campaign_body"
	bSends         = "sends"
	bSendMsgID     = "send_msgid"
	bSendDefer     = "send_defer"
	bBounces       = "bounces"
	bBounceEmail   = "bounce_email"
	bBounceCamp    = "bounce_campaign"
	bUsers         = "users"
	bUserName      = "user_name"
	bTokens        = "tokens"
	bTokenHash     = "token_hash"
	bAudit         = "audit"
	bSettings      = "settings"
	// bSessions keeps the admin sessions. It is made at every Open that
	// may write, with no schema change: it needs no migration of data,
	// and an older Bulletin opening the store just leaves it alone.
	bSessions = "sessions"
)

// bucketsV1 is the layout of schema version 1; see the package doc.
var bucketsV1 = [...]string{
	bMeta, bLists, bListSlug, bListCounts, bListDeleting,
	bSubscribers, bSubIdentity, bSubName, bMembers, bEvents, bEventIP,
	bSuppression, bMails, bMailDue, bSubMails,
	bCampaigns, bSends, bSendMsgID, bSendDefer,
	bBounces, bBounceEmail, bBounceCamp,
	bUsers, bUserName, bTokens, bTokenHash, bAudit, bSettings,
}

// Meta keys.
const (
	metaSchema      = "schema_version"
	metaSubscribers = "subscribers"
	// metaSuppressions counts the suppression entries (schema 3).
	metaSuppressions = "suppressions"
)

// migrations[v-1] brings a store from schema version v-1 to v. Append only:
// a released migration never changes, since stores in the field ran it.
var migrations = [...]func(tx *bolt.Tx) error{
	migrateV1,
	migrateV2,
	migrateV3,
}

// schemaVersion is the newest schema this code knows.
const schemaVersion = uint64(len(migrations))

// Open opens (creating if needed) the store at path and migrates it to the
// current schema. A file held by another process makes it fail within about
// a second with an error wrapping list.ErrStoreInUse; a file written by a
// newer Bulletin fails with list.ErrSchemaTooNew, and one cut short or
// damaged, before bbolt reads it, with list.ErrCorrupt. Opened for
// writing, it removes the temporary files of a backup interrupted by a
// crash.
func Open(path string, opts Options) (*DB, error) {
	bo := boltOptions(opts.ReadOnly)
	bo.NoSync = opts.NoSync
	b, err := openBolt(path, bo)
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("store: open %s: %w", path, list.ErrStoreInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db := &DB{bolt: b, path: path, log: opts.Logger, now: opts.Now, purgeChunk: defaultPurgeChunk, namesChunk: namesWriteChunk}
	if db.log == nil {
		db.log = slog.New(slog.DiscardHandler)
	}
	if db.now == nil {
		db.now = time.Now
	}
	if err := db.migrate(opts.ReadOnly); err != nil {
		b.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if !opts.ReadOnly {
		// The write lock is ours: no backup of this store is running.
		db.removeStaleTemps()
		if err := db.resumeListDeletions(); err != nil {
			b.Close()
			return nil, fmt.Errorf("store: open %s: %w", path, err)
		}
		if err := db.resumeNames(); err != nil {
			b.Close()
			return nil, fmt.Errorf("store: open %s: %w", path, err)
		}
	}
	return db, nil
}

// Close closes the file. Calls after Close fail.
func (db *DB) Close() error {
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// Size is the size of the store file in bytes, or 0 if it cannot be known.
func (db *DB) Size() int64 {
	fi, err := os.Stat(db.path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// migrate checks the schema version and runs the missing migrations in one
// transaction, so a failed upgrade leaves the store as it was.
func (db *DB) migrate(readOnly bool) error {
	if readOnly {
		return db.bolt.View(func(tx *bolt.Tx) error {
			v := readSchema(tx)
			if err := checkSchema(v); err != nil {
				return err
			}
			if v < schemaVersion {
				return fmt.Errorf("schema version %d needs migrating to %d: open the store read-write once", v, schemaVersion)
			}
			return nil
		})
	}
	return db.bolt.Update(func(tx *bolt.Tx) error {
		v := readSchema(tx)
		if err := checkSchema(v); err != nil {
			return err
		}
		from := v
		for ; v < schemaVersion; v++ {
			if err := migrations[v](tx); err != nil {
				return fmt.Errorf("migrate to schema %d: %w", v+1, err)
			}
		}
		switch {
		case from == 0:
			// A new store takes every migration: that is no upgrade.
			db.log.Info("store created", "schema", schemaVersion)
		case from < schemaVersion:
			db.log.Info("store schema migrated", "from", from, "to", schemaVersion)
		}
		for _, name := range append(bucketsV1[:], bCampaignBody, bSuppressionAt, bSessions) {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return tx.Bucket([]byte(bMeta)).Put([]byte(metaSchema), u64(schemaVersion))
	})
}

func readSchema(tx *bolt.Tx) uint64 {
	meta := tx.Bucket([]byte(bMeta))
	if meta == nil {
		return 0
	}
	v := meta.Get([]byte(metaSchema))
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func checkSchema(v uint64) error {
	if v > schemaVersion {
		return fmt.Errorf("%w: schema version %d, this bulletin knows up to %d", list.ErrSchemaTooNew, v, schemaVersion)
	}
	return nil
}

// migrateV1 creates the initial layout.
func migrateV1(tx *bolt.Tx) error {
	for _, name := range bucketsV1 {
		if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
			return err
		}
	}
	return nil
}

// view runs fn in a read transaction after checking ctx.
func (db *DB) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bolt.View(fn)
}

// update runs fn in a write transaction after checking ctx.
func (db *DB) update(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bolt.Update(fn)
}
