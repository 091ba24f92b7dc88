// Command exportd is the bulk-export service: `exportd serve` runs it all in
// one process (embedded NATS by default); `exportd gateway` and `exportd
// exporter` run one side each, for scale-out on a shared NATS; `exportd
// seed` loads a demo network into ClickHouse, `exportd load` an Array of
// Things digest.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "exportd:", err)
		os.Exit(exitCode(err))
	}
}

const usage = `usage: exportd <command> [flags]

commands:
  serve      gateway, projector, planner and exporters in one process (embedded NATS unless --nats)
  gateway    the HTTP API alone, on a shared NATS
  exporter   planner, projector and exporters alone, on a shared NATS
  seed       load a deterministic demo network into ClickHouse
  load       load an Array of Things digest (directory, .tar or data.csv.gz) into ClickHouse
  get        export with the query syntax as flags, follow the job, download and verify the file

Run 'exportd <command> -h' for its flags.`

// run is main without the process: tests call it with their own args,
// environment and output.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("no command\n%s", usage)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve", "gateway", "exporter":
		cfg, err := parseConfig(cmd, rest, getenv, stdout)
		if err != nil {
			return err
		}
		return serve(ctx, cfg, stdout)
	case "seed":
		return seed(ctx, rest, getenv, stdout)
	case "load":
		return load(ctx, rest, getenv, stdout)
	case "get":
		return get(ctx, rest, getenv, stdout, os.Stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}
