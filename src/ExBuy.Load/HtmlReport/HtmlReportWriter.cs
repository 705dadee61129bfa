using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using HdrHistogram;

namespace ExBuy.Load.HtmlReport;

/// <summary>One result file (<c>"schema": "exbuy-load/1"</c>) read for the report.</summary>
public sealed record ReportRun(string Path, JsonObject Result);

/// <summary>
/// <c>exbuy-load report</c>: one self-contained HTML page of one or more result files. uPlot (vendored, MIT) and the page's
/// script and style are inlined; the data is one JSON blob in <c>&lt;script type="application/json" id="exbuy-data"&gt;</c>.
/// </summary>
public static class HtmlReportWriter
{
    public const string UPlotVersion = "1.6.32";
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Reads a result file; throws <see cref="FormatException"/> when it is not an exbuy-load/1 result.</summary>
    public static ReportRun Read(string path)
    {
        JsonNode? node;
        try { node = JsonNode.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new FormatException($"{path}: not JSON ({e.Message})"); }
        if (node is not JsonObject o || o["schema"]?.GetValueKind() != JsonValueKind.String || o["schema"]!.GetValue<string>() != "exbuy-load/1")
            throw new FormatException($"{path}: not an exbuy-load result (\"schema\": \"exbuy-load/1\" expected)");
        return new ReportRun(path, o);
    }

