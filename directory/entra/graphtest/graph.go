package graphtest

import (
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// maxPageSize is the largest $top Graph accepts on directory collections.
const maxPageSize = 999

// serveGraph answers a Graph request; path is the part after /v1.0.
func (s *Server) serveGraph(w http.ResponseWriter, r *http.Request, path string) {
	s.mu.Lock()
	latency := s.latency
	if len(s.log) < maxLog {
		q, _ := url.QueryUnescape(r.URL.RawQuery)
		line := r.Method + " " + r.URL.Path
		if q != "" {
			line += "?" + q
		}
		s.log = append(s.log, line)
	}
	s.mu.Unlock()
	if !s.wait(r.Context(), latency) {
		return
	}
	if f := s.fault(r, path); f != nil {
		s.applyFault(w, r, f)
		return
	}
	if r.Header.Get("Authorization") == "" {
		graphError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty.")
		return
	}
	if _, ok := s.bearer(r); !ok {
		graphError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
		return
	}

	seg := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(seg) == 1 && seg[0] == "users" && r.Method == http.MethodGet:
		if s.need(w, PermUserReadAll) {
			s.serveCollection(w, r, "users", s.allOf(kindUser), typeUser, false)
		}
	case len(seg) == 2 && seg[0] == "users" && seg[1] == "$count" && r.Method == http.MethodGet:
		if s.need(w, PermUserReadAll) {
			s.serveCount(w, r, s.allOf(kindUser))
		}
	case len(seg) == 2 && seg[0] == "users" && isDelta(seg[1]) && r.Method == http.MethodGet:
		if s.need(w, PermUserReadAll) {
			s.serveDelta(w, r, "users")
		}
	case len(seg) == 2 && seg[0] == "users" && r.Method == http.MethodGet:
		if s.need(w, PermUserReadAll) {
			s.serveObject(w, r, kindUser, seg[1])
		}
	case len(seg) == 1 && seg[0] == "groups" && r.Method == http.MethodGet:
		if s.need(w, PermGroupMemberReadAll) {
			s.serveCollection(w, r, "groups", s.allOf(kindGroup), typeGroup, false)
		}
	case len(seg) == 2 && seg[0] == "groups" && seg[1] == "$count" && r.Method == http.MethodGet:
		if s.need(w, PermGroupMemberReadAll) {
			s.serveCount(w, r, s.allOf(kindGroup))
		}
	case len(seg) == 2 && seg[0] == "groups" && isDelta(seg[1]) && r.Method == http.MethodGet:
		if s.need(w, PermGroupMemberReadAll) {
			s.serveDelta(w, r, "groups")
		}
	case len(seg) == 2 && seg[0] == "groups" && r.Method == http.MethodGet:
		if s.need(w, PermGroupMemberReadAll) {
			s.serveObject(w, r, kindGroup, seg[1])
		}
	case len(seg) >= 3 && seg[0] == "groups" && (seg[2] == "members" || seg[2] == "transitiveMembers") && r.Method == http.MethodGet:
		// Without User.Read.All, Graph still lists user members, but with
		// their id alone (limited information).
		if s.need(w, PermGroupMemberReadAll) {
			s.serveMembers(w, r, seg[1], seg[2], seg[3:], s.revokedPerm(PermUserReadAll))
		}
	case len(seg) == 2 && seg[0] == "directoryObjects" && seg[1] == "getByIds" && r.Method == http.MethodPost:
		if s.need(w, PermUserReadAll) {
			s.serveGetByIDs(w, r)
		}
	default:
		graphError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", seg[len(seg)-1]))
	}
}

// isDelta tells the delta function's segment: delta, delta() or the
// qualified microsoft.graph.delta() the SDKs may send.
func isDelta(seg string) bool {
	seg = strings.TrimSuffix(strings.TrimPrefix(seg, "microsoft.graph."), "()")
	return seg == "delta"
}

func (s *Server) revokedPerm(permission string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.revoked[strings.ToLower(permission)]
}

