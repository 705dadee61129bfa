using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using HdrHistogram;
using Spectre.Console;

namespace ExBuy.Load;

/// <summary>The measured phase's numbers per operation key and in total; what thresholds are evaluated on.</summary>
public sealed class RunSummary(MetricsSink sink, double seconds) : IThresholdSource
{
    public MetricsSink Sink { get; } = sink;
    public double Seconds { get; } = seconds;
    public long Count => Sink.TotalCount;
    public long Errors => Sink.TotalErrors;
    public double Rps => Count / Math.Max(Seconds, 1e-9);

    public IEnumerable<OpStats> Select(string? operation) =>
        operation is null ? Sink.Ops.Values : Sink.Ops.Values.Where(o => o.Key == operation || o.Operation == operation);

    public LongHistogram Latency(string? operation)
    {
        if (operation is null) return Sink.AllTotal;
        var h = Hdr.New();
        foreach (var o in Select(operation)) h.Add(o.LatencyTotal);
        return h;
    }

    public double? Latency(string? operation, ThresholdMetric metric, double percentile)
    {
        var h = Latency(operation);
        if (h.TotalCount == 0) return null;
        return metric switch
        {
            ThresholdMetric.Max => h.GetMaxValue() / 1000.0,
            ThresholdMetric.Min => MinMs(h),
            ThresholdMetric.Avg => h.GetMean() / 1000.0,
            _ => h.GetValueAtPercentile(percentile) / 1000.0,
        };
    }

    private static double MinMs(HistogramBase h)
    {
        foreach (var v in h.RecordedValues()) return h.LowestEquivalentValue(v.ValueIteratedTo) / 1000.0;
        return 0;
    }

    public double ErrorRate(string? operation)
    {
        long count = 0, errors = 0;
        foreach (var o in Select(operation)) { count += o.Count; errors += o.Errors; }
        return count == 0 ? 0 : (double)errors / count;
    }

    /// <summary>Requests/s of one operation (all operations when null); <see cref="Rps"/> is the run's total.</summary>
    public double OperationRps(string? operation) => OperationCount(operation) / Math.Max(Seconds, 1e-9);
    double IThresholdSource.Rps(string? operation) => OperationRps(operation);
    public long OperationCount(string? operation) => Select(operation).Sum(o => o.Count);
    long IThresholdSource.Count(string? operation) => OperationCount(operation);
}

