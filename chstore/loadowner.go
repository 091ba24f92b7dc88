package chstore

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"os"
	"strconv"
	"strings"
)

// A staging table's name ends with its run's owner: this machine's tag and
// the run's pid. A run that finds another's table made on this machine by
// a process that is gone takes it for dead at once, instead of waiting
// LoadStale for its parts to age: `exportd load` killed and run again goes
// on where it stopped (TestLoadKilled), where it was told to wait ten
// minutes. A table from another machine, or whose process is alive, is left
// to LoadStale, as are tables named before owners were (the safe side: a
// run is only ever taken for dead too late, never too soon).

// ownerTag is the suffix naming this process: machine tag, then pid.
func ownerTag() string {
	return fmt.Sprintf("_m%08x_p%d", machineTag(), os.Getpid())
}

// machineTag tells this machine (and container) from others: its host name,
// boot id and pid namespace, hashed. The pid namespace because a pid means
// a process only within its own: two containers of one kernel with one
// host name (docker --network host gives the host's) took each other's
// live loads for dead, their pids naming no process, or another one, here
// (TestOwnerGoneOtherPIDNamespace).
func machineTag() uint32 {
	h := fnv.New32a()
	name, _ := os.Hostname()
	h.Write([]byte(name))
	boot, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	h.Write(bytes.TrimSpace(boot))
	ns, _ := os.Readlink("/proc/self/ns/pid")
	h.Write([]byte(ns))
	return h.Sum32()
}

// ownerGone reports whether the staging table name was made by a run of
// this machine whose process no longer runs.
func ownerGone(name string) bool {
	i := strings.LastIndex(name, "_m")
	if i < 0 {
		return false
	}
	tag, pidS, ok := strings.Cut(name[i+2:], "_p")
	if !ok || tag != fmt.Sprintf("%08x", machineTag()) {
		return false
	}
	pid, err := strconv.Atoi(pidS)
	if err != nil || pid <= 0 || pid == os.Getpid() {
		return false
	}
	return processGone(pid)
}

// processGone: no process pid, or one that has exited and waits to be
// reaped. Without /proc (not Linux) a process is never taken for gone.
func processGone(pid int) bool {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return os.IsNotExist(err)
	}
	// The state follows the command name's closing parenthesis.
	if j := bytes.LastIndexByte(stat, ')'); j >= 0 && j+2 < len(stat) {
		return stat[j+2] == 'Z' || stat[j+2] == 'X'
	}
	return false
}
