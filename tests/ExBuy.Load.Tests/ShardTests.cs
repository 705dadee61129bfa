using System.Globalization;
using System.Text.Json.Nodes;
using HdrHistogram;

namespace ExBuy.Load.Tests;

/// <summary>`run --shard i/n --start-at T`: the split of the load, the common start, and `merge` of the shards into one exact run and verdict.</summary>
public class ShardOptionTests
{
    private static RunOptions Validate(RunSettings s)
    {
        if (s.Shard is not null) s.Seed ??= "7";
        return TestSupport.Options(s);
    }

    [Fact]
    public void Vus_are_split_evenly_with_the_first_shards_taking_the_remainder_and_numbered_across_shards()
    {
        var shards = Enumerable.Range(1, 3).Select(i => Validate(new RunSettings { Scenario = "mixed", Vus = "10", Shard = $"{i}/3" })).ToList();
        Assert.Equal([4, 3, 3], shards.Select(o => o.Vus));
        Assert.Equal([0, 4, 7], shards.Select(o => o.Shard!.VuOffset));
        Assert.All(shards, o => { Assert.Equal(10, o.Shard!.TotalVus); Assert.Equal(3, o.Shard.Count); Assert.True(o.SnapshotAtSetUp); });
        Assert.Equal(5, Validate(new RunSettings { Scenario = "mixed", Shard = "2/2" }).Vus); // the default 10 VUs are split too
        var whole = Validate(new RunSettings { Scenario = "mixed", Vus = "7", Shard = "1/1" });
        Assert.Equal(7, whole.Vus);
        Assert.Equal(0, whole.Shard!.VuOffset);
        Assert.False(Validate(new RunSettings { Scenario = "mixed" }).SnapshotAtSetUp);
    }

    [Fact]
    public void The_rate_is_divided_and_max_vus_split_with_at_least_one_slot_per_shard()
    {
        var shards = Enumerable.Range(1, 3).Select(i => Validate(new RunSettings { Scenario = "read-only", Rate = "300", MaxVus = "200", Shard = $"{i}/3" })).ToList();
        Assert.All(shards, o => { Assert.Equal(100, o.Rate); Assert.Equal(300, o.Shard!.TotalRate); Assert.Equal(200, o.Shard.TotalMaxVus); });
        Assert.Equal([67, 67, 66], shards.Select(o => o.MaxVus));
        Assert.Equal([0, 67, 134], shards.Select(o => o.Shard!.VuOffset));
        var tiny = Enumerable.Range(1, 3).Select(i => Validate(new RunSettings { Scenario = "read-only", Rate = "10", MaxVus = "2", Shard = $"{i}/3" })).ToList();
        Assert.Equal([1, 1, 1], tiny.Select(o => o.MaxVus));
        Assert.Equal([0, 1, 2], tiny.Select(o => o.Shard!.VuOffset));
        Assert.Equal(100, Validate(new RunSettings { Scenario = "read-only", Rate = "250", Shard = "1/2" }).MaxVus); // the default 200 is split
        Assert.Equal(125, Validate(new RunSettings { Scenario = "read-only", Rate = "250", Shard = "1/2" }).Rate);
    }

    [Theory]
    [InlineData("0/2")]
    [InlineData("3/2")]
    [InlineData("1/65")]
    [InlineData("65/65")]
    [InlineData("a/b")]
    [InlineData("2")]
    [InlineData("1/2/3")]
    [InlineData("-1/2")]
    [InlineData("1/0")]
    [InlineData("")]
    public void A_bad_shard_is_rejected_naming_the_option(string shard)
    {
        var e = Assert.Throws<OptionException>(() => Validate(new RunSettings { Scenario = "mixed", Shard = shard }));
        Assert.StartsWith("--shard:", e.Message);
        Assert.Contains("1 <= i <= n <= 64", e.Message);
    }

    [Fact]
    public void A_shard_that_would_get_no_VU_is_an_error_telling_to_lower_n()
    {
        var e = Assert.Throws<OptionException>(() => Validate(new RunSettings { Scenario = "mixed", Vus = "2", Shard = "3/3" }));
        Assert.StartsWith("--shard:", e.Message);
        Assert.Contains("0 of the 2 VUs", e.Message);
        Assert.Contains("lower n to at most 2", e.Message);
        Assert.Equal(1, Validate(new RunSettings { Scenario = "mixed", Vus = "2", Shard = "2/2" }).Vus);
    }

