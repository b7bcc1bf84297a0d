package admin

import (
	"net/http"

	"github.com/gorilla/mux"
)

// Handler returns the HTTP handler serving every route.
func (s *Server) Handler() http.Handler {
	r := mux.NewRouter()
	r.StrictSlash(false)

	// Operations.
	r.Handle("/healthz", s.plain(s.healthz)).Methods("GET", "HEAD")
	r.Handle("/readyz", s.plain(s.readyz)).Methods("GET", "HEAD")
	if s.metrics != nil {
		r.Handle("/metrics", s.metrics).Methods("GET", "HEAD")
	}
	r.PathPrefix("/static/").Handler(s.staticFiles()).Methods("GET", "HEAD")

	// Public subscriber pages: no login, the token is the authority.
	r.Handle("/subscribe/{list}", s.publicPage(s.subscribeForm)).Methods("GET", "HEAD")
	r.Handle("/subscribe/{list}", s.publicPage(s.subscribePost)).Methods("POST")
	r.Handle("/confirm/{token}", s.tokenPage(s.confirmForm)).Methods("GET", "HEAD")
	r.Handle("/confirm/{token}", s.tokenPage(s.confirmPost)).Methods("POST")
	r.Handle("/unsubscribe/{token}", s.tokenPage(s.unsubscribeForm)).Methods("GET", "HEAD")
	r.Handle("/unsubscribe/{token}", s.tokenPage(s.unsubscribePost)).Methods("POST")
	r.Handle("/manage/{token}", s.tokenPage(s.manageForm)).Methods("GET", "HEAD")
	r.Handle("/manage/{token}", s.tokenPage(s.managePost)).Methods("POST")

	// JSON API: Basic or bearer auth, cookies ignored, no CSRF.
	r.Handle("/api/v1/lists", s.api(s.apiLists)).Methods("GET")
	r.Handle("/api/v1/lists", s.api(s.apiCreateList)).Methods("POST")
	r.Handle("/api/v1/lists/{slug}", s.api(s.apiList)).Methods("GET")
	r.Handle("/api/v1/lists/{slug}", s.api(s.apiUpdateList)).Methods("PUT")
	r.Handle("/api/v1/lists/{slug}", s.api(s.apiDeleteList)).Methods("DELETE")
	r.Handle("/api/v1/subscribers", s.api(s.apiSubscribers)).Methods("GET")
	r.Handle("/api/v1/subscribers", s.api(s.apiCreateSubscriber)).Methods("POST")
	r.Handle("/api/v1/subscribers/{id:[0-9]+}", s.api(s.apiSubscriber)).Methods("GET")
	r.Handle("/api/v1/subscribers/{id:[0-9]+}", s.api(s.apiUpdateSubscriber)).Methods("PUT")
	r.Handle("/api/v1/subscribers/{id:[0-9]+}", s.api(s.apiDeleteSubscriber)).Methods("DELETE")
	r.Handle("/api/v1/subscribers/{id:[0-9]+}/export", s.api(s.apiExportSubscriber)).Methods("GET")
	r.Handle("/api/v1/subscribers/{id:[0-9]+}/lists", s.api(s.apiSubscribeToLists)).Methods("POST")
	r.Handle("/api/v1/subscribers/{id:[0-9]+}/lists/{slug}", s.api(s.apiUnsubscribeFromList)).Methods("DELETE")
	r.Handle("/api/v1/export", s.api(s.apiExport)).Methods("GET")
	r.Handle("/api/v1/campaigns", s.api(s.apiCampaigns)).Methods("GET")
	r.Handle("/api/v1/campaigns", s.api(s.apiCreateCampaign)).Methods("POST")
	r.Handle("/api/v1/campaigns/{id:[0-9]+}", s.api(s.apiCampaign)).Methods("GET")
	r.Handle("/api/v1/campaigns/{id:[0-9]+}", s.api(s.apiUpdateCampaign)).Methods("PUT")
	r.Handle("/api/v1/campaigns/{id:[0-9]+}", s.api(s.apiDeleteCampaign)).Methods("DELETE")
	r.Handle("/api/v1/campaigns/{id:[0-9]+}/progress", s.api(s.apiCampaignProgress)).Methods("GET")
	r.Handle("/api/v1/campaigns/{id:[0-9]+}/{action}", s.api(s.apiCampaignAction)).Methods("POST")
	r.Handle("/api/v1/backup", s.api(s.apiBackup)).Methods("GET")
	r.Handle("/api/v1/bounces", s.api(s.apiBounces)).Methods("GET")
	r.Handle("/api/v1/bounces/{id:[0-9]+}", s.api(s.apiBounce)).Methods("GET")
	r.Handle("/api/v1/bounces/{id:[0-9]+}/raw", s.api(s.apiBounceRaw)).Methods("GET")
	r.Handle("/api/v1/users", s.api(adminOnly(s.apiUsers))).Methods("GET")
	r.Handle("/api/v1/users", s.api(adminOnly(s.apiCreateUser))).Methods("POST")
	r.Handle("/api/v1/users/{name}/password", s.api(adminOnly(s.apiUserPassword))).Methods("PUT")
	r.Handle("/api/v1/suppression", s.api(s.apiSuppressions)).Methods("GET")
	r.Handle("/api/v1/suppression", s.api(s.apiAddSuppression)).Methods("POST")
	r.Handle("/api/v1/suppression", s.api(s.apiDeleteSuppression)).Methods("DELETE")

	// Admin UI: session cookie, CSRF token and origin check on every form.
	s.uiRoutes(r)
	r.Handle("/admin", http.RedirectHandler("/admin/", http.StatusMovedPermanently))
	r.Handle("/admin/login", s.uiPublic(s.loginForm)).Methods("GET", "HEAD")
	r.Handle("/admin/login", s.uiPublic(s.login)).Methods("POST")
	r.Handle("/admin/logout", s.ui(s.logout)).Methods("POST")
	s.privacyRoutes(r)

	// Every matched route records its template, those without an adapter
	// that does (/metrics, the /admin redirect) too: a request left without
	// one matched no route. The router is noted too, for formPage.
	r.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			route(req)
			info(req).router = r
			next.ServeHTTP(w, req)
		})
	})
	r.NotFoundHandler = s.fallback(errNoRoute)
	r.MethodNotAllowedHandler = s.fallback(errMethod)
	return s.middleware(r)
}
