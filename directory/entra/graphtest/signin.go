package graphtest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"strings"
	"time"
)

// issued is one access or refresh token the server handed out.
type issued struct {
	expires time.Time
	// user is the signed-in user's id; empty for an app token.
	user     string
	clientID string
	scope    string
}

type deviceState int

const (
	devicePending deviceState = iota
	deviceApproved
	deviceDeclined
)

type deviceCode struct {
	code     string
	userCode string
	clientID string
	scope    string
	issuedAt time.Time
	expires  time.Time
	state    deviceState
}

const tokenLifetime = time.Hour

func randomToken(prefix string) string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// userCodeAlphabet avoids letters easily confused when read aloud.
const userCodeAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

func newUserCode() string {
	var b [9]byte
	_, _ = rand.Read(b[:])
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = userCodeAlphabet[int(c)%len(userCodeAlphabet)]
	}
	return string(out)
}

// Approve completes every pending device-code sign-in, as if the person had
// entered the code and signed in. It returns how many it approved.
func (s *Server) Approve() int {
	return s.settleDeviceCodes(deviceApproved)
}

// Decline refuses every pending device-code sign-in, as if the person had
// declined; the client's polling then fails with authorization_declined.
func (s *Server) Decline() int {
	return s.settleDeviceCodes(deviceDeclined)
}

func (s *Server) settleDeviceCodes(to deviceState) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, dc := range s.deviceCodes {
		if dc.state == devicePending && time.Now().Before(dc.expires) {
			dc.state = to
			n++
		}
	}
	return n
}

// PendingUserCodes lists the user codes of device-code sign-ins waiting
// for the person.
func (s *Server) PendingUserCodes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, dc := range s.deviceCodes {
		if dc.state == devicePending && time.Now().Before(dc.expires) {
			out = append(out, dc.userCode)
		}
	}
	return out
}

// tenantOK reports whether the path's tenant segment names this tenant.
func (s *Server) tenantOK(seg string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tenant.ID == "" {
		return true
	}
	return strings.EqualFold(seg, s.tenant.ID) || (s.tenant.Domain != "" && strings.EqualFold(seg, s.tenant.Domain)) ||
		strings.EqualFold(seg, "organizations") || strings.EqualFold(seg, "common")
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]any{
		"error":             code,
		"error_description": desc,
		"error_codes":       []int{},
		"timestamp":         time.Now().UTC().Format("2006-01-02 15:04:05Z"),
		"trace_id":          newID(),
		"correlation_id":    newID(),
	})
}

// serveSignIn answers the Microsoft Entra sign-in endpoints under
// /{tenant}/: OpenID metadata, device code and token.
func (s *Server) serveSignIn(w http.ResponseWriter, r *http.Request) {
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)
	if len(parts) != 2 {
		http.NotFound(w, r)
		return
	}
	tenant, rest := parts[0], parts[1]
	if !s.tenantOK(tenant) {
		oauthError(w, http.StatusBadRequest, "invalid_tenant",
			fmt.Sprintf("AADSTS90002: Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
		return
	}
	base := "https://" + r.Host + "/" + tenant
	switch rest {
	case "v2.0/.well-known/openid-configuration":
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer":                                base + "/v2.0",
			"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
			"token_endpoint":                        base + "/oauth2/v2.0/token",
			"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
			"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
			"jwks_uri":                              base + "/discovery/v2.0/keys",
			"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
			"subject_types_supported":               []string{"pairwise"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
			"tenant_region_scope":                   "EU",
			"cloud_instance_name":                   "graphtest",
		})
	case "oauth2/v2.0/devicecode":
		s.serveDeviceCode(w, r)
	case "oauth2/v2.0/token":
		s.serveToken(w, r, base+"/v2.0")
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) checkClient(w http.ResponseWriter, clientID string) bool {
	if clientID == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "AADSTS900144: The request body must contain the following parameter: 'client_id'.")
		return false
	}
	if s.opts.ClientID != "" && !strings.EqualFold(clientID, s.opts.ClientID) {
		oauthError(w, http.StatusBadRequest, "unauthorized_client",
			fmt.Sprintf("AADSTS700016: Application with identifier '%s' was not found in the directory. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.", clientID))
		return false
	}
	return true
}