// need answers 403 when permission has been revoked.
func (s *Server) need(w http.ResponseWriter, permission string) bool {
	s.mu.Lock()
	revoked := s.revoked[strings.ToLower(permission)]
	s.mu.Unlock()
	if revoked {
		graphError(w, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
		return false
	}
	return true
}

func (s *Server) allOf(k objKind) []objRef {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []objRef
	if k == kindUser {
		out = make([]objRef, len(s.tenant.Users))
		for i, u := range s.tenant.Users {
			out[i] = objRef{kindUser, u.ID}
		}
		return out
	}
	out = make([]objRef, len(s.tenant.Groups))
	for i, g := range s.tenant.Groups {
		out[i] = objRef{kindGroup, g.ID}
	}
	return out
}

type collType int

const (
	typeDirectoryObject collType = iota
	typeUser
	typeGroup
)

var userProps = []string{"id", "displayName", "givenName", "surname", "mail", "userPrincipalName",
	"mailNickname", "accountEnabled", "userType", "businessPhones", "jobTitle", "mobilePhone",
	"officeLocation", "preferredLanguage"}

// userDefault is what Graph returns for a user without $select: note that
// accountEnabled and userType are not in it.
var userDefault = []string{"id", "businessPhones", "displayName", "givenName", "jobTitle", "mail",
	"mobilePhone", "officeLocation", "preferredLanguage", "surname", "userPrincipalName"}

var groupProps = []string{"id", "displayName", "description", "mail", "mailEnabled", "mailNickname",
	"securityEnabled", "groupTypes", "visibility"}

func userValues(u *User) map[string]any {
	var mail any
	if u.Mail != "" {
		mail = u.Mail
	}
	var given, sur any
	if u.GivenName != "" {
		given = u.GivenName
	}
	if u.Surname != "" {
		sur = u.Surname
	}
	userType := u.UserType
	if userType == "" {
		userType = "Member"
	}
	return map[string]any{
		"id": u.ID, "displayName": u.DisplayName, "givenName": given, "surname": sur, "mail": mail,
		"userPrincipalName": u.UserPrincipalName, "mailNickname": u.MailNickname,
		"accountEnabled": u.AccountEnabled, "userType": userType, "businessPhones": []string{},
		"jobTitle": nil, "mobilePhone": nil, "officeLocation": nil, "preferredLanguage": nil,
	}
}

func groupValues(g *Group) map[string]any {
	var mail, desc any
	if g.Mail != "" {
		mail = g.Mail
	}
	if g.Description != "" {
		desc = g.Description
	}
	nick, _, _ := strings.Cut(g.Mail, "@")
	return map[string]any{
		"id": g.ID, "displayName": g.DisplayName, "description": desc, "mail": mail,
		"mailEnabled": g.Mail != "", "mailNickname": nick, "securityEnabled": true,
		"groupTypes": []string{}, "visibility": nil,
	}
}

// values returns an object's properties and its OData type, or nil.
func (s *Server) values(o objRef) (map[string]any, string) {
	if o.kind == kindUser {
		if u := s.ix.users[strings.ToLower(o.id)]; u != nil {
			return userValues(u), "#microsoft.graph.user"
		}
		return nil, ""
	}
	if g := s.ix.groups[strings.ToLower(o.id)]; g != nil {
		return groupValues(g), "#microsoft.graph.group"
	}
	return nil, ""
}

// lowerProps makes the lower-cased property map filters evaluate.
func lowerProps(v map[string]any) props {
	p := make(props, len(v))
	for k, x := range v {
		p[strings.ToLower(k)] = x
	}
	return p
}

// render returns the JSON object for o with the selected properties (nil
// selects the type's defaults; full selects everything).
func (s *Server) render(o objRef, sel []string, full bool) map[string]any {
	v, odataType := s.values(o)
	if v == nil {
		return nil
	}
	out := map[string]any{"@odata.type": odataType}
	var names []string
	switch {
	case full:
		for k := range v {
			names = append(names, k)
		}
	case len(sel) > 0:
		names = sel
	case o.kind == kindUser:
		names = userDefault
	default:
		names = groupProps
	}
	for _, n := range names {
		for k, x := range v {
			if strings.EqualFold(k, n) {
				out[k] = x
			}
		}
	}
	out["id"] = v["id"]
	return out
}

func parseSelect(q url.Values, t collType) ([]string, error) {
	raw := q.Get("$select")
	if raw == "" {
		return nil, nil
	}
	var sel []string
	for _, n := range strings.Split(raw, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		known := slices.ContainsFunc(userProps, func(p string) bool { return strings.EqualFold(p, n) }) ||
			slices.ContainsFunc(groupProps, func(p string) bool { return strings.EqualFold(p, n) })
		switch t {
		case typeUser:
			known = slices.ContainsFunc(userProps, func(p string) bool { return strings.EqualFold(p, n) })
		case typeGroup:
			known = slices.ContainsFunc(groupProps, func(p string) bool { return strings.EqualFold(p, n) })
		}
		if !known {
			return nil, fmt.Errorf("Could not find a property named '%s' on type 'microsoft.graph.%s'.", n, typeName(t))
		}
		sel = append(sel, n)
	}
	return sel, nil
}

func typeName(t collType) string {
	switch t {
	case typeUser:
		return "user"
	case typeGroup:
		return "group"
	}
	return "directoryObject"
}

func eventual(r *http.Request) bool {
	return strings.EqualFold(strings.TrimSpace(r.Header.Get("ConsistencyLevel")), "eventual")
}

// selectObjects applies $filter and $search to objs.
func (s *Server) selectObjects(w http.ResponseWriter, r *http.Request, objs []objRef) ([]objRef, bool) {
	q := r.URL.Query()
	var preds []filterExpr
	if f := q.Get("$filter"); f != "" {
		e, err := parseFilter(f)
		if err != nil {
			graphError(w, http.StatusBadRequest, "Request_UnsupportedQuery", "Unsupported query. "+err.Error())
			return nil, false
		}
		preds = append(preds, e)
	}
	if sq := q.Get("$search"); sq != "" {
		if !eventual(r) {
			graphError(w, http.StatusBadRequest, "Request_UnsupportedQuery",
				"Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'")
			return nil, false
		}
		e, err := parseSearch(sq)
		if err != nil {
			graphError(w, http.StatusBadRequest, "Request_UnsupportedQuery", "Unsupported query. "+err.Error())
			return nil, false
		}
		preds = append(preds, e)
	}
	if len(preds) == 0 {
		return objs, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []objRef
	for _, o := range objs {
		v, _ := s.values(o)
		if v == nil {
			continue
		}
		p := lowerProps(v)
		ok := true
		for _, pred := range preds {
			if !pred(p) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, o)
		}
	}
	return out, true
}

func (s *Server) orderBy(w http.ResponseWriter, r *http.Request, objs []objRef) bool {
	ob := strings.TrimSpace(r.URL.Query().Get("$orderby"))
	if ob == "" {
		return true
	}
	prop, dir, _ := strings.Cut(ob, " ")
	if !strings.EqualFold(prop, "displayName") {
		graphError(w, http.StatusBadRequest, "Request_UnsupportedQuery", "Sorting by '"+prop+"' is not supported.")
		return false
	}
	desc := strings.EqualFold(strings.TrimSpace(dir), "desc")
	s.mu.Lock()
	names := make(map[string]string, len(objs))
	for _, o := range objs {
		v, _ := s.values(o)
		if v != nil {
			names[o.id], _ = v["displayName"].(string)
		}
	}
	s.mu.Unlock()
	slices.SortStableFunc(objs, func(a, b objRef) int {
		c := strings.Compare(strings.ToLower(names[a.id]), strings.ToLower(names[b.id]))
		if desc {
			return -c
		}
		return c
	})
	return true
}

// serveCollection serves one page of objs. limitedUsers returns users with
// their id and type alone, every other property null, as Graph does when
// the app may list a group's members but not read users.
func (s *Server) serveCollection(w http.ResponseWriter, r *http.Request, context string, objs []objRef, t collType, limitedUsers bool) {
	q := r.URL.Query()
	sel, err := parseSelect(q, t)
	if err != nil {
		graphError(w, http.StatusBadRequest, "Request_BadRequest", err.Error())
		return
	}
	objs, ok := s.selectObjects(w, r, objs)
	if !ok {
		return
	}
	if !s.orderBy(w, r, objs) {
		return
	}
	count := strings.EqualFold(q.Get("$count"), "true")
	if count && !eventual(r) {
		graphError(w, http.StatusBadRequest, "Request_BadRequest",
			"$count is not currently supported without the header 'ConsistencyLevel: eventual'.")
		return
	}
	top := s.opts.PageSize
	if v := q.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			graphError(w, http.StatusBadRequest, "Request_BadRequest",
				fmt.Sprintf("Invalid page size specified: '%s'. Must be between 1 and %d inclusive.", v, maxPageSize))
			return
		}
		top = n
	}
	offset := 0
	if tok := q.Get("$skiptoken"); tok != "" {
		n, err := decodeSkipToken(tok)
		if err != nil || n < 0 || n > len(objs) {
			graphError(w, http.StatusBadRequest, "Directory_InvalidSkipToken", "The specified page token value has expired and can no longer be included in your request.")
			return
		}
		offset = n
	}
	end := min(offset+top, len(objs))
	page := objs[offset:end]
	values := make([]map[string]any, 0, len(page))
	s.mu.Lock()
	for _, o := range page {
		v := s.render(o, sel, false)
		if v == nil {
			continue
		}
		if limitedUsers && o.kind == kindUser {
			for k := range v {
				if k != "@odata.type" && k != "id" {
					v[k] = nil
				}
			}
		}
		values = append(values, v)
	}
	s.mu.Unlock()
	base := "https://" + r.Host + "/v1.0"
	body := map[string]any{"@odata.context": base + "/$metadata#" + context, "value": values}
	if count {
		body["@odata.count"] = len(objs)
	}
	if end < len(objs) {
		nq := url.Values{}
		for k, v := range q {
			if k != "$skiptoken" {
				nq[k] = v
			}
		}
		nq.Set("$skiptoken", encodeSkipToken(end))
		body["@odata.nextLink"] = base + strings.TrimPrefix(r.URL.Path, "/v1.0") + "?" + encodeQuery(nq)
	}
	writeJSON(w, http.StatusOK, body)
}

