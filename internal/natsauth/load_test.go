package natsauth_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/plenario-next/exportd/internal/natsauth"
)

// TestLoadReuses: the first Load generates private files, the next one
// reads the same passwords, and a key no longer configured loses its file.
func TestLoadReuses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "auth")
	first, err := natsauth.Load(dir, []string{"alpha", "beta"})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("auth dir: got %v (%v), want 0700", st.Mode().Perm(), err)
	}
	ids := append([]natsauth.Identity{first.Service, first.Subscriber}, first.Keys...)
	if len(ids) != 4 {
		t.Fatalf("got %d identities, want 4 (service, subscriber, two keys)", len(ids))
	}
	for _, id := range ids {
		st, err := os.Stat(id.File)
		if err != nil || st.Mode().Perm() != 0o600 || len(id.Password) < 24 {
			t.Errorf("%s: got mode %v, password of %d chars (%v), want 0600 and at least 24", id.User, st.Mode().Perm(), len(id.Password), err)
		}
	}
	beta, _ := first.Key("beta")
	again, err := natsauth.Load(dir, []string{"alpha"})
	if err != nil {
		t.Fatal(err)
	}
	if again.Service.Password != first.Service.Password || again.Subscriber.Password != first.Subscriber.Password {
		t.Error("second Load: got new passwords, want the stored ones")
	}
	if a1, _ := first.Key("alpha"); len(again.Keys) != 1 || again.Keys[0].Password != a1.Password {
		t.Errorf("second Load's keys: got %v, want alpha's identity as before", again.Keys)
	}
	if _, err := os.Stat(beta.File); !os.IsNotExist(err) {
		t.Errorf("withdrawn key's file: got %v, want it removed", err)
	}
}
