package list

import "context"

// AuditCount is how many audit entries are kept: the total of every page
// of Audit.
func (s *Service) AuditCount(ctx context.Context) (int, error) {
	return s.store.CountAudit(ctx)
}

// Audit returns up to limit audit entries after the given id, oldest first,
// and the cursor of the next page (nil at the end). Limit is 100 when ≤ 0
// and at most 1000.
func (s *Service) Audit(ctx context.Context, after uint64, limit int) ([]AuditEntry, *uint64, error) {
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	es, err := s.store.Audit(ctx, after, limit+1)
	if err != nil {
		return nil, nil, err
	}
	var next *uint64
	if len(es) > limit {
		es = es[:limit]
		id := es[len(es)-1].ID
		next = &id
	}
	if es == nil {
		es = []AuditEntry{}
	}
	return es, next, nil
}

// RecordAudit appends an audit entry for an admin action that does not go
// through a Service method which records it already (a CSV export, a
// backup download). It does nothing without o.User.
func (s *Service) RecordAudit(ctx context.Context, o Origin, action, target string) {
	s.audit(ctx, o, action, target)
}