    [Fact]
    public void A_shard_needs_the_seed_all_shards_share()
    {
        var e = Assert.Throws<OptionException>(() => TestSupport.Options(new RunSettings { Scenario = "mixed", Shard = "1/2" }));
        Assert.StartsWith("--shard:", e.Message);
        Assert.Contains("same --seed", e.Message);
    }

    [Theory]
    [InlineData("1767268800")]
    [InlineData("1767268800.000")]
    [InlineData("2026-01-01T12:00:00Z")]
    [InlineData("2026-01-01T12:00:00.000Z")]
    [InlineData("2026-01-01T13:00:00+01:00")]
    public void Start_at_takes_unix_seconds_or_an_iso_instant(string text)
    {
        var o = Validate(new RunSettings { Scenario = "mixed", StartAt = text });
        Assert.Equal(new DateTimeOffset(2026, 1, 1, 12, 0, 0, TimeSpan.Zero), o.StartAt);
        Assert.True(o.SnapshotAtSetUp);
    }

    [Theory]
    [InlineData("tomorrow")]
    [InlineData("2026-01-01T12:00:00")] // no zone: ambiguous across machines
    [InlineData("2026-13-01T12:00:00Z")]
    [InlineData("-5")]
    [InlineData("2099-01-01T00:00:00Z")] // more than 24 h ahead
    public void A_bad_start_at_is_rejected_naming_the_option(string text)
    {
        var e = Assert.Throws<OptionException>(() => Validate(new RunSettings { Scenario = "mixed", StartAt = text }));
        Assert.StartsWith("--start-at:", e.Message);
    }

    [Fact]
    public async Task Bad_shard_options_exit_2_on_the_command_line_like_every_option_error()
    {
        var ct = TestContext.Current.CancellationToken;
        Assert.Equal(2, await Cli.Create().RunAsync(["run", "--scenario", "mixed", "--seed", "1", "--shard", "0/2", "--scenarios", Path.Combine(TestSupport.RepoRoot(), "load", "scenarios.json")], ct));
        Assert.Equal(2, await Cli.Create().RunAsync(["run", "--scenario", "mixed", "--start-at", "soon", "--scenarios", Path.Combine(TestSupport.RepoRoot(), "load", "scenarios.json")], ct));
    }
}

[Collection("runs")]
public class ShardRunTests
{
    private sealed record Shard(RunOutcome Outcome, string Output, ResultFile File);

    /// <summary>n shards of one run in this process, each with its own results directory (as on n machines), all with the same --start-at.</summary>
    private static async Task<(List<Shard> Shards, DateTimeOffset StartAt, string Dir)> RunShardsAsync(FakeServer server, int n, Action<RunSettings> configure)
    {
        var dir = TestSupport.TempDir("exload-shard");
        var scenarios = FakeServer.WriteScenarios(dir);
        var startAt = DateTimeOffset.UtcNow.AddSeconds(5); // room for n set-ups on a shared machine
        startAt = DateTimeOffset.FromUnixTimeMilliseconds(startAt.ToUnixTimeMilliseconds());
        var runs = Enumerable.Range(1, n).Select(i => Task.Run(async () =>
        {
            var settings = new RunSettings
            {
                Scenario = "writes", BaseUrl = server.BaseUrl, ScenariosFile = scenarios, Out = Path.Combine(dir, $"results-{i}"), Seed = "7", Warmup = "300ms",
                Duration = "1500ms", Shard = $"{i}/{n}",
                // Both forms of the instant: the odd shards get Unix seconds, the even ones ISO-8601.
                StartAt = i % 2 == 1 ? (startAt.ToUnixTimeMilliseconds() / 1000.0).ToString("0.000", CultureInfo.InvariantCulture) : startAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
            };
            configure(settings);
            var options = Options.Validate(settings, dir, _ => null);
            var output = new StringWriter();
            var outcome = await new LoadRunner(options, TestSupport.Console(output), plain: true, workingDirectory: dir).RunAsync(TestContext.Current.CancellationToken);
            return (outcome, output.ToString());
        })).ToList();
        var done = await Task.WhenAll(runs);
        var shards = done.Select(d => new Shard(d.outcome, d.Item2, ResultFile.Load(d.outcome.ResultFile ?? throw new InvalidOperationException("no result file:\n" + d.Item2)))).ToList();
        return (shards, startAt, dir);
    }