// encodeQuery encodes a query as Graph writes its links: "$" kept as is.
func encodeQuery(q url.Values) string {
	return strings.ReplaceAll(q.Encode(), "%24", "$")
}

func encodeSkipToken(offset int) string {
	return "RFNwdAIAAQAAA" + base64.RawURLEncoding.EncodeToString([]byte("o:"+strconv.Itoa(offset)))
}

func decodeSkipToken(tok string) (int, error) {
	rest, ok := strings.CutPrefix(tok, "RFNwdAIAAQAAA")
	if !ok {
		return 0, fmt.Errorf("bad token")
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return 0, err
	}
	n, ok := strings.CutPrefix(string(b), "o:")
	if !ok {
		return 0, fmt.Errorf("bad token")
	}
	return strconv.Atoi(n)
}

func (s *Server) serveCount(w http.ResponseWriter, r *http.Request, objs []objRef) {
	if !eventual(r) {
		graphError(w, http.StatusBadRequest, "Request_BadRequest",
			"Count is not currently supported without the header 'ConsistencyLevel: eventual'.")
		return
	}
	objs, ok := s.selectObjects(w, r, objs)
	if !ok {
		return
	}
	b := []byte(strconv.Itoa(len(objs)))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func (s *Server) notFound(w http.ResponseWriter, id string) {
	graphError(w, http.StatusNotFound, "Request_ResourceNotFound",
		fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id))
}

