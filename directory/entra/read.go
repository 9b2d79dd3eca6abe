package entra

import (
	"context"
	"errors"
	"fmt"
	"strings"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/directoryobjects"
	"github.com/microsoftgraph/msgraph-sdk-go/groups"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/usersync/usersync/directory"
)

// pageSize is the largest page Graph serves for directory collections.
const pageSize = 999

// getByIDsBatch is the most ids directoryObjects/getByIds takes at once.
const getByIDsBatch = 1000

// userSelect and groupSelect are the only properties usersync maps; asking
// for them alone keeps pages small (and accountEnabled and userType are not
// returned unless asked for).
var (
	userSelect  = []string{"id", "displayName", "mail", "userPrincipalName", "accountEnabled", "userType"}
	groupSelect = []string{"id", "displayName", "mail"}
)

// The permissions each kind of request needs, for error messages.
var (
	userPerms   = []string{PermUserReadAll}
	groupPerms  = []string{PermGroupMemberReadAll}
	memberPerms = []string{PermGroupMemberReadAll, PermUserReadAll}
)

// Username makes a username from a user principal name: the part before
// the last "@", and for a guest (jane.doe_fabrikam.com#EXT#@…) without the
// "#EXT#" marker. The UPN, unlike mailNickname, is unique in the tenant and
// is what people type to sign in, so its prefix is the name they know.
func Username(upn string) string {
	name := upn
	if i := strings.LastIndexByte(name, '@'); i >= 0 {
		name = name[:i]
	}
	if i := strings.Index(strings.ToUpper(name), "#EXT#"); i >= 0 {
		name = name[:i]
	}
	return name
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// userEntry maps a Graph user: ExternalID is the object id, Name the UPN's
// prefix (Username), Email mail else userPrincipalName, DN the UPN,
// Disabled !accountEnabled, Guest userType == Guest.
func userEntry(u models.Userable) directory.Entry {
	upn := str(u.GetUserPrincipalName())
	mail := str(u.GetMail())
	if mail == "" {
		mail = upn
	}
	name := Username(upn)
	if name == "" {
		name = Username(mail)
	}
	e := directory.Entry{
		Type:        directory.TypeUser,
		ExternalID:  str(u.GetId()),
		Name:        name,
		DisplayName: str(u.GetDisplayName()),
		Email:       mail,
		DN:          upn,
		Guest:       strings.EqualFold(str(u.GetUserType()), "Guest"),
	}
	if name == "" {
		e.Name = e.ExternalID
	}
	if en := u.GetAccountEnabled(); en != nil {
		e.Disabled = !*en
	}
	return e
}

// groupEntry maps a Graph group; MemberCount is -1 (unknown) until counted.
func groupEntry(g models.Groupable) directory.Entry {
	return directory.Entry{
		Type:        directory.TypeGroup,
		ExternalID:  str(g.GetId()),
		Name:        str(g.GetDisplayName()),
		DisplayName: str(g.GetDisplayName()),
		Email:       str(g.GetMail()),
		MemberCount: -1,
	}
}

func eventualHeaders() *abstractions.RequestHeaders {
	h := abstractions.NewRequestHeaders()
	h.Add("ConsistencyLevel", "eventual")
	return h
}

// ReadGroup reads a group and its users, nested groups flattened, from
// transitiveMembers (which lists the nested groups too, at any depth: they
// are GroupRead.Nested): only the mapped properties ($select), 999 per page,
// following @odata.nextLink to the end. Throttled pages are retried as the
// SDK's retry handler does (Retry-After honoured, reported through
// Options.OnThrottle). A page that never arrives, or still fails after the
// retries, ends the read with an error wrapping directory.ErrIncomplete
// (and the partial read, its Incomplete set): nothing may be removed on
// its strength.
func (d *Directory) ReadGroup(ctx context.Context, groupID string) (*directory.GroupRead, error) {
	item := d.client.Groups().ByGroupId(groupID)
	g, err := item.Get(ctx, &groups.GroupItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &groups.GroupItemRequestBuilderGetQueryParameters{Select: groupSelect},
	})
	if err != nil {
		return nil, d.graphErr("reading group "+groupID, groupPerms, err)
	}
	if g == nil {
		return nil, d.graphErr("reading group "+groupID, groupPerms, errors.New("empty answer"))
	}
	read := &directory.GroupRead{Group: groupEntry(g)}
	label := read.Group.Name
	if label == "" {
		label = groupID
	}

	top := int32(pageSize)
	tm := item.TransitiveMembers()
	resp, err := tm.Get(ctx, &groups.ItemTransitiveMembersRequestBuilderGetRequestConfiguration{
		QueryParameters: &groups.ItemTransitiveMembersRequestBuilderGetQueryParameters{Select: userSelect, Top: &top},
	})
	seen := make(map[string]bool)
	nested := make(map[string]bool)
	followed := make(map[string]bool)
	page := 1
	for {
		if err == nil && resp == nil {
			err = errors.New("empty answer")
		}
		if err != nil {
			cause := d.graphErr(fmt.Sprintf("reading the members of group %s", label), memberPerms, err)
			reason := fmt.Sprintf("page %d of the members of group %s did not arrive (%d members read)", page, label, len(read.Members))
			read.Incomplete = reason + ": " + cause.Error()
			read.Group.MemberCount = len(read.Members)
			return read, &directory.IncompleteError{Reason: reason, Err: cause}
		}
		for _, o := range resp.GetValue() {
			u, ok := o.(models.Userable)
			if !ok {
				// A nested group, at any depth: its users are listed too,
				// and a change to it changes this group's membership.
				if g, ok := o.(models.Groupable); ok {
					if id := str(g.GetId()); id != "" && !nested[id] {
						nested[id] = true
						read.Nested = append(read.Nested, id)
					}
				}
				continue
			}
			e := userEntry(u)
			if e.ExternalID == "" || seen[e.ExternalID] {
				continue
			}
			if e.DN == "" {
				// Every user has a UPN: Graph lists members it may not
				// read with their id alone ("limited information").
				err = d.limitedInfo(label)
				break
			}
			seen[e.ExternalID] = true
			read.Members = append(read.Members, e)
		}
		if err != nil {
			continue
		}
		next := str(resp.GetOdataNextLink())
		if next == "" {
			break
		}
		page++
		if followed[next] {
			err = fmt.Errorf("Graph sent the same next page link twice: %s", next)
			continue
		}
		followed[next] = true
		resp, err = tm.WithUrl(next).Get(ctx, nil)
	}
	read.Group.MemberCount = len(read.Members)
	return read, nil
}

