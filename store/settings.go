package store

import (
	"context"
	"fmt"

	"github.com/bulletin/bulletin/list"
	bolt "go.etcd.io/bbolt"
)

// Setting returns a copy of a stored setting, or ErrNotFound.
func (db *DB) Setting(ctx context.Context, key string) ([]byte, error) {
	var out []byte
	err := db.view(ctx, func(tx *bolt.Tx) error {
		v := bucket(tx, bSettings).Get([]byte(key))
		if v == nil || key == "" {
			return list.ErrNotFound
		}
		out = append([]byte{}, v...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: setting %q: %w", key, err)
	}
	return out, nil
}

// PutSetting stores a setting; a nil value is stored as empty.
func (db *DB) PutSetting(ctx context.Context, key string, value []byte) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		if key == "" {
			return fmt.Errorf("%w: empty setting key", list.ErrInvalid)
		}
		return bucket(tx, bSettings).Put([]byte(key), append([]byte{}, value...))
	})
	if err != nil {
		return fmt.Errorf("store: put setting %q: %w", key, err)
	}
	return nil
}
