package chstore

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
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

// TestOwnerGoneOtherPIDNamespace: a load running in another pid namespace
// of this machine (a second container with the host's name, as docker
// --network host gives, on the same kernel) is not taken for dead because
// its pid names no process here: it was, its live staging table was dropped
// and the month it had attached could be attached a second time.
func TestOwnerGoneOtherPIDNamespace(t *testing.T) {
	if os.Getenv("EXPORTD_OWNER_TAG_HELPER") == "1" {
		return
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("no unshare:", err)
	}
	// The helper runs after 300 other processes of its namespace, so that
	// its pid there is one this namespace is unlikely to have.
	cmd := exec.Command("unshare", "-Upfr", "--mount-proc", "sh", "-c",
		`i=0; while [ $i -lt 300 ]; do /bin/true; i=$((i+1)); done; "$0" -test.run='^TestOwnerTagHelper$'; :`, os.Args[0])
	cmd.Env = append(os.Environ(), "EXPORTD_OWNER_TAG_HELPER=1")
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Skip("unshare:", err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	tag, ok := strings.CutPrefix(strings.TrimSpace(line), "tag ")
	if err != nil || !ok {
		t.Skipf("no pid namespace here: %q, %v", line, err)
	}
	if name := "load_staging_0123456789abcdef_00000000000000ff" + tag; ownerGone(name) {
		t.Errorf("ownerGone(%q) of a live load in another pid namespace = true, want false (this is %s)", name, ownerTag())
	}
}

// TestOwnerTagHelper prints its ownerTag and lives until its stdin closes:
// TestOwnerGoneOtherPIDNamespace's live load.
func TestOwnerTagHelper(t *testing.T) {
	if os.Getenv("EXPORTD_OWNER_TAG_HELPER") != "1" {
		t.Skip("a helper of TestOwnerGoneOtherPIDNamespace")
	}
	fmt.Println("tag " + ownerTag())
	_, _ = io.Copy(io.Discard, os.Stdin)
}
