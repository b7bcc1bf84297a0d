// Package smtp is Bulletin's mail side: it renders campaigns and system mails
// from templates, builds RFC 5322 messages with the compliance headers bulk
// senders need, signs them with DKIM, checks campaigns before they go (Lint),
// and delivers them through a pool of SMTP connections to a relay, or into a
// Maildir outbox when no relay is configured. Sender implements list.Mailer.
//
// Standards implemented:
//
//   - RFC 5322: message format, header folding (78/998), Date, Message-ID.
//   - RFC 2045, 2046, 2047: MIME, multipart/alternative, quoted-printable,
//     encoded words for non-ASCII subjects and display names.
//   - RFC 2369: List-Unsubscribe and List-Post.
//   - RFC 2919: List-Id.
//   - RFC 8058: List-Unsubscribe-Post one-click unsubscription.
//   - RFC 3834: Auto-Submitted on system mails.
//   - RFC 6376: DKIM signatures (relaxed/relaxed, RSA-SHA256).
//   - RFC 8463: Ed25519-SHA256 DKIM signatures.
//   - RFC 5321, 3207, 4954, 3463: SMTP submission with STARTTLS, AUTH and
//     enhanced status codes (classified into list.DeliveryError).
//
// It is not a stable API: it serves the bulletin binary only.
package smtp
