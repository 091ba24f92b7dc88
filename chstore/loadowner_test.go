package chstore

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// TestOwnerGone: a staging table is taken for a dead run's at once only when
// it names this machine and a process that has ended; any doubt leaves it
// to LoadStale.
func TestOwnerGone(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no true command:", err)
	}
	ended := cmd.ProcessState.Pid()
	prefix := "load_staging_0123456789abcdef_00000000000000ff"
	cases := []struct {
		name string
		gone bool
	}{
		{fmt.Sprintf("%s_m%08x_p%d", prefix, machineTag(), ended), true},
		{prefix + ownerTag(), false},                                        // this process: alive
		{fmt.Sprintf("%s_m%08x_p%d", prefix, machineTag(), 1), false},       // init: alive
		{fmt.Sprintf("%s_m%08x_p%d", prefix, machineTag()+1, ended), false}, // another machine
		{prefix, false},              // named before owners were
		{prefix + "_mzz_p12", false}, // not this machine's tag
		{prefix + "_m_p", false},     // malformed
	}
	for _, c := range cases {
		if got := ownerGone(c.name); got != c.gone {
			t.Errorf("ownerGone(%q) = %v, want %v (pid %d ended, this is %d)", c.name, got, c.gone, ended, os.Getpid())
		}
	}
}