    private static async Task<(int Exit, string Out, string Err, ResultFile? Merged)> MergeAsync(string dir, IEnumerable<string> files, string? baseUrl = null, bool force = false)
    {
        var outFile = Path.Combine(dir, $"merged-{Guid.NewGuid():N}.json");
        var settings = new MergeSettings { Files = files.ToArray(), Out = outFile, Results = Path.Combine(dir, "results"), BaseUrl = baseUrl, Force = force };
        var (o, e) = (new StringWriter(), new StringWriter());
        var exit = await MergeCommand.RunAsync(settings, o, e, dir, TestContext.Current.CancellationToken);
        return (exit, o.ToString(), e.ToString(), File.Exists(outFile) ? ResultFile.Load(outFile) : null);
    }

    /// <summary>What every shard must show: it waited for the common start, began then, and deferred its verdict.</summary>
    private static void AssertShard(Shard s, int index, int n, DateTimeOffset startAt)
    {
        var log = s.Output;
        Assert.True(s.Outcome.ExitCode == 0, log);
        Assert.True(s.Outcome.Correctness.Deferred, log);
        Assert.True(s.Outcome.Correctness.Ok, log);
        Assert.Empty(s.Outcome.Correctness.Violations);
        Assert.Contains("correctness: deferred to merge", log);
        Assert.DoesNotContain("VIOLATION", log);
        Assert.Contains("start-at: set-up done; waiting", log);
        Assert.Equal("deferred", s.File.CorrectnessVerdict);
        Assert.Equal(index, s.File.ShardIndex);
        Assert.Equal(n, s.File.ShardCount);
        Assert.Equal<DateTimeOffset?>(startAt, ResultFile.Time(s.File.Shard!["start_at"]));
        // The warm-up began at the common instant (not before it; within a second of it on a loaded machine).
        var began = ResultFile.Time(s.File.Shard["load_started_at"])!.Value;
        Assert.InRange((began - startAt).TotalMilliseconds, 0, 1000);
        // The start snapshot was taken at set-up, before the common start; the end snapshot after this shard's last write.
        var ledger = s.File.Ledger!;
        Assert.True(ResultFile.Time(ledger["start_snapshot"]!["done_at"]) <= startAt, log);
        Assert.True(ResultFile.Time(ledger["end_snapshot"]!["at"]) >= ResultFile.Time(ledger["last_write_at"]), log);
        Assert.Equal(20, ledger["products"]!.AsArray().Count);
    }

