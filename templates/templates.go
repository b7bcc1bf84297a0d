// Package templates holds Bulletin's embedded files: the public pages and the
// admin UI (public/, admin/), their static assets (static/) and the default
// email layouts and system mails (mail/). It has no logic.
//
// It is not a stable API: it serves the bulletin binary only.
package templates

import "embed"

// FS holds every template and asset, by folder: mail, public, admin, static.
//
//go:embed all:mail all:public all:admin all:static
var FS embed.FS
