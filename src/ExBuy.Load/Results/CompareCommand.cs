using System.ComponentModel;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ExBuy.Load;

public sealed class CompareSettings : CommandSettings
{
    [CommandArgument(0, "<RESULTS>")] [Description("two or more result files (or run ids of <results>/history.jsonl); deltas are against the first")]
    public string[] Files { get; set; } = [];
    [CommandOption("--format <FORMAT>")] [Description("table | markdown (default: table on a terminal, markdown when redirected)")]
    public string? Format { get; set; }
    [CommandOption("--results <DIR>")] [Description("results directory whose history.jsonl resolves run ids (default ./results)")]
    public string? Results { get; set; }
}

/// <summary>
/// `exbuy-load compare A.json B.json [C.json …]`: each run's scenario, model, duration, target and server variant, then per operation key
/// count, rps, p50/p95/p99/max (from the decoded histograms) and error rate, with deltas against A. Exit 0, or 2 on a bad file or option.
/// </summary>
public sealed class CompareCommand : Command<CompareSettings>
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public override int Execute(CommandContext context, CompareSettings settings, CancellationToken cancellationToken) =>
        Run(settings, Console.Out, Console.Error, Directory.GetCurrentDirectory(), Console.IsOutputRedirected);

    /// <summary>The command without the console: what tests call.</summary>
    public static int Run(CompareSettings settings, TextWriter output, TextWriter error, string workingDirectory, bool redirected)
    {
        if (OutputFormat(settings.Format, redirected, "compare", error) is not { } format) return 2;
        List<ResultFile> runs;
        try
        {
            if (settings.Files.Length < 2) throw new ResultFileException("compare needs at least two result files");
            var results = Path.GetFullPath(settings.Results ?? "results", workingDirectory);
            runs = ResultFile.LoadAll(settings.Files.Select(f => File.Exists(Path.Combine(workingDirectory, f)) ? Path.Combine(workingDirectory, f) : f), results);
        }
        catch (ResultFileException e)
        {
            error.WriteLine($"exbuy-load compare: {e.Message}");
            return 2;
        }
        var (head, headRows) = Header(runs);
        var (cols, rows) = Operations(runs);
        var (faultCols, faultRows) = FaultWindows(runs);
        const string legend = "Δ vs A in %: latency + is slower, rps + is more throughput; Δ err in percentage points. Percentiles from the decoded histograms (ms).";
        if (format == "markdown")
        {
            output.Write(Markdown(head, headRows, head.Length));
            output.WriteLine();
            output.Write(Markdown(cols, rows, 2));
            output.WriteLine();
            output.WriteLine(legend);
            if (faultRows.Count > 0)
            {
                output.WriteLine();
                output.Write(Markdown(faultCols, faultRows, 4));
            }
        }
        else
        {
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
            if (redirected) console.Profile.Width = 200;
            console.Write(Table(head, headRows, head.Length));
            console.Write(Table(cols, rows, 2));
            console.WriteLine(legend);
            if (faultRows.Count > 0) console.Write(Table(faultCols, faultRows, 4));
        }
        return 0;
    }

    /// <summary>
    /// <c>--format</c> of the commands that print tables: as given, else a table on a terminal and Markdown when redirected;
    /// null (and one line on <paramref name="error"/>) when it is neither.
    /// </summary>
    internal static string? OutputFormat(string? given, bool redirected, string command, TextWriter error)
    {
        var format = given ?? (redirected ? "markdown" : "table");
        if (format is "table" or "markdown") return format;
        error.WriteLine($"exbuy-load {command}: --format {format}: expected table or markdown");
        return null;
    }

    internal static string Label(int i) => i < 26 ? ((char)('A' + i)).ToString() : $"R{i + 1}";

    private static (string[] Cols, List<string[]> Rows) Header(List<ResultFile> runs)
    {
        var cols = new[] { "" }.Concat(runs.Select((_, i) => Label(i))).ToArray();
        string[] Row(string name, Func<ResultFile, string> f) => new[] { name }.Concat(runs.Select(f)).ToArray();
        var rows = new List<string[]>
        {
            Row("file", r => Path.GetFileName(r.Path)),
            Row("run id", r => r.RunId),
            Row("label", r => r.Label ?? "-"),
            Row("scenario", r => r.Scenario),
            Row("model", r => r.ModelText()),
            Row("duration", r => r.DurationSeconds.ToString("0.0", Inv) + " s"),
            Row("target", r => r.TargetUrl),
            Row("db_engine", r => r.Variant.DbEngine),
            Row("server_mode", r => r.Variant.ServerMode),
            Row("workers", r => r.Variant.Workers),
            Row("threads", r => r.Variant.Threads),
            Row("gc", r => r.Variant.Gc),
            Row("build", r => r.Variant.Build),
            Row("db_pool", r => r.Variant.DbPool),
            Row("runtime", r => r.Variant.Runtime),
            Row("commit", r => r.Variant.Commit),
            Row("correctness", r => r.CorrectnessVerdict),
            Row("verdict", r => r.Verdict),
        };
        if (runs.Any(r => r.MergedFrom.Count > 0)) rows.Add(Row("merged from", r => r.MergedFrom.Count == 0 ? "-" : string.Join(" ", r.MergedFrom)));
        return (cols, rows);
    }

    private static string Ms(double? v) => v is double d ? d.ToString("0.00", Inv) : "-";

    /// <summary>(b − a) ÷ a in %, signed; "-" when either is missing, "n/a" when a is 0 and b is not.</summary>
    internal static string Delta(double? a, double? b)
    {
        if (a is not double x || b is not double y) return "-";
        if (x == 0) return y == 0 ? "+0.0%" : "n/a";
        var d = (y - x) / x * 100;
        return (d >= 0 ? "+" : "") + d.ToString("0.0", Inv) + "%";
    }

    private static string Points(double a, double b)
    {
        var pp = (b - a) * 100;
        return (pp >= 0 ? "+" : "") + pp.ToString("0.00", Inv) + "pp";
    }

    private static (string[] Cols, List<string[]> Rows) Operations(List<ResultFile> runs)
    {
        var cols = new[] { "operation", "run", "count", "rps", "p50", "p95", "p99", "max", "err %", "Δ rps", "Δ p50", "Δ p95", "Δ p99", "Δ max", "Δ err" };
        var rows = new List<string[]>();
        var keys = runs.SelectMany(r => r.Operations.Keys).Distinct().Order(StringComparer.Ordinal).ToList();
        foreach (var key in keys.Append("all"))
        {
            OperationResult? Op(ResultFile r) => key == "all" ? r.Totals : r.Operations.GetValueOrDefault(key);
            var a = Op(runs[0]);
            for (var i = 0; i < runs.Count; i++)
            {
                var o = Op(runs[i]);
                var row = new List<string> { i == 0 ? key : "", Label(i) };
                if (o is null) row.AddRange(Enumerable.Repeat("-", 7));
                else row.AddRange([o.Count.ToString(Inv), o.Rps.ToString("0.0", Inv), Ms(o.LatencyMs(50)), Ms(o.LatencyMs(95)), Ms(o.LatencyMs(99)), Ms(o.MaxMs),
                    (o.ErrorRate * 100).ToString("0.00", Inv)]);
                if (i == 0) row.AddRange(Enumerable.Repeat("", 6));
                else
                {
                    row.AddRange([Delta(a?.Rps, o?.Rps), Delta(a?.LatencyMs(50), o?.LatencyMs(50)), Delta(a?.LatencyMs(95), o?.LatencyMs(95)),
                        Delta(a?.LatencyMs(99), o?.LatencyMs(99)), Delta(a?.MaxMs, o?.MaxMs),
                        a is null || o is null ? "-" : Points(a.ErrorRate, o.ErrorRate)]);
                }
                rows.Add(row.ToArray());
            }
        }
        return (cols, rows);
    }

    /// <summary>The fault windows of runs made with <c>run --faults</c> (<c>faults[].stats</c>), as recorded; none when no run has them.</summary>
    private static (string[] Cols, List<string[]> Rows) FaultWindows(List<ResultFile> runs)
    {
        var cols = new[] { "run", "fault window", "from–to s", "rules", "requests", "rps", "p50", "p99", "err %", "faulted" };
        var rows = new List<string[]>();
        for (var i = 0; i < runs.Count; i++)
        {
            foreach (var w in (runs[i].Json["faults"] as JsonArray ?? []).OfType<JsonObject>())
            {
                var st = w["stats"] as JsonObject;
                string N(string name, string format) => ResultFile.Num(st?[name]) is double d ? d.ToString(format, Inv) : "-";
                var rules = w["rules"] is JsonArray r ? FaultTimeline.Describe(r) : "-";
                if (ResultFile.Str(w["error"]) is not null) rules = "NOT APPLIED: " + rules;
                rows.Add([Label(i), ResultFile.Str(w["label"]) ?? "fault",
                    $"{(ResultFile.Num(w["start_s"]) ?? 0).ToString("0.#", Inv)}–{(ResultFile.Num(w["end_s"]) ?? 0).ToString("0.#", Inv)}", rules,
                    N("requests", "0"), N("rps", "0.0"), N("p50_ms", "0.00"), N("p99_ms", "0.00"),
                    ResultFile.Num(st?["error_rate"]) is double e ? (e * 100).ToString("0.00", Inv) : "-", N("faulted", "0")]);
            }
        }
        return (cols, rows);
    }

    private static string Cell(string s) => s.Replace("|", "\\|", StringComparison.Ordinal);

    internal static string Markdown(string[] cols, List<string[]> rows, int leftColumns)
    {
        var sb = new StringBuilder();
        sb.Append("| ").AppendJoin(" | ", cols.Select(Cell)).Append(" |\n");
        sb.Append('|').AppendJoin('|', cols.Select((_, i) => i < leftColumns ? "---" : "---:")).Append("|\n");
        foreach (var r in rows) sb.Append("| ").AppendJoin(" | ", r.Select(Cell)).Append(" |\n");
        return sb.ToString();
    }

    internal static Table Table(string[] cols, List<string[]> rows, int leftColumns)
    {
        var t = new Table();
        for (var i = 0; i < cols.Length; i++)
        {
            var c = new TableColumn(Markup.Escape(cols[i]));
            if (i >= leftColumns) c.RightAligned();
            t.AddColumn(c);
        }
        foreach (var r in rows) t.AddRow(r.Select(Markup.Escape).ToArray());
        return t;
    }
}
