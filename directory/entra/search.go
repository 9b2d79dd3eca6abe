package entra

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/microsoftgraph/msgraph-sdk-go/groups"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/usersync/usersync/directory"
)

// chooserPage is the page size of the group chooser: a screenful or two,
// so the first groups show at once.
const chooserPage = 100

// countWorkers bounds the member-count requests in flight at once.
const countWorkers = 4

// odataString quotes s as an OData string literal.
func odataString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// searchFilters turns the search box's text into $filter expressions for
// users and groups. Plain text matches names that start with it (a
// trailing * is allowed: Graph matches prefixes only, without advanced
// queries); text starting with "(" is an OData filter used as written for
// both. Empty text or "*" lists everything.
func searchFilters(query string) (userFilter, groupFilter *string, err error) {
	q := strings.TrimSpace(query)
	if strings.HasPrefix(q, "(") {
		return &q, &q, nil
	}
	prefix := strings.TrimRight(q, "*")
	if strings.Contains(prefix, "*") {
		return nil, nil, fmt.Errorf("search %q: Entra ID matches names by their beginning only; type the start of a name, optionally followed by *", query)
	}
	if prefix == "" {
		return nil, nil, nil
	}
	v := odataString(prefix)
	u := fmt.Sprintf("startswith(displayName,%[1]s) or startswith(givenName,%[1]s) or startswith(surname,%[1]s) or startswith(mail,%[1]s) or startswith(userPrincipalName,%[1]s)", v)
	g := fmt.Sprintf("startswith(displayName,%[1]s) or startswith(mail,%[1]s)", v)
	return &u, &g, nil
}

// Search streams the users, then the groups, whose display name, given
// name, surname, mail or user principal name (groups: display name or
// mail) start with query, filtered by Graph and read page by page. Groups
// carry MemberCount -1: counting costs a request per group (ListGroups
// does it).
func (d *Directory) Search(ctx context.Context, query string, fn func(directory.Entry) error) error {
	uf, gf, err := searchFilters(query)
	if err != nil {
		return err
	}
	top := int32(pageSize)
	op := fmt.Sprintf("searching users for %q", query)
	resp, err := d.client.Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Select: userSelect, Top: &top, Filter: uf},
	})
	for {
		if err != nil {
			return d.graphErr(op, userPerms, err)
		}
		if resp == nil {
			break
		}
		for _, u := range resp.GetValue() {
			if err := fn(userEntry(u)); err != nil {
				return err
			}
		}
		next := str(resp.GetOdataNextLink())
		if next == "" {
			break
		}
		resp, err = d.client.Users().WithUrl(next).Get(ctx, nil)
	}
	return d.listGroups(ctx, fmt.Sprintf("searching groups for %q", query),
		&groups.GroupsRequestBuilderGetQueryParameters{Select: groupSelect, Top: &top, Filter: gf}, nil,
		func(page []models.Groupable) error {
			for _, g := range page {
				if err := fn(groupEntry(g)); err != nil {
					return err
				}
			}
			return nil
		})
}

// listGroups pages through /groups, handing each page to fn.
func (d *Directory) listGroups(ctx context.Context, op string, q *groups.GroupsRequestBuilderGetQueryParameters,
	cfgHeaders func() *groups.GroupsRequestBuilderGetRequestConfiguration, fn func([]models.Groupable) error) error {
	cfg := &groups.GroupsRequestBuilderGetRequestConfiguration{QueryParameters: q}
	var nextCfg *groups.GroupsRequestBuilderGetRequestConfiguration
	if cfgHeaders != nil {
		c := cfgHeaders()
		cfg.Headers = c.Headers
		nextCfg = cfgHeaders()
	}
	resp, err := d.client.Groups().Get(ctx, cfg)
	for {
		if err != nil {
			return d.graphErr(op, groupPerms, err)
		}
		if resp == nil {
			return nil
		}
		if err := fn(resp.GetValue()); err != nil {
			return err
		}
		next := str(resp.GetOdataNextLink())
		if next == "" {
			return nil
		}
		resp, err = d.client.Groups().WithUrl(next).Get(ctx, nextCfg)
	}
}

