using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using HdrHistogram;

namespace ExBuy.Load;

/// <summary>A result file that cannot be used: missing, not JSON, not <c>exbuy-load/1</c>, or missing a part; the message names the file.</summary>
public sealed class ResultFileException(string message) : Exception(message);

/// <summary>
/// One <c>exbuy-load/1</c> result file (what <c>run</c> and <c>merge</c> write), read back for <c>compare</c>, <c>merge</c> and reports.
/// Histograms are decoded (µs); <see cref="Json"/> keeps the whole document for anything not exposed here.
/// </summary>
public sealed class ResultFile
{
    public const string SchemaName = "exbuy-load/1";
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The file it was read from (as given, or as resolved from a run id).</summary>
    public string Path { get; }
    /// <summary>The whole document.</summary>
    public JsonObject Json { get; }
    public string RunId => Str(Json["run_id"]) ?? System.IO.Path.GetFileNameWithoutExtension(Path);
    public string Scenario => Str(Json["scenario"]) ?? Str(Config["scenario"]) ?? "unknown";
    public string? Label => Str(Json["label"]);
    public DateTimeOffset? StartedAt => Time(Json["started_at"]);
    public DateTimeOffset? FinishedAt => Time(Json["finished_at"]);
    /// <summary>Seconds of the measured phase (rps = count / this).</summary>
    public double DurationSeconds => Num(Json["duration_s"]) ?? 0;
    /// <summary>Wall-clock start of the measured phase: finished_at − duration_s (started_at is the start of set-up).</summary>
    public DateTimeOffset? MeasuredStart => FinishedAt?.AddSeconds(-DurationSeconds);
    /// <summary>The run's options (<c>config</c>): scenario, base_url, model, vus, rate, max_vus, seed, thresholds, ...; merged files add <c>parts</c>.</summary>
    public JsonObject Config { get; }
    /// <summary>The target's base URL (<c>target.base_url</c>, else <c>config.base_url</c>).</summary>
    public string TargetUrl => Str(Json["target"]?["base_url"]) ?? Str(Config["base_url"]) ?? "unknown";
    /// <summary>The target's <c>/api/info</c> body as recorded, or null (the target had none).</summary>
    public JsonObject? TargetInfo => Json["target"]?["info"] as JsonObject;
    /// <summary>The server variant from <see cref="TargetInfo"/>; "unknown" where a field is absent.</summary>
    public ServerVariant Variant => ServerVariant.From(TargetInfo);
    /// <summary>Data sizes set-up found (<c>data</c>: products, reviews, orders_found, ...).</summary>
    public JsonObject? Data => Json["data"] as JsonObject;
    public IReadOnlyList<SeriesPoint> Series { get; }
    /// <summary>Per operation key (<c>detail[optimize=true]</c>, <c>create_order</c>, ...), ordinal order.</summary>
    public IReadOnlyDictionary<string, OperationResult> Operations { get; }
    /// <summary>All operations: count, errors, rps and the total latency histogram.</summary>
    public OperationResult Totals { get; }
    public JsonObject? Correctness => Json["correctness"] as JsonObject;
    /// <summary>"OK", "VIOLATION" or "not checked"; a shard's "deferred" (to merge) and a shard merge's "UNVERIFIABLE" as recorded.</summary>
    public string CorrectnessVerdict => Correctness is not { } c ? "unknown"
        : Str(c["verdict"]) is { } v ? v
        : c["checked"]?.GetValue<bool>() != true ? "not checked" : c["ok"]?.GetValue<bool>() == true ? "OK" : "VIOLATION";
    /// <summary><c>run --shard i/n</c>: the shard (<c>shard</c>: index, count, start_at, seed, vu_offset, totals); null otherwise.</summary>
    public JsonObject? Shard => Json["shard"] as JsonObject;
    public int? ShardIndex => Shard is { } s ? (int)Long(s["index"]) : null;
    public int? ShardCount => Shard is { } s ? (int)Long(s["count"]) : null;
    /// <summary>"2/3", or "-" for a run that is not a shard.</summary>
    public string ShardText => Shard is null ? "-" : $"{ShardIndex}/{ShardCount}";
    /// <summary>A shard's ledger and snapshots (<c>ledger</c>), what `merge` verifies stock from; null otherwise.</summary>
    public JsonObject? Ledger => Json["ledger"] as JsonObject;
    /// <summary>Wall-clock bounds of the measured phase (<c>measured_start_at</c>/<c>_end_at</c>; older files: finished_at − duration_s).</summary>
    public DateTimeOffset? MeasuredStartAt => Time(Json["measured_start_at"]) ?? MeasuredStart;
    public DateTimeOffset? MeasuredEndAt => Time(Json["measured_end_at"]) ?? FinishedAt;
    /// <summary>"pass", "violation", "thresholds crossed" (or what the file says).</summary>
    public string Verdict => Str(Json["verdict"]) ?? "unknown";
    public JsonArray Thresholds => Json["thresholds"] as JsonArray ?? [];
    /// <summary>The run ids a merged file was made of; empty for a plain run.</summary>
    public IReadOnlyList<string> MergedFrom => (Json["merged_from"] as JsonArray)?.Select(n => Str(n) ?? "").ToList() ?? [];