    [Theory]
    [InlineData(2, false, 0)]  // closed model, a target that conserves stock: OK
    [InlineData(3, true, 0)]   // open model: OK
    [InlineData(3, false, 4)]  // the 4th reservation is answered but not applied: VIOLATION, seen only by the merge
    public async Task Shards_started_together_merge_into_one_exact_run_and_one_verdict(int n, bool open, int loseWrite)
    {
        await using var server = await FakeServer.StartAsync(loseWrite: loseWrite);
        var (shards, startAt, dir) = await RunShardsAsync(server, n, s =>
        {
            if (open) s.Rate = "90";
            else s.Vus = "5";
        });
        for (var i = 0; i < n; i++) AssertShard(shards[i], i + 1, n, startAt);
        if (open) Assert.All(shards, s => Assert.Equal(30, s.File.Config["rate"]!.GetValue<double>()));
        else Assert.Equal(n == 2 ? new[] { 3, 2 } : new[] { 2, 2, 1 }, shards.Select(s => (int)s.File.Config["vus"]!.GetValue<long>()));
        // The shards began together: their measured phases start within a fraction of a second.
        var starts = shards.Select(s => s.File.MeasuredStartAt!.Value).ToList();
        Assert.InRange((starts.Max() - starts.Min()).TotalMilliseconds, 0, 500);

        var (exit, output, err, merged) = await MergeAsync(dir, shards.Select(s => s.File.Path));
        Assert.True(exit == 0, output + err);
        Assert.NotNull(merged);

        // Counts are the sums; every histogram is the one that holds every shard's values.
        Assert.Equal(shards.Sum(s => s.Outcome.Requests), merged.Totals.Count);
        Assert.Equal(shards.Sum(s => s.Outcome.Errors), merged.Totals.Errors);
        var all = Hdr.New();
        foreach (var s in shards) all.Add(s.Outcome.All.Histogram);
        CompareMergeTests.AssertSame(all, merged.Totals.Latency, "all");
        Assert.Equal(Math.Round(all.GetValueAtPercentile(95) / 1000.0, 3), merged.Totals.Json["latency_ms"]!["p95"]!.GetValue<double>());
        foreach (var key in shards.SelectMany(s => s.Outcome.Operations.Keys).Distinct())
        {
            var h = Hdr.New();
            foreach (var s in shards) if (s.Outcome.Operations.TryGetValue(key, out var op)) h.Add(op.LatencyTotal);
            CompareMergeTests.AssertSame(h, merged.Operations[key].Latency, key);
            Assert.Equal(shards.Sum(s => s.Outcome.Operations.TryGetValue(key, out var op) ? op.Count : 0), merged.Operations[key].Count);
        }
        // rps over the common window, not a sum of the shards' rates.
        var window = (shards.Max(s => s.File.MeasuredEndAt!.Value) - starts.Min()).TotalSeconds;
        Assert.Equal(merged.Totals.Count / window, merged.Totals.Rps, 0.01);
        Assert.Equal(window, merged.DurationSeconds, 0.001);
        Assert.Equal(n, merged.Config["shards"]!.GetValue<int>());
        if (open) Assert.Equal(90, merged.Config["rate"]!.GetValue<double>());
        else Assert.Equal(5, merged.Config["vus"]!.GetValue<long>());

        // The verdict of the added ledgers: every order the target created is in one shard's ledger.
        var c = merged.Correctness!;
        Assert.Equal(server.OrdersCreated, c["orders_placed"]!.GetValue<long>());
        Assert.Equal(20, c["products"]!.GetValue<int>());
        Assert.Equal(0, c["unverifiable"]!.GetValue<int>());
        if (loseWrite == 0)
        {
            Assert.True(merged.CorrectnessVerdict == "OK", output);
            Assert.Equal(20, c["verified"]!.GetValue<int>());
            Assert.Empty(c["violations"]!.AsArray());
            Assert.Equal("pass", merged.Verdict);
            Assert.Contains("correctness: OK (20 products, 20 verified", output);
        }
        else
        {
            Assert.NotEqual(0, server.LostWriteProduct);
            Assert.Equal("VIOLATION", merged.CorrectnessVerdict);
            var v = Assert.Single(c["violations"]!.AsArray())!;
            Assert.Equal(server.LostWriteProduct, v["product_id"]!.GetValue<long>());
            Assert.Contains("unit(s) invented", v["detail"]!.GetValue<string>());
            Assert.Equal(19, c["verified"]!.GetValue<int>());
            Assert.Equal("violation", merged.Verdict);
            Assert.Equal(1, merged.Json["exit_code"]!.GetValue<int>());
            Assert.Contains("correctness: VIOLATION", output);
        }
    }

