// Package list is Bulletin's domain hub: lists, subscribers, subscriptions and
// their states, consent records, suppression, tokens, campaigns and the campaign
// runner. It declares the interfaces it needs from the outside world (Store,
// Mailer) and imports no other project package.
//
// It is not a stable API: it serves the bulletin binary only.
package list