func (s *Server) serveDeviceCode(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	clientID := r.PostForm.Get("client_id")
	if !s.checkClient(w, clientID) {
		return
	}
	now := time.Now()
	dc := &deviceCode{
		code:     randomToken("dc-"),
		userCode: s.opts.UserCode,
		clientID: clientID,
		scope:    r.PostForm.Get("scope"),
		issuedAt: now,
		expires:  now.Add(s.opts.DeviceCodeLifetime),
	}
	if dc.userCode == "" {
		dc.userCode = newUserCode()
	}
	s.mu.Lock()
	s.deviceCodes[dc.code] = dc
	s.mu.Unlock()
	verify := "https://" + r.Host + "/devicelogin"
	// Entra asks clients to poll every 5 seconds; a sign-in that approves
	// itself (the demo) is polled every second, so that it is seen to finish
	// soon after ApproveAfter.
	interval := 5
	if s.opts.ApproveAfter > 0 {
		interval = 1
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"user_code":        dc.userCode,
		"device_code":      dc.code,
		"verification_uri": verify,
		"expires_in":       int(s.opts.DeviceCodeLifetime / time.Second),
		"interval":         interval,
		"message": fmt.Sprintf("To sign in, use a web browser to open the page %s and enter the code %s to authenticate.",
			verify, dc.userCode),
	})
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, issuer string) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	f := r.PostForm
	clientID := f.Get("client_id")
	if clientID == "" {
		if u, _, ok := r.BasicAuth(); ok {
			clientID = u
		}
	}
	switch f.Get("grant_type") {
	case "client_credentials":
		if !s.checkClient(w, clientID) {
			return
		}
		secret := f.Get("client_secret")
		if secret == "" {
			if _, p, ok := r.BasicAuth(); ok {
				secret = p
			}
		}
		switch {
		case f.Get("client_assertion") != "":
			// A certificate credential: accepted unverified.
		case secret == "":
			oauthError(w, http.StatusUnauthorized, "invalid_client",
				"AADSTS7000216: 'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.")
			return
		case s.opts.ClientSecret != "" && secret != s.opts.ClientSecret:
			oauthError(w, http.StatusUnauthorized, "invalid_client",
				fmt.Sprintf("AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID))
			return
		}
		s.writeToken(w, issuer, clientID, f.Get("scope"), "")
	case "urn:ietf:params:oauth:grant-type:device_code", "device_code":
		s.mu.Lock()
		dc := s.deviceCodes[f.Get("device_code")]
		var state deviceState
		var expired bool
		if dc != nil {
			if dc.state == devicePending && s.opts.ApproveAfter > 0 && time.Since(dc.issuedAt) >= s.opts.ApproveAfter {
				dc.state = deviceApproved
			}
			state, expired = dc.state, time.Now().After(dc.expires)
			if state != devicePending {
				delete(s.deviceCodes, dc.code) // a device code is redeemed once
			}
		}
		s.mu.Unlock()
		switch {
		case dc == nil:
			oauthError(w, http.StatusBadRequest, "invalid_grant", "AADSTS70000: The provided value for the 'device_code' is not valid.")
		case expired:
			oauthError(w, http.StatusBadRequest, "expired_token", "AADSTS70020: The provided value for the input parameter 'device_code' is not valid. This device code has expired.")
		case state == deviceDeclined:
			oauthError(w, http.StatusBadRequest, "authorization_declined", "AADSTS70000: The user declined to authorize the request.")
		case state == devicePending:
			oauthError(w, http.StatusBadRequest, "authorization_pending", "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending. Continue polling.")
		default:
			s.writeToken(w, issuer, dc.clientID, f.Get("scope"), s.signInUser())
		}
	case "refresh_token":
		s.mu.Lock()
		rt, ok := s.refresh[f.Get("refresh_token")]
		s.mu.Unlock()
		if !ok || time.Now().After(rt.expires) {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "AADSTS700082: The refresh token has expired due to inactivity.")
			return
		}
		s.writeToken(w, issuer, rt.clientID, f.Get("scope"), rt.user)
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type",
			fmt.Sprintf("AADSTS70003: The app requested an unsupported grant type '%s'.", f.Get("grant_type")))
	}
}

