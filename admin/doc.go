// Package admin is Bulletin's HTTP surface: the public subscriber pages
// (subscribe, confirm, unsubscribe with RFC 8058 one-click, manage), the JSON
// API under /api/v1/, the admin UI under /admin/ with its login, sessions and
// CSRF protection, and the health, readiness and metrics endpoints.
//
// Handlers are func(w, r) error; errors from the list package are mapped to
// HTTP statuses in one place (errors.go). Every route is declared in one
// function (routes.go). Templates are parsed once, at New.
//
// It is not a stable API: it serves the bulletin binary only.
package admin
