using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using HdrHistogram;

namespace ExBuy.Load;

/// <summary>
/// Exact merge of the results of several runner processes or machines that ran at the same time against one target:
/// histograms added, counts/errors/statuses summed, rates summed, series aligned by wall-clock second.
/// The merged document is itself an <c>exbuy-load/1</c> result with <c>merged_from</c>.
/// </summary>
public static class ResultMerge
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private static double R(double v) => Math.Round(v, 3);

    public const string LedgerNote =
        "merged: each part's ledger verified stock against its own writes only; the stock checks hold only if each process owned its products " +
        "(no two parts wrote to the same product); with shared products a part's OK or VIOLATION says nothing about the combined run";

    /// <summary>Why parts may not be merged (different scenarios or targets, one run twice; shards missing, twice or of different runs); <c>--force</c> overrides.</summary>
    public static List<string> Conflicts(IReadOnlyList<ResultFile> parts) => [.. AllConflicts(parts).Select(c => c.Text)];

    /// <summary>Every conflict, and whether it leaves the shards' ledgers unusable (a run counted twice, a shard missing or twice).</summary>
    private static List<(string Text, bool BreaksLedgers)> AllConflicts(IReadOnlyList<ResultFile> parts)
    {
        var problems = new List<string>();
        var scenarios = parts.Select(p => p.Scenario).Distinct(StringComparer.Ordinal).ToList();
        if (scenarios.Count > 1) problems.Add($"different scenarios: {string.Join(", ", parts.Select(p => $"{p.Path}: {p.Scenario}"))}");
        var targets = parts.Select(p => p.TargetUrl.TrimEnd('/')).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        if (targets.Count > 1) problems.Add($"different targets: {string.Join(", ", parts.Select(p => $"{p.Path}: {p.TargetUrl}"))}");
        // A run given twice, or given next to a merged file that already holds it, would be counted twice.
        var holders = parts.SelectMany(p => p.MergedFrom.Append(p.RunId).Distinct().Select(id => (Id: id, Part: p)))
            .GroupBy(x => x.Id, StringComparer.Ordinal).Where(g => g.Count() > 1);
        var twice = new List<string>();
        foreach (var g in holders)
            twice.Add($"run {g.Key} is in {string.Join(" and ", g.Select(x => x.Part.Path))} (it would be counted twice)");
        return
        [
            .. problems.Concat(ShardMerge.PlanProblems(parts)).Select(p => (p, false)),
            .. twice.Concat(ShardMerge.StructureProblems(parts)).Select(p => (p, true)),
        ];
    }

    private static JsonObject LatencyJson(HistogramBase h) => new()
    {
        ["count"] = h.TotalCount,
        ["p50"] = R(Hdr.PercentileMs(h, 50)), ["p90"] = R(Hdr.PercentileMs(h, 90)), ["p95"] = R(Hdr.PercentileMs(h, 95)),
        ["p99"] = R(Hdr.PercentileMs(h, 99)), ["p99_9"] = R(Hdr.PercentileMs(h, 99.9)),
        ["max"] = h.TotalCount == 0 ? 0 : R(h.GetMaxValue() / 1000.0), ["mean"] = h.TotalCount == 0 ? 0 : R(h.GetMean() / 1000.0),
    };

    private static LongHistogram Sum(IEnumerable<HistogramBase> hs)
    {
        var sum = Hdr.New();
        foreach (var h in hs) sum.Add(h);
        return sum;
    }

    /// <summary>
    /// The merged result. Throws <see cref="ResultFileException"/> on <see cref="Conflicts"/> unless <paramref name="force"/>.
    /// Shard results (<c>run --shard i/n</c>) get rps over their common window and a correctness verdict from their added ledgers
    /// (<see cref="ShardMerge"/>), with <paramref name="endSnapshot"/> (merge --base-url) as the end stock when given.
    /// </summary>
    public static JsonObject Merge(IReadOnlyList<ResultFile> parts, bool force, DateTimeOffset now, EndSnapshot? endSnapshot = null)
    {
        var sharded = parts.Any(p => p.Shard is not null);
        if (parts.Count < 2 && !sharded) throw new ResultFileException("merge needs at least two result files (or every shard of a run)");
        var found = AllConflicts(parts);
        var conflicts = found.Select(c => c.Text).ToList();
        if (conflicts.Count > 0 && !force)
            throw new ResultFileException($"refusing to merge ({string.Join("; ", conflicts)}); --force merges anyway");
        var first = parts[0];

        // Shards ran together: rates are counts over their common window (first measured start to last measured end), not sums of rates.
        double? window = null;
        if (sharded && parts.All(p => p.MeasuredStartAt is not null && p.MeasuredEndAt is not null))
        {
            var span = (parts.Max(p => p.MeasuredEndAt!.Value) - parts.Min(p => p.MeasuredStartAt!.Value)).TotalSeconds;
            if (span > 0) window = span;
        }
        double Rps(long n, IEnumerable<double> rates) => window is double w ? n / w : rates.Sum();

        // Operations: union of keys, everything summed, histograms added.
        var ops = new JsonObject();
        foreach (var key in parts.SelectMany(p => p.Operations.Keys).Distinct().Order(StringComparer.Ordinal))
        {
            var mine = parts.Where(p => p.Operations.ContainsKey(key)).Select(p => p.Operations[key]).ToList();
            var lat = Sum(mine.Select(o => o.Latency));
            var ttfb = Sum(mine.Select(o => o.Ttfb));
            var srv = Sum(mine.Select(o => o.Server));
            var statuses = new SortedDictionary<string, long>(StringComparer.Ordinal);
            foreach (var o in mine) foreach (var (s, n) in o.Statuses) statuses[s] = statuses.GetValueOrDefault(s) + n;
            long count = mine.Sum(o => o.Count), errors = mine.Sum(o => o.Errors);
            // share = Σ server dur ÷ Σ latency of the responses with a server time: Σ server = mean × count of each part's server histogram.
            double srvSum = 0, latWithSrv = 0;
            foreach (var o in mine.Where(o => o.ServerShare is > 0 && o.Server.TotalCount > 0))
            {
                var s = o.Server.GetMean() * o.Server.TotalCount;
                srvSum += s;
                latWithSrv += s / o.ServerShare!.Value;
            }
            ops[key] = new JsonObject
            {
                ["operation"] = mine[0].Operation,
                ["optimize"] = mine[0].Json["optimize"]?.DeepClone(),
                ["count"] = count,
                ["rps"] = R(Rps(count, mine.Select(o => o.Rps))),
                ["errors"] = errors,
                ["error_rate"] = count == 0 ? 0 : R((double)errors / count),
                ["expect"] = new JsonArray(mine.SelectMany(o => o.Expect).Distinct().Order().Select(e => (JsonNode)e).ToArray()),
                ["statuses"] = new JsonObject(statuses.Select(s => new KeyValuePair<string, JsonNode?>(s.Key, s.Value))),
                ["latency_ms"] = LatencyJson(lat),
                ["ttfb_ms"] = LatencyJson(ttfb),
                ["server_ms"] = srv.TotalCount == 0 ? null : LatencyJson(srv),
                ["server_share"] = latWithSrv > 0 ? R(srvSum / latWithSrv) : null,
                ["histograms"] = new JsonObject { ["latency"] = Hdr.Encode(lat), ["ttfb"] = Hdr.Encode(ttfb), ["server"] = Hdr.Encode(srv) },
            };
        }

        var all = Sum(parts.Select(p => p.Totals.Latency));
        long totalCount = parts.Sum(p => p.Totals.Count), totalErrors = parts.Sum(p => p.Totals.Errors);
        var startedAt = parts.Select(p => p.StartedAt).Where(t => t is not null).Min() ?? now;
        var finishedAt = parts.Select(p => p.FinishedAt).Where(t => t is not null).Max() ?? now;
        var duration = parts.Max(p => p.DurationSeconds);
        if (window is double common) duration = common;

        var (series, seriesNote) = MergeSeries(parts);

        // Correctness: shards from their added ledgers; other parts: OK only if every part is OK.
        var cs = parts.Select(p => p.Correctness ?? new JsonObject()).ToList();
        bool B(JsonObject c, string n) => c[n] is JsonValue v && v.TryGetValue<bool>(out var b) && b;
        long L(string n) => cs.Sum(c => ResultFile.Long(c[n]));
        JsonArray Tagged(string name) => new(parts.SelectMany(p => ((p.Correctness?[name] as JsonArray) ?? []).Select(v =>
            v is JsonObject o ? (JsonNode)Tag(o, p.RunId) : JsonValue.Create($"{p.RunId}: {v?.ToJsonString().Trim('"')}"))).ToArray());
        var anyChecked = cs.Any(c => B(c, "checked"));
        var ok = cs.All(c => B(c, "ok") || !B(c, "checked"));
        var correctness = sharded
            ? ShardMerge.Correctness(parts, endSnapshot, force ? found.Where(c => c.BreaksLedgers).Select(c => c.Text).ToList() : new List<string>())
            : new JsonObject
        {
            ["checked"] = anyChecked, ["ok"] = ok, ["products"] = L("products"), ["verified"] = L("verified"), ["unverifiable"] = L("unverifiable"),
            ["orders_placed"] = L("orders_placed"), ["unknown_writes"] = L("unknown_writes"),
            ["violations"] = Tagged("violations"), ["unverifiable_products"] = Tagged("unverifiable_products"), ["other_violations"] = Tagged("other_violations"),
            ["parts"] = new JsonArray(parts.Select(p => (JsonNode)new JsonObject
            {
                ["run_id"] = p.RunId, ["verdict"] = p.CorrectnessVerdict, ["note"] = p.Correctness?["note"]?.DeepClone(),
            }).ToArray()),
            ["note"] = anyChecked ? LedgerNote : "not checked in any part",
        };

        if (sharded) ok = correctness["ok"]?.GetValue<bool>() != false;
        var thresholds = new JsonArray(parts.SelectMany(p => p.Thresholds.OfType<JsonObject>().Select(t => (JsonNode)Tag(t, p.RunId))).ToArray());
        var crossed = thresholds.OfType<JsonObject>().Any(t => t["passed"] is JsonValue v && v.TryGetValue<bool>(out var passed) && !passed);
        var verdict = !ok ? "violation" : crossed ? "thresholds crossed" : "pass";

        var config = (JsonObject)first.Config.DeepClone();
        var closed = parts.All(p => ResultFile.Str(p.Config["model"]) == "closed");
        var open = parts.All(p => ResultFile.Str(p.Config["model"]) == "open");
        config["model"] = closed ? "closed" : open ? "open" : "mixed";
        config["vus"] = closed ? parts.Sum(p => ResultFile.Long(p.Config["vus"])) : null;
        config["rate"] = open ? parts.Sum(p => ResultFile.Num(p.Config["rate"]) ?? 0) : null;
        config["max_vus"] = open ? parts.Sum(p => ResultFile.Long(p.Config["max_vus"])) : null;
        config["duration_s"] = parts.Max(p => ResultFile.Num(p.Config["duration_s"]) ?? 0);
        var seeds = parts.Select(p => p.Config["seed"]?.ToJsonString()).Distinct().ToList();
        config["seed"] = sharded && seeds.Count == 1 ? first.Config["seed"]?.DeepClone() : null;
        config["merged"] = true;
        if (sharded)
        {
            config["shards"] = parts[0].ShardCount;
            config["start_at"] = parts[0].Shard?["start_at"]?.DeepClone();
        }
        config["forced"] = force && conflicts.Count > 0 ? new JsonArray(conflicts.Select(c => (JsonNode)c).ToArray()) : null;
        config["parts"] = new JsonArray(parts.Select(p => (JsonNode)new JsonObject
        {
            ["run_id"] = p.RunId, ["file"] = p.Path, ["scenario"] = p.Scenario, ["base_url"] = p.TargetUrl, ["model"] = p.Config["model"]?.DeepClone(),
            ["vus"] = p.Config["vus"]?.DeepClone(), ["rate"] = p.Config["rate"]?.DeepClone(), ["max_vus"] = p.Config["max_vus"]?.DeepClone(),
            ["seed"] = p.Config["seed"]?.DeepClone(), ["shard"] = p.Shard is null ? null : p.ShardText, ["started_at"] = p.Json["started_at"]?.DeepClone(), ["duration_s"] = p.DurationSeconds,
            ["count"] = p.Totals.Count, ["verdict"] = p.Verdict, ["runner"] = p.Json["runner"]?.DeepClone(), ["target_info"] = p.TargetInfo?.DeepClone(),
        }).ToArray());

        var openParts = parts.Select(p => p.Json["open_model"] as JsonObject).ToList();
        JsonObject? openModel = null;
        if (openParts.All(o => o is not null))
        {
            double N(string n) => openParts.Sum(o => ResultFile.Num(o![n]) ?? 0);
            openModel = new JsonObject
            {
                ["rate"] = N("rate"), ["intended"] = (long)N("intended"), ["started"] = (long)N("started"), ["late"] = (long)N("late"), ["dropped"] = (long)N("dropped"),
                ["start_rate"] = R(N("start_rate")), ["intended_rate"] = R(N("intended_rate")),
                ["fell_behind"] = openParts.Any(o => o!["fell_behind"] is JsonValue v && v.TryGetValue<bool>(out var b) && b),
                ["latency_from"] = openParts[0]!["latency_from"]?.DeepClone(),
            };
        }

        var mergedFrom = new JsonArray(parts.Select(p => (JsonNode)p.RunId).ToArray());
        var runner = first.Json["runner"]?.DeepClone() as JsonObject ?? [];
        runner["merged_by"] = "exbuy-load merge";
        runner["cores"] = parts.Sum(p => ResultFile.Long(p.Json["runner"]?["cores"]));
        var merged = new JsonObject
        {
            ["schema"] = ResultFile.SchemaName,
            ["run_id"] = $"{first.Scenario}-merged-{now.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", Inv)}-{parts.Count}",
            ["scenario"] = first.Scenario,
            ["description"] = first.Json["description"]?.DeepClone(),
            ["merged_from"] = mergedFrom,
            ["started_at"] = startedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", Inv),
            ["finished_at"] = finishedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", Inv),
            ["config"] = config,
            ["target"] = new JsonObject { ["base_url"] = first.TargetUrl, ["info"] = first.TargetInfo?.DeepClone() },
            ["data"] = first.Data?.DeepClone(),
            ["git_commit"] = first.Json["git_commit"]?.DeepClone(),
            ["runner"] = runner,
            ["duration_s"] = R(duration),
            ["totals"] = new JsonObject
            {
                ["count"] = totalCount, ["rps"] = R(Rps(totalCount, parts.Select(p => p.Totals.Rps))), ["errors"] = totalErrors,
                ["error_rate"] = totalCount == 0 ? 0 : R((double)totalErrors / totalCount),
                ["latency_ms"] = LatencyJson(all),
                ["histogram"] = Hdr.Encode(all),
            },
            ["open_model"] = openModel,
            ["series"] = series,
            ["series_note"] = seriesNote,
            ["rates_note"] = window is double win
                ? string.Create(Inv, $"rps = count ÷ the shards' common window ({win:0.###} s, from the first shard's measured start to the last one's measured end); duration_s is that window")
                : "rps are sums over the parts (they ran at the same time); duration_s is the longest part's",
            ["operations"] = ops,
            ["correctness"] = correctness,
            ["thresholds"] = thresholds,
            ["verdict"] = verdict,
            ["exit_code"] = !ok ? 1 : crossed ? 99 : 0,
        };
        if (sharded)
        {
            var starts = parts.Select(p => p.MeasuredStartAt).OfType<DateTimeOffset>().ToList();
            merged["shards"] = new JsonObject
            {
                ["count"] = parts[0].ShardCount, ["given"] = new JsonArray(parts.Select(p => (JsonNode)p.ShardText).ToArray()),
                ["start_at"] = parts[0].Shard?["start_at"]?.DeepClone(),
                ["measured_start_spread_s"] = starts.Count > 0 ? R((starts.Max() - starts.Min()).TotalSeconds) : null,
                ["window_s"] = window is double w ? R(w) : null,
            };
            if (starts.Count > 0) merged["measured_start_at"] = starts.Min().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", Inv);
            if (parts.Select(p => p.MeasuredEndAt).OfType<DateTimeOffset>().ToList() is { Count: > 0 } ends)
                merged["measured_end_at"] = ends.Max().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", Inv);
            var (faults, faultsNote) = ShardMerge.FaultWindows(parts);
            if (faults is not null)
            {
                merged["faults"] = faults;
                var timeline = parts[0].Json["fault_timeline"]?.DeepClone() as JsonObject ?? [];
                timeline["straddled"] = parts.Sum(p => ResultFile.Long(p.Json["fault_timeline"]?["straddled"]));
                merged["fault_timeline"] = timeline;
            }
            if (faultsNote is not null) merged["faults_note"] = faultsNote;
        }
        return merged;
    }

    private static JsonObject Tag(JsonObject o, string runId)
    {
        var copy = (JsonObject)o.DeepClone();
        copy["part"] = runId;
        return copy;
    }

    /// <summary>
    /// Sums the parts' per-second points by the wall-clock second each ended in (measured start = finished_at − duration_s, + t).
    /// Percentiles per second are recomputed when every point of a second carries a histogram; otherwise they are null and the note says so.
    /// </summary>
    private static (JsonArray Series, string Note) MergeSeries(IReadOnlyList<ResultFile> parts)
    {
        var bySecond = new SortedDictionary<long, List<SeriesPoint>>();
        DateTimeOffset? origin = null;
        foreach (var p in parts)
        {
            var start = p.MeasuredStart ?? p.StartedAt ?? DateTimeOffset.UnixEpoch;
            if (origin is null || start < origin) origin = start;
            foreach (var pt in p.Series)
            {
                var second = (long)Math.Floor(start.ToUnixTimeMilliseconds() / 1000.0 + pt.T);
                if (!bySecond.TryGetValue(second, out var list)) bySecond[second] = list = [];
                list.Add(pt);
            }
        }
        var withHistograms = bySecond.Count > 0 && bySecond.Values.All(l => l.All(pt => pt.Histogram is not null));
        var series = new JsonArray();
        var originSeconds = (origin ?? DateTimeOffset.UnixEpoch).ToUnixTimeMilliseconds() / 1000.0;
        foreach (var (second, points) in bySecond)
        {
            var point = new JsonObject
            {
                ["t"] = R(second + 1 - originSeconds),
                ["time"] = DateTimeOffset.FromUnixTimeSeconds(second).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", Inv),
                ["vus"] = points.Sum(x => x.Vus), ["rps"] = R(points.Sum(x => x.Rps)),
                ["p50"] = null, ["p95"] = null, ["p99"] = null,
                ["errors"] = points.Sum(x => x.Errors), ["count"] = points.Sum(x => x.Count), ["parts"] = points.Count,
            };
            if (withHistograms)
            {
                var h = Sum(points.Select(x => Hdr.Decode(x.Histogram!)));
                point["p50"] = R(Hdr.PercentileMs(h, 50));
                point["p95"] = R(Hdr.PercentileMs(h, 95));
                point["p99"] = R(Hdr.PercentileMs(h, 99));
                point["histogram"] = Hdr.Encode(h);
            }
            series.Add(point);
        }
        var note = withHistograms
            ? "series merged by wall-clock second: rps, errors, counts and vus summed; per-second percentiles recomputed from the per-second histograms"
            : "series merged by wall-clock second: rps, errors, counts and vus summed; per-second percentiles are not merged (the parts carry no per-second histograms), so p50/p95/p99 are null";
        return (series, note);
    }

    /// <summary>Writes the merged result to <paramref name="outFile"/> and appends its line (with merged_from) to <c><paramref name="resultsDir"/>/history.jsonl</c>.</summary>
    public static async Task<string> WriteAsync(JsonObject merged, string outFile, string resultsDir)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(outFile));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        Directory.CreateDirectory(resultsDir);
        await File.WriteAllTextAsync(outFile, merged.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        var relative = Path.GetRelativePath(Path.GetFullPath(resultsDir), Path.GetFullPath(outFile));
        var all = Hdr.Decode(merged["totals"]!["histogram"]!.GetValue<string>());
        var line = new JsonObject
        {
            ["run_id"] = merged["run_id"]?.DeepClone(),
            ["scenario"] = merged["scenario"]?.DeepClone(),
            ["time"] = merged["started_at"]?.DeepClone(),
            ["target"] = merged["target"]?["base_url"]?.DeepClone(),
            ["model"] = merged["config"]?["model"]?.DeepClone(),
            ["rps"] = merged["totals"]?["rps"]?.DeepClone(),
            ["p95_ms"] = R(Hdr.PercentileMs(all, 95)),
            ["errors"] = merged["totals"]?["errors"]?.DeepClone(),
            ["verdict"] = merged["verdict"]?.DeepClone(),
            ["file"] = relative.StartsWith("..", StringComparison.Ordinal) ? Path.GetFullPath(outFile) : relative,
            ["merged_from"] = merged["merged_from"]?.DeepClone(),
        };
        var history = Path.Combine(resultsDir, "history.jsonl");
        await File.AppendAllTextAsync(history, line.ToJsonString() + "\n");
        return history;
    }
}