public static class Report
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private static string Ms(HistogramBase h, double p) => h.TotalCount == 0 ? "-" : (h.GetValueAtPercentile(p) / 1000.0).ToString("0.00", Inv);

    public static string ErrorsByStatus(OpStats o)
    {
        var parts = new List<string>();
        for (var s = 0; s < o.Statuses.Length; s++)
        {
            var n = Interlocked.Read(ref o.Statuses[s]);
            if (n > 0 && o.IsError(s)) parts.Add(s == 0 ? $"transport×{n}" : $"{s}×{n}");
        }
        return parts.Count == 0 ? "0" : string.Join(" ", parts);
    }

    public static void PrintTable(IAnsiConsole console, bool plain, RunSummary summary, RunOptions o)
    {
        var table = new Table().Title($"{Markup.Escape(o.Scenario.Name)}: {summary.Count} requests in {summary.Seconds.ToString("0.0", Inv)} s");
        if (plain) table.Border(TableBorder.Ascii);
        table.AddColumn("operation");
        foreach (var c in new[] { "count", "rps", "p50", "p90", "p95", "p99", "p99.9", "max (ms)" }) table.AddColumn(new TableColumn(c).RightAligned());
        table.AddColumn("errors by status");
        table.AddColumn(new TableColumn("server share").RightAligned());
        foreach (var op in summary.Sink.Ops.Values.OrderBy(x => x.Key, StringComparer.Ordinal))
        {
            var h = op.LatencyTotal;
            table.AddRow(Markup.Escape(op.Key), op.Count.ToString(Inv), (op.Count / Math.Max(summary.Seconds, 1e-9)).ToString("0.0", Inv),
                Ms(h, 50), Ms(h, 90), Ms(h, 95), Ms(h, 99), Ms(h, 99.9), h.TotalCount == 0 ? "-" : (h.GetMaxValue() / 1000.0).ToString("0.00", Inv),
                Markup.Escape(ErrorsByStatus(op)), op.ServerShare is double s ? s.ToString("0%", Inv) : "-");
        }
        var all = summary.Sink.AllTotal;
        long srv = summary.Sink.Ops.Values.Sum(x => x.ServerSumMicros), lat = summary.Sink.Ops.Values.Sum(x => x.LatencySumWithServerMicros);
        table.AddRow("[bold]all[/]", summary.Count.ToString(Inv), summary.Rps.ToString("0.0", Inv), Ms(all, 50), Ms(all, 90), Ms(all, 95), Ms(all, 99), Ms(all, 99.9),
            all.TotalCount == 0 ? "-" : (all.GetMaxValue() / 1000.0).ToString("0.00", Inv), summary.Errors.ToString(Inv), lat > 0 ? ((double)srv / lat).ToString("0%", Inv) : "-");
        console.Write(table);
        if (plain) console.Profile.Out.Writer.WriteLine("server share = Σ Server-Timing app dur ÷ Σ client latency, over the responses that carried it");
        else console.MarkupLine("[grey]server share = Σ Server-Timing app dur ÷ Σ client latency, over the responses that carried it[/]");
    }

    public static void PrintCorrectness(IAnsiConsole console, bool plain, CorrectnessReport c)
    {
        void Line(string markup, string text) { if (plain) console.Profile.Out.Writer.WriteLine(text); else console.MarkupLine(markup); }
        if (!c.Checked) { Line($"correctness: not checked ({Markup.Escape(c.Note)})", $"correctness: not checked ({c.Note})"); return; }
        var head = $"{c.Products} products, {c.Verified} verified, {c.Unverifiable} unverifiable (writes with unknown outcome)";
        if (c.Deferred) head = $"{c.Products} products: ledger and snapshots recorded for merge";
        if (c.Ok && c.Deferred) Line($"[blue]correctness: deferred to merge[/] ({Markup.Escape(head)})", $"correctness: deferred to merge ({head})");
        else if (c.Ok) Line($"[green]correctness: OK[/] ({head})", $"correctness: OK ({head})");
        else
        {
            var what = $"{c.Violations.Count} product(s) with stock that does not add up, {c.OtherViolations.Count} other";
            Line($"[red]correctness: VIOLATION[/] {what} ({head})", $"correctness: VIOLATION {what} ({head})");
            foreach (var v in c.Violations.Take(20)) Line($"  product {v.ProductId}: {Markup.Escape(v.Detail ?? "")}", $"  product {v.ProductId}: {v.Detail}");
            foreach (var v in c.OtherViolations.Take(20)) Line($"  {Markup.Escape(v)}", $"  {v}");
        }
        foreach (var u in c.UnverifiableProducts.Take(10)) Line($"  unverifiable: product {u.ProductId}: {Markup.Escape(u.Detail ?? "")}", $"  unverifiable: product {u.ProductId}: {u.Detail}");
        Line($"[grey]note: {Markup.Escape(c.Note)}[/]", $"note: {c.Note}");
    }

    public static void PrintThresholds(IAnsiConsole console, bool plain, IReadOnlyList<ThresholdResult> results)
    {
        foreach (var t in results)
        {
            var value = t.Value is double v ? v.ToString("0.####", Inv) : "nothing measured";
            var text = $"threshold {(t.Passed ? "ok     " : "CROSSED")} {t.Expression} (value {value}; {t.Source})";
            if (plain) console.Profile.Out.Writer.WriteLine(text);
            else console.MarkupLine(t.Passed ? $"[green]{Markup.Escape(text)}[/]" : $"[red]{Markup.Escape(text)}[/]");
        }
    }

    private static JsonObject LatencyJson(HistogramBase h) => new()
    {
        ["count"] = h.TotalCount,
        ["p50"] = R(Hdr.PercentileMs(h, 50)), ["p90"] = R(Hdr.PercentileMs(h, 90)), ["p95"] = R(Hdr.PercentileMs(h, 95)),
        ["p99"] = R(Hdr.PercentileMs(h, 99)), ["p99_9"] = R(Hdr.PercentileMs(h, 99.9)),
        ["max"] = h.TotalCount == 0 ? 0 : R(h.GetMaxValue() / 1000.0), ["mean"] = h.TotalCount == 0 ? 0 : R(h.GetMean() / 1000.0),
    };

    private static double R(double v) => Math.Round(v, 3);

    public static JsonObject BuildResult(RunOptions o, TargetData data, Workload workload, MetricsSink sink, RunSummary summary, CorrectnessReport c,
        IReadOnlyList<ThresholdResult> thresholds, OpenModelReport? open, DateTimeOffset startedAt, DateTimeOffset finishedAt, double seconds,
        string verdict, int exit, string? gitCommit)
    {
        var ops = new JsonObject();
        foreach (var op in sink.Ops.Values.OrderBy(x => x.Key, StringComparer.Ordinal))
        {
            var statuses = new JsonObject();
            for (var s = 0; s < op.Statuses.Length; s++)
                if (op.Statuses[s] > 0) statuses[s == 0 ? "transport" : s.ToString(Inv)] = op.Statuses[s];
            ops[op.Key] = new JsonObject
            {
                ["operation"] = op.Operation,
                ["optimize"] = op.Key == op.Operation ? null : op.Key.Contains("optimize=true", StringComparison.Ordinal),
                ["count"] = op.Count,
                ["rps"] = R(op.Count / Math.Max(seconds, 1e-9)),
                ["errors"] = op.Errors,
                ["error_rate"] = op.Count == 0 ? 0 : R((double)op.Errors / op.Count),
                ["expect"] = new JsonArray(op.Expect.Select(e => (JsonNode)e).ToArray()),
                ["statuses"] = statuses,
                ["latency_ms"] = LatencyJson(op.LatencyTotal),
                ["ttfb_ms"] = LatencyJson(op.TtfbTotal),
                ["server_ms"] = op.ServerTotal.TotalCount == 0 ? null : LatencyJson(op.ServerTotal),
                ["server_share"] = op.ServerShare is double sh ? R(sh) : null,
                ["histograms"] = new JsonObject
                {
                    ["latency"] = Hdr.Encode(op.LatencyTotal),
                    ["ttfb"] = Hdr.Encode(op.TtfbTotal),
                    ["server"] = Hdr.Encode(op.ServerTotal),
                },
            };
        }
        var series = new JsonArray();
        foreach (var p in sink.Series)
            series.Add(new JsonObject
            {
                ["t"] = p.T, ["vus"] = p.Vus, ["rps"] = R(p.Rps), ["p50"] = R(p.P50), ["p95"] = R(p.P95), ["p99"] = R(p.P99), ["errors"] = p.Errors, ["count"] = p.Count,
            });
        var correctness = new JsonObject
        {
            ["checked"] = c.Checked, ["ok"] = c.Ok, ["deferred"] = c.Deferred ? true : null,
            ["verdict"] = c.Deferred ? (c.Ok ? "deferred" : "VIOLATION") : null, ["products"] = c.Products, ["verified"] = c.Verified, ["unverifiable"] = c.Unverifiable,
            ["orders_placed"] = workload.Ledger.OrdersPlaced, ["unknown_writes"] = workload.Ledger.UnknownWrites,
            ["violations"] = new JsonArray(c.Violations.Select(ProductJson).ToArray()),
            ["unverifiable_products"] = new JsonArray(c.UnverifiableProducts.Take(200).Select(ProductJson).ToArray()),
            ["other_violations"] = new JsonArray(c.OtherViolations.Select(v => (JsonNode)v).ToArray()),
            ["note"] = c.Note,
        };
        var all = sink.AllTotal;
        return new JsonObject
        {
            ["schema"] = "exbuy-load/1",
            ["run_id"] = $"{o.Scenario.Name}-{startedAt.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", Inv)}-{o.Seed}{ShardSuffix(o)}",
            ["scenario"] = o.Scenario.Name,
            ["label"] = o.Label,
            ["description"] = o.Scenario.Description,
            ["started_at"] = startedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", Inv),
            ["finished_at"] = finishedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", Inv),
            ["config"] = new JsonObject
            {
                ["scenario"] = o.Scenario.Name,
                ["base_url"] = o.BaseUrl.ToString().TrimEnd('/'),
                ["model"] = o.OpenModel ? "open" : "closed",
                ["duration_s"] = o.Duration.TotalSeconds,
                ["vus"] = o.OpenModel ? null : o.Vus,
                ["rate"] = o.Rate,
                ["max_vus"] = o.OpenModel ? o.MaxVus : null,
                ["ramp_up_s"] = o.RampUp.TotalSeconds,
                ["ramp_down_s"] = o.RampDown.TotalSeconds,
                ["warmup_s"] = o.Warmup.TotalSeconds,
                ["seed"] = o.Seed,
                ["seed_given"] = o.SeedGiven,
                ["lock_type"] = o.LockType,
                ["optimize"] = o.Scenario.Optimize,
                ["timeout_s"] = o.Timeout.TotalSeconds,
                ["thresholds"] = new JsonArray(o.Thresholds.Select(t => (JsonNode)t.Text).ToArray()),
                ["scenarios_file"] = o.File.Path,
                ["out"] = o.OutDir,
                ["weights"] = new JsonObject(workload.EffectiveWeights.Select(w => new KeyValuePair<string, JsonNode?>(w.Key.Name, w.Value))),
            },
            ["target"] = new JsonObject { ["base_url"] = o.BaseUrl.ToString().TrimEnd('/'), ["info"] = data.Info?.DeepClone() },
            ["data"] = new JsonObject
            {
                ["products"] = data.ProductCount, ["product_pages"] = data.ProductPages, ["sampled_products"] = data.Products.Length, ["pages_sampled"] = data.PagesSampled,
                ["reviews"] = data.ReviewCount, ["review_pages"] = data.ReviewPages, ["orders_found"] = data.Orders.Length, ["order_probes"] = data.OrderProbes,
                ["max_order_id"] = data.MaxOrderId, ["hot_products"] = new JsonArray(data.HotProducts.Select(h => (JsonNode)h).ToArray()),
                ["skipped_operations"] = new JsonArray(workload.Skipped.Select(s => (JsonNode)s).ToArray()),
            },
            ["git_commit"] = gitCommit,
            ["runner"] = new JsonObject
            {
                ["name"] = "exbuy-load", ["runtime"] = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
                ["cores"] = Environment.ProcessorCount, ["histogram_unit"] = "us", ["histogram_encoding"] = "HdrHistogram V2 compressed, base64",
            },
            ["duration_s"] = R(seconds),
            ["totals"] = new JsonObject
            {
                ["count"] = summary.Count, ["rps"] = R(summary.Rps), ["errors"] = summary.Errors,
                ["error_rate"] = summary.Count == 0 ? 0 : R((double)summary.Errors / summary.Count),
                ["latency_ms"] = LatencyJson(all),
                ["histogram"] = Hdr.Encode(all),
            },
            ["open_model"] = open is null ? null : new JsonObject
            {
                ["rate"] = open.Rate, ["intended"] = open.Intended, ["started"] = open.Started, ["late"] = open.Late, ["dropped"] = open.Dropped,
                ["start_rate"] = R(open.StartRate), ["intended_rate"] = R(open.IntendedRate), ["fell_behind"] = open.FellBehind, ["latency_from"] = "intended start (coordinated omission corrected)",
            },
            ["series"] = series,
            ["operations"] = ops,
            ["correctness"] = correctness,
            ["thresholds"] = new JsonArray(thresholds.Select(t => (JsonNode)new JsonObject
            {
                ["source"] = t.Source, ["expression"] = t.Expression, ["value"] = t.Value is double v ? R(v) : null, ["passed"] = t.Passed,
            }).ToArray()),
            ["verdict"] = verdict,
            ["exit_code"] = exit,
        };
    }

    /// <summary>"-shard2of3" for shard 2 of 3 (run ids and file names of shards started in the same second stay apart), else "".</summary>
    public static string ShardSuffix(RunOptions o) => o.Shard is { } s ? $"-shard{s.Index}of{s.Count}" : "";

    private static JsonNode ProductJson(ProductCheck p) => new JsonObject
    {
        ["product_id"] = p.ProductId, ["start"] = p.Start, ["end"] = p.End, ["ordered"] = p.Ordered, ["reserved"] = p.Reserved,
        ["cancelled"] = p.Cancelled, ["unknown_writes"] = p.Unknown, ["state"] = p.State, ["detail"] = p.Detail,
    };

    /// <summary>Writes results/&lt;scenario&gt;-&lt;utc timestamp&gt;.json and appends a line to results/history.jsonl.</summary>
    public static async Task<(string File, string History)> WriteAsync(RunOptions o, JsonObject result, RunSummary summary)
    {
        Directory.CreateDirectory(o.OutDir);
        var started = DateTime.Parse(result["started_at"]!.GetValue<string>(), Inv, System.Globalization.DateTimeStyles.AdjustToUniversal | System.Globalization.DateTimeStyles.AssumeUniversal);
        var stamp = started.ToString("yyyyMMdd'T'HHmmss'Z'", Inv);
        var file = Path.Combine(o.OutDir, $"{o.Scenario.Name}-{stamp}{ShardSuffix(o)}.json");
        for (var n = 2; File.Exists(file); n++) file = Path.Combine(o.OutDir, $"{o.Scenario.Name}-{stamp}{ShardSuffix(o)}-{n}.json");
        await File.WriteAllTextAsync(file, result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        var line = new JsonObject
        {
            ["run_id"] = result["run_id"]?.DeepClone(),
            ["scenario"] = o.Scenario.Name,
            ["time"] = result["started_at"]?.DeepClone(),
            ["target"] = o.BaseUrl.ToString().TrimEnd('/'),
            ["model"] = o.OpenModel ? "open" : "closed",
            ["rps"] = R(summary.Rps),
            ["p95_ms"] = R(Hdr.PercentileMs(summary.Sink.AllTotal, 95)),
            ["errors"] = summary.Errors,
            ["verdict"] = result["verdict"]?.DeepClone(),
            ["file"] = Path.GetFileName(file),
        };
        var history = Path.Combine(o.OutDir, "history.jsonl");
        await File.AppendAllTextAsync(history, line.ToJsonString() + "\n");
        return (file, history);
    }
}