func (s *Server) serveObject(w http.ResponseWriter, r *http.Request, k objKind, id string) {
	t := typeUser
	if k == kindGroup {
		t = typeGroup
	}
	sel, err := parseSelect(r.URL.Query(), t)
	if err != nil {
		graphError(w, http.StatusBadRequest, "Request_BadRequest", err.Error())
		return
	}
	s.mu.Lock()
	o := objRef{k, id}
	if k == kindUser {
		if u := s.ix.users[strings.ToLower(id)]; u != nil {
			o.id = u.ID
		} else if u := s.tenant.UserByUPN(id); u != nil {
			o.id = u.ID
		}
	}
	v := s.render(o, sel, false)
	s.mu.Unlock()
	if v == nil {
		s.notFound(w, id)
		return
	}
	v["@odata.context"] = "https://" + r.Host + "/v1.0/$metadata#" + typeName(t) + "s/$entity"
	writeJSON(w, http.StatusOK, v)
}

// serveMembers serves /groups/{id}/members|transitiveMembers[/cast][/$count].
func (s *Server) serveMembers(w http.ResponseWriter, r *http.Request, id, rel string, rest []string, limitedUsers bool) {
	s.mu.Lock()
	var objs []objRef
	found := s.ix.groups[strings.ToLower(id)] != nil
	if found {
		if rel == "members" {
			objs = s.tenant.directMembers(id, s.ix)
		} else {
			objs = s.tenant.transitive(id, s.ix)
		}
	}
	s.mu.Unlock()
	if !found {
		s.notFound(w, id)
		return
	}
	t := typeDirectoryObject
	if len(rest) > 0 && rest[0] != "$count" {
		cast := strings.TrimPrefix(rest[0], "microsoft.")
		var want objKind
		switch cast {
		case "graph.user":
			want, t = kindUser, typeUser
		case "graph.group":
			want, t = kindGroup, typeGroup
		default:
			graphError(w, http.StatusBadRequest, "Request_UnsupportedQuery", "Unsupported OData cast '"+rest[0]+"'.")
			return
		}
		var kept []objRef
		for _, o := range objs {
			if o.kind == want {
				kept = append(kept, o)
			}
		}
		objs = kept
		rest = rest[1:]
	}
	switch {
	case len(rest) == 0:
		s.serveCollection(w, r, "directoryObjects", objs, t, limitedUsers)
	case len(rest) == 1 && rest[0] == "$count":
		s.serveCount(w, r, objs)
	default:
		graphError(w, http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+rest[0]+"'.")
	}
}

