package store

import (
	"context"
	"fmt"

	"github.com/usersync/usersync/directory"
)

// ReadGroup reads one group whole from dir and prepares it for Plan or Apply:
// when the read is complete, the store's members that the directory no
// longer lists are looked up, and those the directory no longer has at all
// are passed on as deleted (to be disabled). An incomplete read is returned
// as it is: the rules then remove and disable nothing.
func (s *Store) ReadGroup(ctx context.Context, dir directory.Directory, externalID string) (GroupInput, error) {
	read, err := dir.ReadGroup(ctx, externalID)
	if err != nil {
		return GroupInput{}, fmt.Errorf("read group %s from %s: %w", externalID, dir.Name(), err)
	}
	in := GroupInput{Read: read}
	if !read.Complete() {
		return in, nil
	}
	departed, err := s.Departed(dir.Name(), read)
	if err != nil || len(departed) == 0 {
		return in, err
	}
	found, err := dir.LookupUsers(ctx, departed)
	if err != nil {
		// Nothing can be concluded about who was deleted: mark the read
		// incomplete so that nothing is removed or disabled.
		read.Incomplete = fmt.Sprintf("looking up %d departed members failed: %v", len(departed), err)
		return in, nil
	}
	for _, id := range departed {
		if _, ok := found[id]; !ok {
			in.Deleted = append(in.Deleted, id)
		}
	}
	return in, nil
}