// ListGroups streams the tenant's groups for the group chooser, sorted by
// name, each with MemberCount set to its number of users (nested groups
// included; -1 when the count failed). A non-empty search keeps the
// groups with a word of their name starting with it (Graph's $search:
// "sales" finds "EMEA Sales"). Groups arrive a page (100) at a time, after
// that page's counts.
func (d *Directory) ListGroups(ctx context.Context, search string, fn func(directory.Entry) error) error {
	top := int32(chooserPage)
	count := true
	q := &groups.GroupsRequestBuilderGetQueryParameters{
		Select: groupSelect, Top: &top, Orderby: []string{"displayName"}, Count: &count,
	}
	text := strings.TrimSpace(strings.NewReplacer(`"`, "", `\`, "", "*", "").Replace(search))
	if text != "" {
		s := `"displayName:` + text + `"`
		q.Search = &s
	}
	headers := func() *groups.GroupsRequestBuilderGetRequestConfiguration {
		return &groups.GroupsRequestBuilderGetRequestConfiguration{Headers: eventualHeaders()}
	}
	return d.listGroups(ctx, fmt.Sprintf("listing groups matching %q", search), q, headers, func(page []models.Groupable) error {
		entries := make([]directory.Entry, len(page))
		for i, g := range page {
			entries[i] = groupEntry(g)
		}
		if err := d.countMembers(ctx, entries); err != nil {
			return err
		}
		for _, e := range entries {
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	})
}

// countMembers sets MemberCount on each group entry, a few requests at a
// time. A count that fails leaves -1; only cancellation is an error.
func (d *Directory) countMembers(ctx context.Context, entries []directory.Entry) error {
	sem := make(chan struct{}, countWorkers)
	var wg sync.WaitGroup
	for i := range entries {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(e *directory.Entry) {
			defer wg.Done()
			defer func() { <-sem }()
			if n, err := d.memberCount(ctx, e.ExternalID); err == nil {
				e.MemberCount = n
			}
		}(&entries[i])
	}
	wg.Wait()
	return ctx.Err()
}

// memberCount is the number of users in a group, nested groups included
// (transitiveMembers/microsoft.graph.user/$count).
func (d *Directory) memberCount(ctx context.Context, groupID string) (int, error) {
	n, err := d.client.Groups().ByGroupId(groupID).TransitiveMembers().GraphUser().Count().Get(ctx,
		&groups.ItemTransitiveMembersGraphUserCountRequestBuilderGetRequestConfiguration{Headers: eventualHeaders()})
	if err != nil {
		return -1, d.graphErr("counting the members of group "+groupID, groupPerms, err)
	}
	if n == nil {
		return -1, nil
	}
	return int(*n), nil
}

var objectID = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// FindGroup finds the group `--group` names: an object id, or else an
// exact display name (compared case-insensitively, as Graph does). A name
// that several groups share is an error (ErrAmbiguous) listing them with
// their ids; no match is ErrNotFound. MemberCount is set (-1 when the
// count failed).
func (d *Directory) FindGroup(ctx context.Context, nameOrID string) (directory.Entry, error) {
	s := strings.TrimSpace(nameOrID)
	if s == "" {
		return directory.Entry{}, fmt.Errorf("entra %s: no group given", d.cfg.Name)
	}
	if objectID.MatchString(s) {
		g, err := d.client.Groups().ByGroupId(s).Get(ctx, &groups.GroupItemRequestBuilderGetRequestConfiguration{
			QueryParameters: &groups.GroupItemRequestBuilderGetQueryParameters{Select: groupSelect},
		})
		if err == nil && g != nil {
			return d.withCount(ctx, groupEntry(g)), nil
		}
		if err != nil {
			if gerr := d.graphErr("reading group "+s, groupPerms, err); !errors.Is(gerr, ErrNotFound) {
				return directory.Entry{}, gerr
			}
		}
		// Not an id after all: try it as a name.
	}
	filter := "displayName eq " + odataString(s)
	top := int32(pageSize)
	var found []directory.Entry
	err := d.listGroups(ctx, fmt.Sprintf("finding group %q", s),
		&groups.GroupsRequestBuilderGetQueryParameters{Select: groupSelect, Top: &top, Filter: &filter}, nil,
		func(page []models.Groupable) error {
			for _, g := range page {
				found = append(found, groupEntry(g))
			}
			return nil
		})
	if err != nil {
		return directory.Entry{}, err
	}
	switch len(found) {
	case 0:
		return directory.Entry{}, &kindError{
			msg:   fmt.Sprintf("entra %s: no group named %q (give the display name exactly, or the group's object id)", d.cfg.Name, s),
			kinds: []error{ErrNotFound},
		}
	case 1:
		return d.withCount(ctx, found[0]), nil
	}
	var list []string
	for _, e := range found {
		list = append(list, fmt.Sprintf("%s (%s)", e.Name, e.ExternalID))
	}
	return directory.Entry{}, &kindError{
		msg: fmt.Sprintf("entra %s: %d groups are named %q: %s; give the object id instead",
			d.cfg.Name, len(found), s, strings.Join(list, ", ")),
		kinds: []error{ErrAmbiguous},
	}
}

func (d *Directory) withCount(ctx context.Context, e directory.Entry) directory.Entry {
	if n, err := d.memberCount(ctx, e.ExternalID); err == nil {
		e.MemberCount = n
	}
	return e
}