func (s *Server) serveGetByIDs(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			graphError(w, http.StatusBadRequest, "BadRequest", "Invalid gzip body.")
			return
		}
		defer zr.Close()
		body = zr
	}
	var req struct {
		IDs   []string `json:"ids"`
		Types []string `json:"types"`
	}
	if err := json.NewDecoder(io.LimitReader(body, 8<<20)).Decode(&req); err != nil {
		graphError(w, http.StatusBadRequest, "BadRequest", "Invalid request body: "+err.Error())
		return
	}
	if len(req.IDs) > 1000 {
		graphError(w, http.StatusBadRequest, "Request_BadRequest", "Too many ids: at most 1000 are allowed.")
		return
	}
	wantUsers, wantGroups := len(req.Types) == 0, len(req.Types) == 0
	for _, t := range req.Types {
		switch strings.ToLower(strings.TrimPrefix(strings.ToLower(t), "microsoft.graph.")) {
		case "user":
			wantUsers = true
		case "group":
			wantGroups = true
		}
	}
	values := []map[string]any{}
	s.mu.Lock()
	for _, id := range req.IDs {
		k := strings.ToLower(id)
		if wantUsers && s.ix.users[k] != nil {
			values = append(values, s.render(objRef{kindUser, id}, nil, true))
		} else if wantGroups && s.ix.groups[k] != nil {
			values = append(values, s.render(objRef{kindGroup, id}, nil, true))
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"@odata.context": "https://" + r.Host + "/v1.0/$metadata#directoryObjects",
		"value":          values,
	})
}
