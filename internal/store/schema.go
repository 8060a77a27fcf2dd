package store

import "context"

// SchemaState is where the database's schema stands against the
// migrations this binary embeds.
type SchemaState struct {
	Current int64 // the version applied last
	Target  int64 // the newest embedded migration
	Pending bool  // some embedded migration is not applied
}

// Schema reports the schema's state without changing it when the schema
// is current: only reads (and, on a database Portal never migrated, the
// creation of the version table), so that a role without DDL rights can
// check it.
func (db *DB) Schema(ctx context.Context) (_ SchemaState, err error) {
	defer wrap(&err, "Schema")
	p, err := db.provider()
	if err != nil {
		return SchemaState{}, err
	}
	var st SchemaState
	if st.Pending, err = p.HasPending(ctx); err != nil {
		return SchemaState{}, err
	}
	if st.Current, st.Target, err = p.GetVersions(ctx); err != nil {
		return SchemaState{}, err
	}
	return st, nil
}
