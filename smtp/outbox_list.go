package smtp

import (
	"context"

	"github.com/bulletin/bulletin/list"
)

var _ list.OutboxLister = (*Sender)(nil)

// OutboxMessages lists the outbox Maildir, newest first, at most limit; it
// is empty when mail goes to a relay.
func (s *Sender) OutboxMessages(ctx context.Context, limit int) ([]list.OutboxMessage, error) {
	if s.opts.Relay != "" || s.opts.OutboxDir == "" {
		return []list.OutboxMessage{}, ctx.Err()
	}
	es, err := OutboxList(s.opts.OutboxDir, limit)
	if err != nil {
		return nil, err
	}
	out := make([]list.OutboxMessage, 0, len(es))
	for _, e := range es {
		out = append(out, list.OutboxMessage{Name: e.Name, From: e.From, To: e.To, Subject: e.Subject,
			MessageID: e.MessageID, Date: e.Date, Size: e.Size})
	}
	return out, nil
}

// OutboxMessage returns one raw message of the outbox.
func (s *Sender) OutboxMessage(ctx context.Context, name string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return OutboxRead(s.opts.OutboxDir, name)
}