    [Fact]
    public async Task Merge_checks_the_shard_set_the_snapshots_and_reads_the_end_stock_itself_with_base_url()
    {
        await using var server = await FakeServer.StartAsync();
        var (shards, _, dir) = await RunShardsAsync(server, 2, s => s.Vus = "4");
        var (one, two) = (shards[0].File.Path, shards[1].File.Path);
        JsonObject Json(string path) => JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        string Write(JsonObject json, string name) { var p = Path.Combine(dir, name); File.WriteAllText(p, json.ToJsonString()); return p; }

        // Missing, duplicated, of another scenario, of another n: refused (exit 2), naming what is wrong.
        var r = await MergeAsync(dir, [one]);
        Assert.Equal(2, r.Exit);
        Assert.Contains("shard 2/2 missing", r.Err);
        var copy = Json(one);
        copy["run_id"] = copy["run_id"]!.GetValue<string>() + "-again";
        var again = Write(copy, "again.json");
        r = await MergeAsync(dir, [one, again, two]);
        Assert.Equal(2, r.Exit);
        Assert.Contains("shard 1/2 given 2 times", r.Err);
        var reads = Json(two);
        reads["scenario"] = "reads";
        r = await MergeAsync(dir, [one, Write(reads, "reads.json")]);
        Assert.Equal(2, r.Exit);
        Assert.Contains("different scenarios", r.Err);
        var three = Json(two);
        three["shard"]!["count"] = 3;
        r = await MergeAsync(dir, [one, Write(three, "three.json")]);
        Assert.Equal(2, r.Exit);
        Assert.Contains("different shard counts", r.Err);
        Assert.False(File.Exists(Path.Combine(dir, "results", "history.jsonl")));

        // --force merges an incomplete set, but its stock is unverifiable, never a violation.
        r = await MergeAsync(dir, [one], force: true);
        Assert.True(r.Exit == 0, r.Err);
        Assert.Contains("--force: shard 2/2 missing", r.Err);
        Assert.Equal("UNVERIFIABLE", r.Merged!.CorrectnessVerdict);
        Assert.Empty(r.Merged.Correctness!["violations"]!.AsArray());
        Assert.Equal(shards[0].Outcome.Requests, r.Merged.Totals.Count);

        // Start snapshots that disagree make that product unverifiable, not a violation.
        var differing = Json(two);
        var product = differing["ledger"]!["products"]!.AsArray().First(p => p!["id"]!.GetValue<long>() == 5)!;
        product["start"] = product["start"]!.GetValue<long>() + 1;
        r = await MergeAsync(dir, [one, Write(differing, "differing.json")]);
        Assert.True(r.Exit == 0, r.Err);
        Assert.Equal("OK", r.Merged!.CorrectnessVerdict);
        Assert.Equal(19, r.Merged.Correctness!["verified"]!.GetValue<int>());
        var u = Assert.Single(r.Merged.Correctness["unverifiable_products"]!.AsArray())!;
        Assert.Equal(5, u["product_id"]!.GetValue<long>());
        Assert.StartsWith("start snapshots differ: shard 1/2 read", u["detail"]!.GetValue<string>());

        // Fault windows of the same timeline are merged by index from their histograms; different timelines are left out.
        var random = new Random(3);
        LongHistogram Values(int n, int scale) { var h = Hdr.New(); for (var i = 0; i < n; i++) h.RecordValue(200 + random.Next(scale)); return h; }
        JsonObject Window(string label, double start, double end, LongHistogram h, long errors) => new()
        {
            ["start_s"] = start, ["end_s"] = end, ["label"] = label, ["rules"] = new JsonArray(), ["applied_at"] = null, ["error"] = null,
            ["stats"] = new JsonObject
            {
                ["requests"] = h.TotalCount, ["errors"] = errors, ["error_rate"] = 0, ["rps"] = 0, ["p50_ms"] = Hdr.PercentileMs(h, 50), ["p99_ms"] = Hdr.PercentileMs(h, 99),
                ["faulted"] = errors,
            },
            ["histogram"] = Hdr.Encode(h),
        };
        var (a0, a1, b0, b1) = (Values(300, 2_000), Values(200, 90_000), Values(500, 3_000), Values(100, 400_000));
        var faulted1 = Json(one);
        faulted1["faults"] = new JsonArray(Window("baseline", 0, 0.75, a0, 0), Window("slow", 0.75, 1.5, a1, 3));
        var faulted2 = Json(two);
        faulted2["faults"] = new JsonArray(Window("baseline", 0, 0.75, b0, 0), Window("slow", 0.75, 1.52, b1, 4));
        var (f1, f2) = (Write(faulted1, "faulted1.json"), Write(faulted2, "faulted2.json"));
        r = await MergeAsync(dir, [f1, f2]);
        Assert.True(r.Exit == 0, r.Err);
        var slow = r.Merged!.Json["faults"]![1]!["stats"]!;
        var both = a1.Copy();
        both.Add(b1);
        Assert.Equal(300, slow["requests"]!.GetValue<long>());
        Assert.Equal(7, slow["errors"]!.GetValue<long>());
        Assert.Equal(Math.Round(Hdr.PercentileMs(both, 99), 3), slow["p99_ms"]!.GetValue<double>());
        Assert.Equal(Math.Round(Hdr.PercentileMs(both, 50), 3), slow["p50_ms"]!.GetValue<double>());
        Assert.Equal(Math.Round(300 / (1.52 - 0.75), 3), slow["rps"]!.GetValue<double>());
        faulted2["faults"]![1]!["label"] = "failing orders";
        r = await MergeAsync(dir, [f1, Write(faulted2, "faulted3.json")]);
        Assert.True(r.Exit == 0, r.Err);
        Assert.Null(r.Merged!.Json["faults"]);
        Assert.Contains("timelines differ", r.Merged.Json["faults_note"]!.GetValue<string>());

        // No end snapshot after every shard's last write: unverifiable until merge reads the end stock itself.
        var early1 = Json(one);
        var early2 = Json(two);
        foreach (var j in new[] { early1, early2 }) j["ledger"]!["end_snapshot"]!["at"] = j["ledger"]!["first_write_at"]!.DeepClone();
        var (e1, e2) = (Write(early1, "early1.json"), Write(early2, "early2.json"));
        r = await MergeAsync(dir, [e1, e2]);
        Assert.True(r.Exit == 0, r.Err);
        Assert.Equal("UNVERIFIABLE", r.Merged!.CorrectnessVerdict);
        Assert.Equal(20, r.Merged.Correctness!["unverifiable"]!.GetValue<int>());
        Assert.StartsWith("unverifiable: run merge with --base-url", r.Merged.Correctness["note"]!.GetValue<string>());
        Assert.Contains("unverifiable: run merge with --base-url", r.Out);
        r = await MergeAsync(dir, [e1, e2], baseUrl: server.BaseUrl);
        Assert.True(r.Exit == 0, r.Err);
        Assert.Equal("OK", r.Merged!.CorrectnessVerdict);
        Assert.Equal(20, r.Merged.Correctness!["verified"]!.GetValue<int>());
        Assert.Equal("merge --base-url", r.Merged.Correctness["end_snapshot"]!["source"]!.GetValue<string>());
        Assert.Contains("valid only if nothing wrote to the target between the shards' end and the merge", r.Out);

        // --base-url must be the shards' target (unless forced) and answer.
        r = await MergeAsync(dir, [one, two], baseUrl: "http://127.0.0.1:1");
        Assert.Equal(2, r.Exit);
        Assert.Contains("is not the shards' target", r.Err);
        r = await MergeAsync(dir, [one, two], baseUrl: "http://127.0.0.1:1", force: true);
        Assert.Equal(2, r.Exit);
        Assert.Contains("answered no product's stock", r.Err);
    }

    [Fact]
    public async Task A_set_up_that_ends_after_start_at_says_so_and_does_not_start_late()
    {
        await using var server = await FakeServer.StartAsync();
        var dir = TestSupport.TempDir("exload-late");
        var past = DateTimeOffset.UtcNow.AddSeconds(-5);
        var options = Options.Validate(new RunSettings
        {
            Scenario = "writes", BaseUrl = server.BaseUrl, ScenariosFile = FakeServer.WriteScenarios(dir), Out = Path.Combine(dir, "results"), Seed = "7",
            Warmup = "0s", Duration = "1s", Vus = "2", Shard = "1/2", StartAt = past.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
        }, dir, _ => null);
        var output = new StringWriter();
        var outcome = await new LoadRunner(options, TestSupport.Console(output), plain: true, workingDirectory: dir).RunAsync(TestContext.Current.CancellationToken);
        var log = output.ToString();
        Assert.Equal(1, outcome.ExitCode);
        Assert.Null(outcome.ResultFile);
        var line = Assert.Single(log.Split('\n'), l => l.StartsWith("start-at:", StringComparison.Ordinal));
        Assert.Contains("after --start-at", line);
        Assert.Contains("not starting late", line);
        Assert.Equal(0, server.OrdersCreated);
    }
}
