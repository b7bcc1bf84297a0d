package list

import (
	"context"
	"io"
)

// Backup writes a consistent copy of the whole store to w while the server
// runs and sends: secrets and DKIM keys included, since they live in the
// store. The store copies to a temporary file first and then streams it, so
// that a slow w never holds a read transaction open. It returns the bytes
// written.
func (s *Service) Backup(ctx context.Context, w io.Writer) (int64, error) {
	return s.store.Backup(ctx, w)
}

// StoreSize is the size of the store in bytes, for the settings page.
func (s *Service) StoreSize() int64 { return s.store.Size() }
