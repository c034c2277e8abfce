// Package exportercmd is pgprobe exporter: package exporter wired to the
// command line. No probing or metrics logic lives here.
package exportercmd

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
	"github.com/urfave/cli/v2"

	"github.com/pgprobe/pgprobe/exporter"
	"github.com/pgprobe/pgprobe/internal/cmd/cmdenv"
	"github.com/pgprobe/pgprobe/statelog"
)

func flags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "config", Usage: "the modules and allowed_targets, YAML `FILE` (default: one module, default, that pings with libpq's defaults)"},
		&cli.StringFlag{Name: "web.listen-address", Value: exporter.DefaultListenAddress, Usage: "`ADDRESS` to serve /probe and /metrics on (port 0 picks a free one)"},
		&cli.StringFlag{Name: "web.config.file", Usage: "exporter-toolkit's web configuration `FILE`: TLS and basic authentication for the exporter's own endpoints"},
		&cli.IntFlag{Name: "max-concurrent-probes", Value: exporter.DefaultMaxConcurrent, Usage: "probe at most `N` targets at once; other scrapes wait until their deadline"},
		&cli.StringFlag{Name: "timeout-offset", Value: exporter.DefaultTimeoutOffset.String(), Usage: "`DURATION` subtracted from Prometheus' scrape timeout to make the probe's deadline"},
		&cli.BoolFlag{Name: "config.check", Usage: "check the configuration file and exit: 0 when valid, 3 otherwise"},
	}
}

// Command is pgprobe exporter.
func Command(e *cmdenv.Env) *cli.Command {
	return &cli.Command{
		Name:  "exporter",
		Usage: "a Prometheus exporter: GET /probe?target=…&module=… (blackbox_exporter's conventions)",
		Description: "Serves GET /probe?target=TARGET&module=NAME, with &debug=true for a readable page (one probe, answered as metrics: probe_success, " +
			"probe_duration_seconds, probe_postgres_*, probe_ssl_* and probe_tls_*), /metrics (the exporter's own), /-/healthy, " +
			"and POST /-/reload (SIGHUP too). TARGET is host, host:port, [v6addr]:port, or a connection string or URI " +
			"without a password. Probes read no PG* variable and no file of the exporter's home directory: settings and " +
			"passwords come from the module. The probe's deadline is X-Prometheus-Scrape-Timeout-Seconds less " +
			"--timeout-offset (120 s without the header), or the module's timeout when smaller. " +
			"Exit status: 0 when stopped (SIGINT, SIGTERM), 2 when it cannot listen, 3 for bad flags or configuration.",
		Flags:  flags(),
		Action: func(c *cli.Context) error { return action(c, e) },
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return cmdenv.UsageErr("%s\nTry \"pgprobe %s --help\" for more information.", err, c.Command.Name)
		},
	}
}

func action(c *cli.Context, e *cmdenv.Env) error {
	if c.NArg() > 0 {
		return cmdenv.UsageErr("exporter takes no arguments: targets come with each request (/probe?target=…)")
	}
	offset, err := time.ParseDuration(c.String("timeout-offset"))
	if err != nil || offset < 0 {
		return cmdenv.UsageErr("invalid --timeout-offset %q: give a duration such as 500ms", c.String("timeout-offset"))
	}
	logger := slog.New(slog.NewTextHandler(e.Stderr, nil))
	x, err := exporter.New(exporter.Options{ConfigFile: c.String("config"), MaxConcurrent: c.Int("max-concurrent-probes"),
		TimeoutOffset: offset, Logger: logger, Version: c.App.Version})
	if err != nil {
		return cmdenv.UsageErr("%s", err)
	}
	if c.Bool("config.check") {
		fmt.Fprintf(e.Stdout, "the configuration is valid: %d modules\n", len(x.Config().Modules))
		return nil
	}
	webConfig := c.String("web.config.file")
	if webConfig != "" {
		if err := web.Validate(webConfig); err != nil {
			return cmdenv.UsageErr("invalid --web.config.file: %s", err)
		}
	}
	ln, err := net.Listen("tcp", c.String("web.listen-address"))
	if err != nil {
		return &cmdenv.ExitError{Code: statelog.ExitNoAnswer, Msg: "cannot listen: " + err.Error()}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{})
	go func() {
		for {
			select {
			case <-hup:
				select {
				case reload <- struct{}{}:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	srv := &http.Server{Handler: x.Handler(), ReadHeaderTimeout: 10 * time.Second}
	flags := &web.FlagConfig{WebConfigFile: &webConfig}
	err = x.Serve(ctx, srv, reload, func() error { return web.Serve(ln, srv, flags, logger) })
	if err != nil {
		return &cmdenv.ExitError{Code: statelog.ExitNoAnswer, Msg: err.Error()}
	}
	return nil
}
