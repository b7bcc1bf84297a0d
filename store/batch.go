package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/bulletin/bulletin/list"
	bolt "go.etcd.io/bbolt"
)

// UpdateSubscribers runs fn on the record of each key in turn and writes
// each record with its indexes and effects, all in one transaction: one
// commit and one fsync for the whole batch, which is what makes a CSV import
// fast. A later key sees what an earlier one wrote (the same identity twice
// is one subscriber). An error from fn skips that key only — nothing is
// written for it — and is returned at its index in errs; any other error
// aborts the batch and nothing is written at all. fn must be pure.
func (db *DB) UpdateSubscribers(ctx context.Context, keys []list.Key, create bool, fn func(i int, r *list.Record, fx *list.Effects) error) ([]error, error) {
	errs := make([]error, len(keys))
	err := db.update(ctx, func(tx *bolt.Tx) error {
		clear(errs)
		for i, k := range keys {
			if i%1024 == 1023 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			_, err := db.updateSubscriberTx(tx, k, create, func(r *list.Record, fx *list.Effects) error {
				return fn(i, r, fx)
			})
			var fe *fnError
			switch {
			case errors.As(err, &fe):
				errs[i] = fe.err
			case err == list.ErrNotFound: // the lookup's own answer: nothing written yet
				errs[i] = err
			case err != nil:
				return fmt.Errorf("key %d (%s): %w", i, keyName(k), err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: update %d subscribers: %w", len(keys), err)
	}
	return errs, nil
}
