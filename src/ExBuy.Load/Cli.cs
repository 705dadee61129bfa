using Spectre.Console;
using Spectre.Console.Cli;

namespace ExBuy.Load;

public static class Cli
{
    /// <summary>`exbuy-load run ...`; an unknown option or a parse error exits 2 like a bad value.</summary>
    public static CommandApp Create()
    {
        var app = new CommandApp();
        app.Configure(c =>
        {
            c.SetApplicationName("exbuy-load");
            c.UseStrictParsing();
            c.AddCommand<RunCommand>("run")
                .WithDescription("run a scenario of load/scenarios.json against an ExBuy contract server (closed model: --vus; open model: --rate)")
                .WithExample("run", "--scenario", "mixed", "--base-url", "http://127.0.0.1:8000", "--duration", "60s")
                .WithExample("run", "--scenario", "read-only", "--rate", "500", "--max-vus", "200", "--threshold", "p95<200ms")
                .WithExample("run", "--scenario", "mixed", "--duration", "60s", "--faults", "load/faults/timeline.json")
                .WithExample("run", "--scenario", "mixed", "--vus", "64", "--seed", "7", "--shard", "1/2", "--start-at", "2026-01-01T12:00:00Z");
            c.AddCommand<CompareServersCommand>("compare-servers")
                .WithDescription("start two or more ExBuy server variants (environment per variant) on 8000, 8001, … against the same database, drive the same scenario at each in alternation, record every run and print the comparison")
                .WithExample("compare-servers", "A=SERVER_MODE=async", "B=SERVER_MODE=sync THREADS=8", "--scenario", "mixed", "--duration", "30s")
                .WithExample("compare-servers", "jit=", "r2r=", "--server", "dotnet publish/ExBuy.Api.dll", "--rounds", "2");
            c.AddCommand<CalibrateCommand>("calibrate")
                .WithDescription("measure this runner's own ceiling: a closed loop of GET /api/health on N connections; max req/s and CPU per request saved to <out>/calibration.json, which `run` reads to warn about an open-model --rate above 80 % of it")
                .WithExample("calibrate", "--base-url", "http://127.0.0.1:8000", "--duration", "5s", "--connections", "32");
            c.AddCommand<CompareCommand>("compare")
                .WithDescription("compare result files side by side per operation (count, rps, p50/p95/p99/max, error rate, deltas vs the first) with each run's server variant")
                .WithExample("compare", "results/mixed-20260101T120000Z.json", "results/mixed-20260101T130000Z.json")
                .WithExample("compare", "A.json", "B.json", "--format", "markdown");
            c.AddCommand<HistoryCommand>("history")
                .WithDescription("list the runs recorded in <results>/history.jsonl, oldest first (time, run id, scenario, model, target, verdict, file, rps, p95, errors); --ids prints only the run ids, for compare")
                .WithExample("history", "--last", "10")
                .WithExample("history", "--last", "2", "--ids");
            c.AddCommand<MergeCommand>("merge")
                .WithDescription("merge the results of runner processes or machines that ran at the same time into one exbuy-load/1 result (histograms added exactly); the n results of run --shard i/n give one run with the correctness verdict of their added ledgers")
                .WithExample("merge", "results/a.json", "results/b.json", "--out", "results/merged.json")
                .WithExample("merge", "results/mixed-20260101T115950Z-shard1of2.json", "results/mixed-20260101T115951Z-shard2of2.json", "--base-url", "http://127.0.0.1:8000");
            c.AddCommand<HtmlReport.ReportCommand>("report")
                .WithDescription("one self-contained HTML page (uPlot inlined, no network) of one or more result files: RPS, p50/p95/p99 and errors over time (runs overlaid), per-operation latency distribution, server metrics, correctness")
                .WithExample("report", "results/mixed-20260101T120000Z.json", "results/mixed-20260101T130000Z.json", "--out", "results/report.html");
            c.SetExceptionHandler((e, _) =>
            {
                Console.Error.WriteLine($"exbuy-load: {e.Message}");
                return 2;
            });
        });
        return app;
    }
}