    private ResultFile(string path, JsonObject json)
    {
        Path = path;
        Json = json;
        Config = json["config"] as JsonObject ?? throw Bad(path, "no \"config\" object");
        var ops = json["operations"] as JsonObject ?? throw Bad(path, "no \"operations\" object");
        var map = new SortedDictionary<string, OperationResult>(StringComparer.Ordinal);
        foreach (var (key, node) in ops)
            map[key] = OperationResult.From(path, key, node as JsonObject ?? throw Bad(path, $"operation {key} is not an object"));
        Operations = map;
        Series = (json["series"] as JsonArray ?? []).OfType<JsonObject>().Select(SeriesPoint.From).ToList();
        var totals = json["totals"] as JsonObject ?? throw Bad(path, "no \"totals\" object");
        var all = Hdr.New();
        if (Str(totals["histogram"]) is { } t) all.Add(DecodeOrThrow(path, "totals.histogram", t));
        else foreach (var o in map.Values) all.Add(o.Latency);
        Totals = new OperationResult("all", "all", Long(totals["count"]), Long(totals["errors"]), Num(totals["rps"]) ?? 0,
            new Dictionary<string, long>(), [], all, Hdr.New(), Hdr.New(), null, totals);
    }

    /// <summary>Reads and validates a result file.</summary>
    /// <exception cref="ResultFileException">missing, not JSON, another schema, or a required part missing or undecodable.</exception>
    public static ResultFile Load(string path)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new ResultFileException($"{path}: cannot read: {e.Message}");
        }
        return Parse(text, path);
    }

    /// <summary>Validates <paramref name="text"/> as a result; <paramref name="path"/> names it in errors.</summary>
    public static ResultFile Parse(string text, string path)
    {
        JsonNode? node;
        try { node = JsonNode.Parse(text); }
        catch (JsonException e) { throw Bad(path, $"not JSON ({e.Message})"); }
        if (node is not JsonObject json) throw Bad(path, "not a JSON object");
        var schema = json["schema"] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
        if (schema != SchemaName) throw Bad(path, schema is null ? "no \"schema\" field" : $"schema is \"{schema}\"");
        try { return new ResultFile(path, json); }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw Bad(path, e.Message);
        }
    }

    /// <summary>
    /// A path as given when it is a file; otherwise a run id (or a result file name) looked up in
    /// <c><paramref name="resultsDir"/>/history.jsonl</c> (last line wins), its <c>file</c> taken relative to <paramref name="resultsDir"/>.
    /// </summary>
    public static string Resolve(string pathOrRunId, string resultsDir)
    {
        if (File.Exists(pathOrRunId)) return pathOrRunId;
        var history = System.IO.Path.Combine(resultsDir, "history.jsonl");
        if (File.Exists(history))
        {
            string? byRunId = null, byFile = null;
            foreach (var line in File.ReadLines(history))
            {
                if (string.IsNullOrWhiteSpace(line)) continue;
                JsonNode? entry;
                try { entry = JsonNode.Parse(line); }
                catch (JsonException) { continue; }
                var file = Str(entry?["file"]);
                if (file is null) continue;
                if (Str(entry?["run_id"]) == pathOrRunId) byRunId = System.IO.Path.Combine(resultsDir, file);
                else if (file == pathOrRunId || System.IO.Path.GetFileNameWithoutExtension(file) == pathOrRunId) byFile = System.IO.Path.Combine(resultsDir, file);
            }
            if ((byRunId ?? byFile) is { } found) return found;
        }
        throw new ResultFileException($"{pathOrRunId}: no such file, and no run id or file of that name in {history}");
    }

    /// <summary>Loads every argument (file or run id, see <see cref="Resolve"/>).</summary>
    public static List<ResultFile> LoadAll(IEnumerable<string> pathsOrRunIds, string resultsDir) =>
        pathsOrRunIds.Select(p => Load(Resolve(p, resultsDir))).ToList();

    /// <summary>"closed, 10 VUs" / "open, 500/s (max 200 VUs)".</summary>
    public string ModelText()
    {
        var model = Str(Config["model"]) ?? "unknown";
        if (model == "open")
            return string.Create(Inv, $"open, {Num(Config["rate"]) ?? 0:0.###}/s (max {Num(Config["max_vus"])?.ToString(Inv) ?? "?"} VUs)");
        return Num(Config["vus"]) is double vus ? string.Create(Inv, $"{model}, {vus} VUs") : model;
    }

    internal static ResultFileException Bad(string path, string what) =>
        new($"{path}: not a usable exbuy-load result ({SchemaName}): {what}");

    internal static HistogramBase DecodeOrThrow(string path, string what, string base64)
    {
        try { return Hdr.Decode(base64); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw Bad(path, $"{what}: undecodable histogram ({e.Message})");
        }
    }

    internal static string? Str(JsonNode? n) => n is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    internal static double? Num(JsonNode? n)
    {
        if (n is not JsonValue v) return null;
        if (v.TryGetValue<double>(out var d)) return d;
        if (v.TryGetValue<long>(out var l)) return l;
        if (v.TryGetValue<int>(out var i)) return i;
        if (v.TryGetValue<decimal>(out var m)) return (double)m;
        return null;
    }

    internal static long Long(JsonNode? n) => Num(n) is double d ? (long)Math.Round(d) : 0;

    internal static DateTimeOffset? Time(JsonNode? n) =>
        Str(n) is { } s && DateTimeOffset.TryParse(s, Inv, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t) ? t : null;
}

