using System.Text.Json.Nodes;
using HdrHistogram;

namespace ExBuy.Load.Tests;

/// <summary>`compare` and `merge` on result files written by the runner's own writer (Report.BuildResult/WriteAsync) from known values.</summary>
public class CompareMergeTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 2, 12, 0, 0, 300, TimeSpan.Zero);
    private static readonly double[] Percentiles = [0, 1, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.99, 100];

    /// <summary>What a synthesized run recorded, to check the merge against.</summary>
    private sealed class Recorded
    {
        public readonly Dictionary<string, LongHistogram> Latency = [];
        public readonly Dictionary<string, LongHistogram> Ttfb = [];
        public readonly Dictionary<string, LongHistogram> Server = [];
        public readonly LongHistogram All = Hdr.New();
        public string File = "";
        public JsonObject Json = [];

        public void Add(Dictionary<string, LongHistogram> map, string key, long value)
        {
            if (!map.TryGetValue(key, out var h)) map[key] = h = Hdr.New();
            h.RecordValue(value);
        }
    }

    /// <summary>
    /// A result written by Report.BuildResult/WriteAsync: <paramref name="requests"/> per operation of <paramref name="scenario"/> (FakeServer's
    /// scenarios file), latencies drawn from <paramref name="seed"/> × <paramref name="scale"/>, every 7th create_order a 409 and every 50th a 500,
    /// two seconds of series; the returned Recorded holds the same values.
    /// </summary>
    private static async Task<Recorded> Synthesize(string dir, string scenario, int seed, double scale, int requests, JsonObject? info,
        bool violation = false, string baseUrl = "http://127.0.0.1:9999", int secondsOffset = 0)
    {
        var rec = new Recorded();
        var options = Options.Validate(new RunSettings
        {
            Scenario = scenario, BaseUrl = baseUrl, Vus = "10", Duration = "2s", Seed = seed.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ScenariosFile = FakeServer.WriteScenarios(dir), Out = Path.Combine(dir, "results"),
        }, dir, _ => null);
        var data = new TargetData { Info = info, ProductCount = 20, Products = Enumerable.Range(1, 20).Select(i => (long)i).ToArray() };
        using var http = new HttpClient();
        var workload = new Workload(http, options.File, options.Scenario, data, options.LockType, options.Timeout);
        var sink = new MetricsSink(workload.NewStats());
        var random = new Random(seed);
        for (var second = 1; second <= 2; second++)
        {
            foreach (var op in sink.Ops.Values)
                for (var i = 0; i < requests / 2; i++)
                {
                    // Mostly 0.2–50 ms, one 1.5 s outlier per second and operation, rare others (0.1 %) up to 1 s.
                    var latency = (long)((200 + random.Next(50_000) + (i == 0 ? 1_500_000 : random.Next(1000) == 0 ? random.Next(1_000_000) : 0)) * scale);
                    var ttfb = latency * 9 / 10;
                    var server = i % 3 == 0 ? -1 : latency / 4;
                    var status = op.Operation == "create_order" ? (i % 50 == 0 ? 500 : i % 7 == 0 ? 409 : 201) : 200;
                    op.Record(status, latency, ttfb, server);
                    rec.Add(rec.Latency, op.Key, latency);
                    rec.Add(rec.Ttfb, op.Key, ttfb);
                    if (server >= 0) rec.Add(rec.Server, op.Key, server);
                    rec.All.RecordValue(latency);
                }
            sink.Harvest(second + 0.001, 1, 10);
        }
        var summary = new RunSummary(sink, 2.0);
        var correctness = violation
            ? new CorrectnessReport(true, false, 20, 19, 0, [new ProductCheck(3, 100, 99, 0, 0, 0, 0, "violation", "start − ordered − reserved + cancelled = 100 ≠ end 99")], [], [], "test")
            : scenario == "writes" ? new CorrectnessReport(true, true, 20, 20, 0, [], [], [], "test") : CorrectnessReport.NotChecked("the scenario does not write");
        var startedAt = T0.AddSeconds(secondsOffset);
        var json = Report.BuildResult(options, data, workload, sink, summary, correctness, [], null, startedAt, startedAt.AddSeconds(5), 2.0,
            violation ? "violation" : "pass", violation ? 1 : 0, "0123456789abcdef");
        var (file, _) = await Report.WriteAsync(options, json, summary);
        rec.File = file;
        rec.Json = json;
        return rec;
    }

    private static JsonObject ExBuyInfo(string engine, bool serverGc) => new()
    {
        ["version"] = "1.0.0", ["commit"] = "c0ffee1", ["runtime"] = ".NET 10.0.0", ["db_engine"] = engine, ["server_mode"] = "kestrel",
        ["workers"] = 1, ["gc"] = new JsonObject { ["server"] = serverGc, ["concurrent"] = true, ["dynamic_adaptation"] = 1 },
    };

    private static async Task<(int Exit, string Out, string Err)> Merge(string dir, params string[] args)
    {
        var settings = new MergeSettings { Files = args.TakeWhile(a => !a.StartsWith("--", StringComparison.Ordinal)).ToArray() };
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--out") settings.Out = args[i + 1];
            if (args[i] == "--force") settings.Force = true;
        }
        settings.Results = Path.Combine(dir, "results");
        var (o, e) = (new StringWriter(), new StringWriter());
        var exit = await MergeCommand.RunAsync(settings, o, e, dir);
        return (exit, o.ToString(), e.ToString());
    }

    private static (int Exit, string Out, string Err) Compare(string dir, string format, params string[] files)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        var exit = CompareCommand.Run(new CompareSettings { Files = files, Format = format, Results = Path.Combine(dir, "results") }, o, e, dir, redirected: true);
        return (exit, o.ToString(), e.ToString());
    }

    /// <summary>Two histograms agree exactly: count, every percentile, max and mean (also used by the shard merge tests).</summary>
    internal static void AssertSame(HistogramBase expected, HistogramBase actual, string what)
    {
        Assert.True(expected.TotalCount == actual.TotalCount, $"{what}: count {actual.TotalCount}, expected {expected.TotalCount}");
        foreach (var p in Percentiles)
            Assert.True(expected.GetValueAtPercentile(p) == actual.GetValueAtPercentile(p),
                $"{what}: p{p} {actual.GetValueAtPercentile(p)}, expected {expected.GetValueAtPercentile(p)}");
        Assert.Equal(expected.GetMaxValue(), actual.GetMaxValue());
        Assert.Equal(expected.GetMean(), actual.GetMean(), 9);
    }

    [Fact]
    public async Task A_merge_equals_one_histogram_holding_every_value_and_sums_counts_and_statuses()
    {
        var dir = TestSupport.TempDir("exload-merge");
        var a = await Synthesize(dir, "writes", 1, 1.0, 2000, ExBuyInfo("postgres", true));
        var b = await Synthesize(dir, "writes", 2, 1.7, 1200, ExBuyInfo("postgres", true), violation: true);
        var outFile = Path.Combine(dir, "merged.json");
        var (exit, output, err) = await Merge(dir, a.File, b.File, "--out", outFile);
        Assert.True(exit == 0, output + err);
        Assert.Contains("per-second percentiles are not merged", output);

        var merged = ResultFile.Load(outFile);
        var ra = ResultFile.Load(a.File);
        var rb = ResultFile.Load(b.File);
        Assert.Equal(["create_order", "detail[optimize=true]", "reserve"], merged.Operations.Keys);
        foreach (var (key, op) in merged.Operations)
        {
            // One histogram holding both sets of values.
            var both = a.Latency[key].Copy();
            both.Add(b.Latency[key]);
            AssertSame(both, op.Latency, key + " latency");
            var ttfb = a.Ttfb[key].Copy();
            ttfb.Add(b.Ttfb[key]);
            AssertSame(ttfb, op.Ttfb, key + " ttfb");
            var server = a.Server[key].Copy();
            server.Add(b.Server[key]);
            AssertSame(server, op.Server, key + " server");
            // Counts, errors and statuses are sums; the summary numbers are the merged histogram's.
            Assert.Equal(ra.Operations[key].Count + rb.Operations[key].Count, op.Count);
            Assert.Equal(both.TotalCount, op.Count);
            Assert.Equal(ra.Operations[key].Errors + rb.Operations[key].Errors, op.Errors);
            foreach (var s in ra.Operations[key].Statuses.Keys.Union(rb.Operations[key].Statuses.Keys))
                Assert.Equal(ra.Operations[key].Statuses.GetValueOrDefault(s) + rb.Operations[key].Statuses.GetValueOrDefault(s), op.Statuses[s]);
            Assert.Equal(Math.Round(both.GetValueAtPercentile(99) / 1000.0, 3), op.Json["latency_ms"]!["p99"]!.GetValue<double>());
            Assert.Equal(Math.Round(ra.Operations[key].Rps + rb.Operations[key].Rps, 3), op.Rps, 6);
        }
        Assert.Equal(3, merged.Operations["create_order"].Statuses.Count); // 201, 409, 500
        Assert.True(merged.Operations["create_order"].Errors > 0);
        var all = a.All.Copy();
        all.Add(b.All);
        AssertSame(all, merged.Totals.Latency, "totals");
        Assert.Equal(ra.Totals.Count + rb.Totals.Count, merged.Totals.Count);
        Assert.Equal(ra.Totals.Errors + rb.Totals.Errors, merged.Totals.Errors);

        // Series aligned by wall-clock second: both runs' two seconds fall on the same seconds and are summed.
        Assert.Equal(2, merged.Series.Count);
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(ra.Series[i].Count + rb.Series[i].Count, merged.Series[i].Count);
            Assert.Equal(ra.Series[i].Errors + rb.Series[i].Errors, merged.Series[i].Errors);
            Assert.Null(merged.Series[i].P95);
        }
        Assert.Contains("not merged", merged.Json["series_note"]!.GetValue<string>());

        // Verdicts: OK only if all OK; the ledger note; config lists the parts; merged_from.
        Assert.Equal("violation", merged.Verdict);
        Assert.Equal("VIOLATION", merged.CorrectnessVerdict);
        Assert.Contains("owned its products", merged.Correctness!["note"]!.GetValue<string>());
        Assert.Equal(rb.RunId, merged.Correctness["violations"]![0]!["part"]!.GetValue<string>());
        Assert.Equal([ra.RunId, rb.RunId], merged.MergedFrom);
        Assert.Equal(2, merged.Config["parts"]!.AsArray().Count);
        Assert.Equal(20, merged.Config["vus"]!.GetValue<long>());
        Assert.Equal("postgres", merged.Variant.DbEngine);

        // Appended to history.jsonl with merged_from, and usable by run id.
        var line = JsonNode.Parse(File.ReadAllLines(Path.Combine(dir, "results", "history.jsonl")).Last(l => l.Length > 0))!;
        Assert.Equal(merged.RunId, line["run_id"]!.GetValue<string>());
        Assert.Equal([ra.RunId, rb.RunId], line["merged_from"]!.AsArray().Select(n => n!.GetValue<string>()));
        var (cexit, cout, cerr) = Compare(dir, "markdown", ra.RunId, merged.RunId);
        Assert.True(cexit == 0, cerr);
        Assert.Contains("| merged from | - | " + ra.RunId + " " + rb.RunId + " |", cout);

        // A merged file next to one of its own parts would count it twice: refused.
        var again = await Merge(dir, outFile, a.File, "--out", Path.Combine(dir, "double.json"));
        Assert.Equal(2, again.Exit);
        Assert.Contains($"run {ra.RunId} is in", again.Err);

        // A merged file merges again, still exactly.
        var c = await Synthesize(dir, "writes", 3, 0.5, 400, ExBuyInfo("postgres", true));
        var twice = Path.Combine(dir, "merged2.json");
        Assert.Equal(0, (await Merge(dir, outFile, c.File, "--out", twice)).Exit);
        all.Add(c.All);
        AssertSame(all, ResultFile.Load(twice).Totals.Latency, "merged twice");
    }

    [Fact]
    public async Task Merging_different_scenarios_or_targets_or_one_run_twice_is_refused_unless_forced()
    {
        var dir = TestSupport.TempDir("exload-refuse");
        var writes = await Synthesize(dir, "writes", 1, 1, 200, null);
        var reads = await Synthesize(dir, "reads", 2, 1, 200, null, secondsOffset: 1);
        var elsewhere = await Synthesize(dir, "writes", 3, 1, 200, null, baseUrl: "http://10.0.0.2:8000", secondsOffset: 2);
        var history = Path.Combine(dir, "results", "history.jsonl");
        var lines = File.ReadAllLines(history).Length;

        var (exit, _, err) = await Merge(dir, writes.File, reads.File, "--out", Path.Combine(dir, "m1.json"));
        Assert.Equal(2, exit);
        Assert.Contains("different scenarios", err);
        Assert.Contains("--force", err);
        Assert.False(File.Exists(Path.Combine(dir, "m1.json")));

        (exit, _, err) = await Merge(dir, writes.File, elsewhere.File, "--out", Path.Combine(dir, "m2.json"));
        Assert.Equal(2, exit);
        Assert.Contains("different targets", err);

        (exit, _, err) = await Merge(dir, writes.File, writes.File, "--out", Path.Combine(dir, "m3.json"));
        Assert.Equal(2, exit);
        Assert.Contains("counted twice", err);
        Assert.Equal(lines, File.ReadAllLines(history).Length);

        (exit, _, err) = await Merge(dir, writes.File, reads.File, "--out", Path.Combine(dir, "m4.json"), "--force");
        Assert.Equal(0, exit);
        Assert.Contains("different scenarios", err);
        var forced = ResultFile.Load(Path.Combine(dir, "m4.json"));
        Assert.NotNull(forced.Config["forced"]);
        Assert.Equal(writes.All.TotalCount + reads.All.TotalCount, forced.Totals.Latency.TotalCount);
    }

    [Fact]
    public async Task Compare_prints_every_runs_variant_and_deltas_with_the_right_sign()
    {
        var dir = TestSupport.TempDir("exload-compare");
        var a = await Synthesize(dir, "writes", 1, 1.0, 2000, ExBuyInfo("postgres", true));
        var slower = await Synthesize(dir, "writes", 1, 2.0, 1000, ExBuyInfo("sqlite", false), secondsOffset: 1);   // same draws, twice the latency, half the count
        var django = await Synthesize(dir, "writes", 1, 0.5, 4000, new JsonObject { ["version"] = "django" }, secondsOffset: 2);
        var (exit, output, err) = Compare(dir, "markdown", a.File, slower.File, django.File);
        Assert.True(exit == 0, err);
        Assert.Contains("|  | A | B | C |", output);
        Assert.Contains("| db_engine | postgres | sqlite | unknown |", output);
        Assert.Contains("| server_mode | kestrel | kestrel | unknown |", output);
        Assert.Contains("| workers | 1 | 1 | unknown |", output);
        Assert.Contains("| gc | server=true concurrent=true | server=false concurrent=true | unknown |", output);
        Assert.Contains("| runtime | .NET 10.0.0 | .NET 10.0.0 | unknown |", output);
        Assert.Contains("| commit | c0ffee1 | c0ffee1 | unknown |", output);
        Assert.Contains("| correctness | OK | OK | OK |", output);
        Assert.Contains("| model | closed, 10 VUs | closed, 10 VUs | closed, 10 VUs |", output);
        Assert.Contains("| target | http://127.0.0.1:9999 |", output);

        string[] Row(string op, string run)
        {
            var lines = output.Split('\n').Where(l => l.StartsWith('|')).Select(l => l.Trim('|').Split(" | ").Select(c => c.Trim()).ToArray()).ToList();
            var start = lines.FindIndex(c => c.Length == 15 && c[0] == op);
            return lines.Skip(start).First(c => c.Length == 15 && c[1] == run);
        }
        // columns: operation, run, count, rps, p50, p95, p99, max, err %, Δ rps, Δ p50, Δ p95, Δ p99, Δ max, Δ err
        foreach (var op in new[] { "all", "detail[optimize=true]", "create_order" })
        {
            var b = Row(op, "B");
            Assert.Equal("-50.0%", b[9]);                     // half the requests in the same time: fewer rps
            for (var i = 10; i <= 13; i++) Assert.StartsWith("+", b[i]); // twice the latency: + is slower
            Assert.InRange(double.Parse(b[11].TrimStart('+').TrimEnd('%'), System.Globalization.CultureInfo.InvariantCulture), 90, 110); // sampling noise
            var c = Row(op, "C");
            Assert.Equal("+100.0%", c[9]);
            for (var i = 10; i <= 13; i++) Assert.StartsWith("-", c[i]); // half the latency: faster
            Assert.Equal("", Row(op, "A")[9]);
        }
        // The percentiles are the histogram's, not the stored (rounded) numbers.
        var p99 = a.Latency["create_order"].GetValueAtPercentile(99) / 1000.0;
        Assert.Equal(p99.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture), Row("create_order", "A")[6]);

        // The table format carries the same header block.
        (exit, output, _) = Compare(dir, "table", a.File, slower.File);
        Assert.Equal(0, exit);
        Assert.Contains("sqlite", output);
        Assert.Contains("postgres", output);
        Assert.Contains("-50.0%", output);
    }

    [Fact]
    public async Task Compare_lists_the_fault_windows_and_merge_accepts_results_that_have_them()
    {
        var dir = TestSupport.TempDir("exload-compare-faults");
        var a = await Synthesize(dir, "writes", 1, 1.0, 200, ExBuyInfo("sqlite", false));
        var b = await Synthesize(dir, "writes", 2, 1.0, 200, ExBuyInfo("sqlite", false), secondsOffset: 1);
        var json = JsonNode.Parse(File.ReadAllText(b.File))!.AsObject();
        json["faults"] = new JsonArray(
            new JsonObject { ["start_s"] = 0, ["end_s"] = 1, ["label"] = "baseline", ["rules"] = new JsonArray(), ["applied_at"] = "2026-01-02T12:00:01.000Z", ["error"] = null,
                ["stats"] = new JsonObject { ["requests"] = 100, ["errors"] = 0, ["error_rate"] = 0, ["rps"] = 100, ["p50_ms"] = 1.5, ["p99_ms"] = 9, ["faulted"] = 0 } },
            new JsonObject { ["start_s"] = 1, ["end_s"] = 2, ["label"] = "failing orders", ["applied_at"] = "2026-01-02T12:00:02.000Z", ["error"] = null,
                ["rules"] = new JsonArray(new JsonObject { ["route"] = "/api/orders*", ["error_status"] = 503, ["percent"] = 20 }),
                ["stats"] = new JsonObject { ["requests"] = 100, ["errors"] = 20, ["error_rate"] = 0.2, ["rps"] = 100, ["p50_ms"] = 1.25, ["p99_ms"] = 8, ["faulted"] = 20 } });
        json["fault_timeline"] = new JsonObject { ["file"] = "load/faults/failing-orders.json", ["source"] = "steps", ["steps"] = 2 };
        File.WriteAllText(b.File, json.ToJsonString());

        var (exit, output, err) = Compare(dir, "markdown", a.File, b.File);
        Assert.True(exit == 0, err);
        Assert.Contains("| run | fault window | from–to s | rules | requests | rps | p50 | p99 | err % | faulted |", output);
        Assert.Contains("| B | baseline | 0–1 | no faults | 100 | 100.0 | 1.50 | 9.00 | 0.00 | 0 |", output);
        Assert.Contains("| B | failing orders | 1–2 | error 503 at 20% on /api/orders* | 100 | 100.0 | 1.25 | 8.00 | 20.00 | 20 |", output);
        var (plainExit, plain, _) = Compare(dir, "markdown", a.File, a.File);
        Assert.Equal(0, plainExit);
        Assert.DoesNotContain("fault window", plain);

        var merged = Path.Combine(dir, "merged.json");
        var (mergeExit, _, mergeErr) = await Merge(dir, a.File, b.File, "--out", merged);
        Assert.True(mergeExit == 0, mergeErr);
        Assert.Equal(ResultFile.Load(a.File).Totals.Count + ResultFile.Load(b.File).Totals.Count, ResultFile.Load(merged).Totals.Count);
    }

    [Fact]
    public async Task Bad_files_give_a_clear_error_naming_the_file_and_exit_2()
    {
        var dir = TestSupport.TempDir("exload-bad");
        var good = await Synthesize(dir, "reads", 1, 1, 100, null);
        var missing = Path.Combine(dir, "nope.json");
        var notJson = Path.Combine(dir, "garbage.json");
        File.WriteAllText(notJson, "this is not { json");
        var otherSchema = Path.Combine(dir, "k6-summary.json");
        File.WriteAllText(otherSchema, """{ "schema": "k6/1", "metrics": {} }""");
        var noSchema = Path.Combine(dir, "plain.json");
        File.WriteAllText(noSchema, """{ "metrics": {} }""");
        var broken = Path.Combine(dir, "broken.json");
        var json = (JsonObject)good.Json.DeepClone();
        json["operations"]!["detail[optimize=true]"]!["histograms"]!["latency"] = "bm90IGEgaGlzdG9ncmFt";
        File.WriteAllText(broken, json.ToJsonString());

        foreach (var (file, expected) in new[]
                 {
                     (missing, "no such file"), (notJson, "not JSON"), (otherSchema, "schema is \"k6/1\""), (noSchema, "no \"schema\" field"),
                     (broken, "undecodable histogram"),
                 })
        {
            var (exit, _, err) = Compare(dir, "markdown", good.File, file);
            Assert.Equal(2, exit);
            Assert.Contains(file, err);
            Assert.Contains(expected, err);
            var merge = await Merge(dir, file, good.File, "--out", Path.Combine(dir, "m.json"));
            Assert.Equal(2, merge.Exit);
            Assert.Contains(file, merge.Err);
        }
        Assert.Equal(2, Compare(dir, "html", good.File, good.File).Exit);
        Assert.Equal(2, Compare(dir, "markdown", good.File).Exit);
        Assert.Throws<ResultFileException>(() => ResultFile.Load(otherSchema));

        // Through the command line too.
        Assert.Equal(2, await Cli.Create().RunAsync(["compare", good.File, otherSchema, "--format", "markdown"], TestContext.Current.CancellationToken));
        Assert.Equal(2, await Cli.Create().RunAsync(["merge", good.File, notJson, "--out", Path.Combine(dir, "m.json")], TestContext.Current.CancellationToken));
    }
}
