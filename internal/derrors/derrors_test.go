package derrors

import (
	"database/sql"
	"errors"
	"testing"

	"portal"
)

func TestWrap(t *testing.T) {
	wrapped := func(err error, keep ...error) error {
		Wrap(&err, keep, "GetUser(%s)", "u1")
		return err
	}
	if err := wrapped(nil); err != nil {
		t.Errorf("nil became %v", err)
	}
	err := wrapped(sql.ErrConnDone)
	if err.Error() != "GetUser(u1): "+sql.ErrConnDone.Error() || !errors.Is(err, sql.ErrConnDone) {
		t.Errorf("wrapped = %v", err)
	}
	pe := portal.Errorf(portal.ENOTFOUND, "user not found")
	if err := wrapped(pe); err != pe {
		t.Errorf("a *portal.Error was wrapped: %v", err)
	}
	sentinel := errors.New("sentinel")
	if err := wrapped(sentinel, sentinel); err != sentinel {
		t.Errorf("a kept error was wrapped: %v", err)
	}
}