    /// <summary>results/report-&lt;utc&gt;.html next to the first result file.</summary>
    public static string DefaultOut(string firstFile, DateTimeOffset now) =>
        System.IO.Path.Combine(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(firstFile)) ?? ".",
            $"report-{now.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", Inv)}.html");

    /// <summary>The percentiles the distribution curves are drawn at: 1/(1−p) = 10^(k/10), k = 0..60 (0 % … 99.9999 %).</summary>
    public static IEnumerable<double> CurveXs(long maxCount)
    {
        for (var k = 0; k <= 60; k++)
        {
            var x = Math.Pow(10, k / 10.0);
            if (k > 0 && x > Math.Max(maxCount, 10)) yield break;
            yield return x;
        }
    }

    private static double R(double v) => Math.Round(v, 3);

    /// <summary>Latency (ms) at each percentile of <see cref="CurveXs"/> per operation key, from the decoded histograms.</summary>
    public static JsonObject Curves(JsonObject result)
    {
        var ops = result["operations"] as JsonObject ?? [];
        var decoded = new List<(string Key, HdrHistogram.HistogramBase H)>();
        foreach (var (key, node) in ops)
        {
            var encoded = node?["histograms"]?["latency"]?.GetValue<string>();
            if (string.IsNullOrEmpty(encoded)) continue;
            var h = Hdr.Decode(encoded);
            if (h.TotalCount > 0) decoded.Add((key, h));
        }
        var xs = CurveXs(decoded.Count == 0 ? 0 : decoded.Max(d => d.H.TotalCount)).ToArray();
        var series = new JsonArray();
        foreach (var (key, h) in decoded)
        {
            var ms = new JsonArray();
            foreach (var x in xs)
                ms.Add(x > Math.Max(h.TotalCount, 10) ? null : (JsonNode)R(h.GetValueAtPercentile(100 * (1 - 1 / x)) / 1000.0));
            series.Add(new JsonObject { ["key"] = key, ["count"] = h.TotalCount, ["max_ms"] = R(h.GetMaxValue() / 1000.0), ["ms"] = ms });
        }
        return new JsonObject { ["x"] = new JsonArray(xs.Select(x => (JsonNode)Math.Round(x, 4)).ToArray()), ["series"] = series };
    }

    private static JsonNode? Copy(JsonNode? n) => n?.DeepClone();

    /// <summary>What the page's script reads for one run: the result without its histograms, the series as columns, the curves.</summary>
    public static JsonObject RunData(ReportRun run, int index)
    {
        var r = run.Result;
        var cols = new Dictionary<string, JsonArray>();
        foreach (var name in new[] { "t", "vus", "rps", "p50", "p95", "p99", "errors", "count" }) cols[name] = [];
        foreach (var p in r["series"] as JsonArray ?? [])
            foreach (var (name, col) in cols) col.Add(Copy(p?[name]));
        var ops = new JsonArray();
        foreach (var (key, node) in r["operations"] as JsonObject ?? [])
        {
            if (node is not JsonObject o) continue;
            var copy = (JsonObject)o.DeepClone();
            copy.Remove("histograms");
            copy["key"] = key;
            ops.Add(copy);
        }
        var config = r["config"] as JsonObject;
        return new JsonObject
        {
            ["index"] = index,
            ["label"] = $"#{index + 1} {System.IO.Path.GetFileNameWithoutExtension(run.Path)}",
            ["file"] = System.IO.Path.GetFileName(run.Path),
            ["run_id"] = Copy(r["run_id"]),
            ["scenario"] = Copy(r["scenario"]),
            ["description"] = Copy(r["description"]),
            ["started_at"] = Copy(r["started_at"]),
            ["duration_s"] = Copy(r["duration_s"]),
            ["git_commit"] = Copy(r["git_commit"]),
            ["config"] = Copy(config),
            ["target"] = Copy(r["target"]),
            ["totals"] = r["totals"] is JsonObject t ? Without(t, "histogram") : null,
            ["open_model"] = Copy(r["open_model"]),
            ["series"] = new JsonObject(cols.Select(c => new KeyValuePair<string, JsonNode?>(c.Key, c.Value))),
            ["operations"] = ops,
            ["curves"] = Curves(r),
            ["correctness"] = Copy(r["correctness"]),
            ["thresholds"] = Copy(r["thresholds"]),
            ["verdict"] = Copy(r["verdict"]),
            ["exit_code"] = Copy(r["exit_code"]),
            ["server_metrics"] = Copy(r["server_metrics"]),
            // Fault windows ({start_s, end_s, label, rules, applied_at, error, stats}, seconds from the start of the measured phase) and
            // the timeline they came from, when a result has them (run --faults).
            ["faults"] = r["faults"] is JsonArray windows
                ? new JsonArray(windows.Select(w => { var c = w?.DeepClone(); (c as JsonObject)?.Remove("histogram"); return c; }).ToArray())
                : null,
            ["fault_timeline"] = Copy(r["fault_timeline"]),
        };
    }

    private static JsonObject Without(JsonObject o, string name)
    {
        var copy = (JsonObject)o.DeepClone();
        copy.Remove(name);
        return copy;
    }

    private static readonly JsonSerializerOptions BlobOptions = new() { Encoder = JavaScriptEncoder.Default, WriteIndented = false };

    public static string Resource(string name)
    {
        using var stream = typeof(HtmlReportWriter).Assembly.GetManifestResourceStream("ExBuy.Load.HtmlReport." + name)
            ?? throw new InvalidOperationException($"embedded resource {name} missing");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    /// <summary>The page: every script and style inline, no reference to the network.</summary>
    public static string Build(IReadOnlyList<ReportRun> runs, DateTimeOffset now)
    {
        var data = new JsonObject
        {
            ["schema"] = "exbuy-load-report/1",
            ["generated_at"] = now.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", Inv),
            ["uplot_version"] = UPlotVersion,
            ["runs"] = new JsonArray(runs.Select((r, i) => (JsonNode)RunData(r, i)).ToArray()),
        };
        // The default encoder writes <, > and & as \u003C..., so the blob cannot end its <script> element.
        var blob = data.ToJsonString(BlobOptions);
        var title = runs.Count == 1
            ? $"exbuy-load: {runs[0].Result["scenario"]?.ToString()}"
            : $"exbuy-load: {runs.Count} runs ({string.Join(", ", runs.Select(r => r.Result["scenario"]?.ToString()).Distinct())})";
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        sb.Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        sb.Append("<title>").Append(HtmlEncoder.Default.Encode(title)).Append("</title>\n");
        sb.Append("<!-- uPlot ").Append(UPlotVersion).Append(" (MIT, (c) Leon Sorokin), inlined from src/ExBuy.Load/HtmlReport/vendor -->\n");
        sb.Append("<style>\n").Append(Resource("uPlot.min.css")).Append("\n</style>\n");
        sb.Append("<style>\n").Append(Resource("report.css")).Append("\n</style>\n");
        sb.Append("</head>\n<body data-charts-rendered=\"0\">\n");
        sb.Append("<h1>").Append(HtmlEncoder.Default.Encode(title)).Append("</h1>\n");
        sb.Append("<noscript>The charts and tables of this report are drawn by its inline script.</noscript>\n");
        sb.Append("<div id=\"report\"></div>\n");
        sb.Append("<script type=\"application/json\" id=\"exbuy-data\">").Append(blob).Append("</script>\n");
        sb.Append("<script>\n").Append(Resource("uPlot.iife.min.js")).Append("\n</script>\n");
        sb.Append("<script>\n").Append(Resource("report.js")).Append("\n</script>\n");
        sb.Append("</body>\n</html>\n");
        return sb.ToString();
    }

    public static async Task<string> WriteAsync(IReadOnlyList<string> files, string? outPath, DateTimeOffset now)
    {
        var runs = files.Select(Read).ToList();
        var path = outPath ?? DefaultOut(files[0], now);
        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        await File.WriteAllTextAsync(path, Build(runs, now), new UTF8Encoding(false));
        return path;
    }
}