/// <summary>One operation key of a result (or the totals, key "all"), with its histograms decoded (µs).</summary>
public sealed record OperationResult(
    string Key, string Operation, long Count, long Errors, double Rps, IReadOnlyDictionary<string, long> Statuses, int[] Expect,
    HistogramBase Latency, HistogramBase Ttfb, HistogramBase Server, double? ServerShare, JsonObject Json)
{
    public double ErrorRate => Count == 0 ? 0 : (double)Errors / Count;

    /// <summary>Latency percentile in ms from the histogram; null when nothing was recorded.</summary>
    public double? LatencyMs(double percentile) => Latency.TotalCount == 0 ? null : Latency.GetValueAtPercentile(percentile) / 1000.0;
    public double? MaxMs => Latency.TotalCount == 0 ? null : Latency.GetMaxValue() / 1000.0;

    internal static OperationResult From(string path, string key, JsonObject o)
    {
        var h = o["histograms"] as JsonObject ?? throw ResultFile.Bad(path, $"operation {key}: no \"histograms\"");
        HistogramBase Get(string name) => ResultFile.Str(h[name]) is { } s ? ResultFile.DecodeOrThrow(path, $"operation {key}: histograms.{name}", s) : Hdr.New();
        var statuses = new SortedDictionary<string, long>(StringComparer.Ordinal);
        if (o["statuses"] is JsonObject st) foreach (var (s, n) in st) statuses[s] = ResultFile.Long(n);
        var expect = (o["expect"] as JsonArray)?.Select(e => (int)ResultFile.Long(e)).ToArray() ?? [];
        return new OperationResult(key, ResultFile.Str(o["operation"]) ?? key, ResultFile.Long(o["count"]), ResultFile.Long(o["errors"]),
            ResultFile.Num(o["rps"]) ?? 0, statuses, expect, Get("latency"), Get("ttfb"), Get("server"), ResultFile.Num(o["server_share"]), o);
    }
}

