package admin

import (
	"fmt"
	"net/http"
)

// uiExportSubscriber downloads everything held about one subscriber as
// JSON, the admin UI's twin of GET /api/v1/subscribers/{id}/export; the
// export is recorded in the audit log.
func (s *Server) uiExportSubscriber(w http.ResponseWriter, r *http.Request) error {
	id, err := subscriberID(r)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="subscriber-%d.json"`, id))
	w.Header().Set("Cache-Control", "no-store")
	return s.apiExportSubscriberData(w, r)
}