// signInUser is the id of the user the device-code flow signs in.
func (s *Server) signInUser() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.SignInUser != "" {
		if u := s.tenant.UserByUPN(s.opts.SignInUser); u != nil {
			return u.ID
		}
	}
	for _, u := range s.tenant.Users {
		if u.AccountEnabled && u.UserType != "Guest" {
			return u.ID
		}
	}
	return "00000000-0000-0000-0000-0000000000aa"
}

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// writeToken issues an access token (and, for a user, a refresh token, an
// ID token and client_info) and writes the token response.
func (s *Server) writeToken(w http.ResponseWriter, issuer, clientID, scope, userID string) {
	now := time.Now()
	access := randomToken("gt-at-")
	s.mu.Lock()
	s.tokens[access] = issued{expires: now.Add(tokenLifetime), user: userID, clientID: clientID, scope: scope}
	tenantID := s.tenant.ID
	var u User
	if p := s.ix.users[strings.ToLower(userID)]; p != nil {
		u = *p
	}
	s.mu.Unlock()
	if tenantID == "" {
		tenantID = "00000000-0000-0000-0000-000000000001"
	}
	resp := map[string]any{
		"token_type":     "Bearer",
		"scope":          scope,
		"expires_in":     int(tokenLifetime / time.Second),
		"ext_expires_in": int(tokenLifetime / time.Second),
		"access_token":   access,
	}
	if userID != "" {
		refresh := randomToken("gt-rt-")
		s.mu.Lock()
		s.refresh[refresh] = issued{expires: now.Add(24 * time.Hour), user: userID, clientID: clientID, scope: scope}
		s.mu.Unlock()
		claims := map[string]any{
			"aud":                clientID,
			"iss":                issuer,
			"iat":                now.Unix(),
			"nbf":                now.Unix(),
			"exp":                now.Add(tokenLifetime).Unix(),
			"name":               u.DisplayName,
			"oid":                userID,
			"preferred_username": u.UserPrincipalName,
			"sub":                userID,
			"tid":                tenantID,
			"ver":                "2.0",
		}
		resp["refresh_token"] = refresh
		resp["id_token"] = b64(map[string]string{"alg": "none", "typ": "JWT"}) + "." + b64(claims) + "."
		resp["client_info"] = b64(map[string]string{"uid": userID, "utid": tenantID})
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, resp)
}

// serveDeviceLogin is the verification page: a person enters the code and
// the sign-in completes (there is no password in a test tenant).
func (s *Server) serveDeviceLogin(w http.ResponseWriter, r *http.Request) {
	msg := ""
	if r.Method == http.MethodPost {
		_ = r.ParseForm()
		code := strings.ToUpper(strings.TrimSpace(r.PostForm.Get("code")))
		approved := false
		s.mu.Lock()
		for _, dc := range s.deviceCodes {
			if dc.userCode == code && dc.state == devicePending && time.Now().Before(dc.expires) {
				dc.state = deviceApproved
				approved = true
			}
		}
		s.mu.Unlock()
		if approved {
			msg = "Signed in. You can close this window and return to usersync."
		} else {
			msg = "That code is unknown or has expired."
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html><title>Sign in (graphtest)</title>
<h1>Enter code</h1><p>%s</p>
<form method="post"><input name="code" autofocus> <button>Next</button></form>`, html.EscapeString(msg))
}

// bearer returns the token a Graph request carries, if the server issued it
// and it has not expired.
func (s *Server) bearer(r *http.Request) (issued, bool) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return issued{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.tokens[strings.TrimSpace(tok)]
	if !ok || time.Now().After(it.expires) {
		return issued{}, false
	}
	return it, true
}
