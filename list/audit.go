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
	limit = auditLimit(limit)
	es, err := s.store.Audit(ctx, after, limit+1)
	return auditPage(es, limit, err)
}

// AuditNewest returns up to limit audit entries below the given id (0:
// from the newest), newest first, as the audit page shows them, and the
// cursor of the next, older page (nil at the end). Limit is as Audit's.
func (s *Service) AuditNewest(ctx context.Context, before uint64, limit int) ([]AuditEntry, *uint64, error) {
	limit = auditLimit(limit)
	es, err := s.store.AuditBefore(ctx, before, limit+1)
	return auditPage(es, limit, err)
}

func auditLimit(limit int) int {
	if limit <= 0 {
		return 100
	}
	return min(limit, 1000)
}

// auditPage cuts es, read with one entry more than limit, to a page and
// its next cursor: the last entry's id when there is more.
func auditPage(es []AuditEntry, limit int, err error) ([]AuditEntry, *uint64, error) {
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