/// <summary>One point of the per-second series; <see cref="Histogram"/> only when the file carries per-second histograms.</summary>
public sealed record SeriesPoint(double T, long Vus, double Rps, double? P50, double? P95, double? P99, long Errors, long Count, string? Histogram)
{
    internal static SeriesPoint From(JsonObject p) => new(ResultFile.Num(p["t"]) ?? 0, ResultFile.Long(p["vus"]), ResultFile.Num(p["rps"]) ?? 0,
        ResultFile.Num(p["p50"]), ResultFile.Num(p["p95"]), ResultFile.Num(p["p99"]), ResultFile.Long(p["errors"]), ResultFile.Long(p["count"]),
        ResultFile.Str(p["histogram"]));
}

/// <summary>The server variant a result came from, out of <c>/api/info</c>; "unknown" for what the target did not say (e.g. the Django original).</summary>
public sealed record ServerVariant(string DbEngine, string ServerMode, string Workers, string Gc, string Runtime, string Commit, string Version,
    string Threads = ServerVariant.Unknown, string Build = ServerVariant.Unknown, string DbPool = ServerVariant.Unknown)
{
    public const string Unknown = "unknown";

    public static ServerVariant From(JsonObject? info)
    {
        string F(string name) => info?[name] switch
        {
            null => Unknown,
            JsonValue v when v.TryGetValue<string>(out var s) => s.Length == 0 ? Unknown : s,
            JsonValue v => v.ToJsonString(),
            var n => n.ToJsonString(),
        };
        var gc = info?["gc"] switch
        {
            JsonObject g => (g["mode"] is JsonValue m && m.TryGetValue<string>(out var mode) ? mode + " " : "") + $"server={Flag(g["server"])} concurrent={Flag(g["concurrent"])}",
            null => Unknown,
            var n => n.ToJsonString(),
        };
        var pool = info?["db_pool"] is JsonObject p
            ? $"min={p["min"]?.ToJsonString()} max={p["max"]?.ToJsonString()} auto_prepare={p["auto_prepare"]?.ToJsonString()} multiplexing={p["multiplexing"]?.ToJsonString()}"
            : info?["db_pool_max"] is JsonNode max ? $"max={max.ToJsonString()}" : Unknown;
        var threads = info?["threads"] is JsonValue t && t.TryGetValue<int>(out var threadCount) ? threadCount.ToString(System.Globalization.CultureInfo.InvariantCulture) : info?.ContainsKey("threads") == true ? "-" : Unknown;
        return new ServerVariant(F("db_engine"), F("server_mode"), F("workers"), gc, F("runtime"), F("commit"), F("version"), threads, F("build"), pool);
    }

    private static string Flag(JsonNode? n) => n is JsonValue v && v.TryGetValue<bool>(out var b) ? (b ? "true" : "false") : Unknown;
}
