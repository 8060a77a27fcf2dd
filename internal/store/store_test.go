package store_test

import (
	"testing"

	"portal/internal/store"
	"portal/internal/store/storetest"
	"portal/internal/testenv"
)

// TestStore runs the store contract suite on every dialect.
func TestStore(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		storetest.Run(t, func(t *testing.T) *store.DB { return testenv.OpenDB(t, d) })
	})
}