// limitedInfo is the error for members Graph returned without their
// properties: the app may list members (GroupMember.Read.All) but not read
// users (User.Read.All).
func (d *Directory) limitedInfo(group string) error {
	return &PermissionError{
		Tenant: d.cfg.Name, Op: "reading the members of group " + group,
		Code:        "limited information",
		Message:     "Graph returned user members with their object id only",
		Permissions: []string{PermUserReadAll}, ConsentURL: d.cfg.AdminConsentURL(),
	}
}

// LookupUsers reads the users with the given object ids through
// directoryObjects/getByIds, 1000 at a time. Ids Graph does not return
// (deleted users) are absent from the map, which is keyed by the ids as
// given. Any failure returns an error: then nothing can be concluded.
func (d *Directory) LookupUsers(ctx context.Context, externalIDs []string) (map[string]directory.Entry, error) {
	asked := make(map[string]string, len(externalIDs)) // lower-cased → as given
	var ids []string
	for _, id := range externalIDs {
		k := strings.ToLower(id)
		if id == "" || asked[k] != "" {
			continue
		}
		asked[k] = id
		ids = append(ids, id)
	}
	return d.getByIDs(ctx, "user", userPerms, asked, ids, func(o models.DirectoryObjectable) (directory.Entry, bool) {
		u, ok := o.(models.Userable)
		if !ok {
			return directory.Entry{}, false
		}
		return userEntry(u), true
	})
}

// getByIDs reads the objects of one type (kind: "user", "group") with the
// given ids through directoryObjects/getByIds, getByIDsBatch at a time,
// each made an entry by entry (false: not of that type). asked maps the
// lower-cased ids to the ids as given, which key the result; ids Graph
// does not return (deleted objects) are absent. Any failure returns an
// error: then nothing can be concluded.
func (d *Directory) getByIDs(ctx context.Context, kind string, perms []string, asked map[string]string, ids []string, entry func(models.DirectoryObjectable) (directory.Entry, bool)) (map[string]directory.Entry, error) {
	out := make(map[string]directory.Entry, len(ids))
	for start := 0; start < len(ids); start += getByIDsBatch {
		batch := ids[start:min(start+getByIDsBatch, len(ids))]
		body := directoryobjects.NewGetByIdsPostRequestBody()
		body.SetIds(batch)
		body.SetTypes([]string{kind})
		resp, err := d.client.DirectoryObjects().GetByIds().PostAsGetByIdsPostResponse(ctx, body, nil)
		if err == nil && resp == nil {
			err = errors.New("empty answer")
		}
		if err != nil {
			return nil, d.graphErr(fmt.Sprintf("looking up %d %ss by id", len(batch), kind), perms, err)
		}
		for _, o := range resp.GetValue() {
			e, ok := entry(o)
			if !ok {
				continue
			}
			if key, ok := asked[strings.ToLower(e.ExternalID)]; ok {
				out[key] = e
			}
		}
	}
	return out, nil
}
