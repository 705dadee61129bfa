using System.ComponentModel;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ExBuy.Load;

public sealed class HistorySettings : CommandSettings
{
    [CommandOption("--results <DIR>")] [Description("results directory whose history.jsonl is read (default ./results)")]
    public string? Results { get; set; }
    [CommandOption("--last <N>")] [Description("the last N runs only (default: every run)")]
    public int? Last { get; set; }
    [CommandOption("--ids")] [Description("print only the run ids, oldest first, one per line (what `compare` takes)")]
    public bool Ids { get; set; }
    [CommandOption("--format <FORMAT>")] [Description("table | markdown (default: table on a terminal, markdown when redirected)")]
    public string? Format { get; set; }
}

/// <summary>
/// `exbuy-load history [--results DIR] [--last N] [--ids]`: the runs recorded in <c>&lt;results&gt;/history.jsonl</c> (one line per
/// <c>run</c> or <c>merge</c>), oldest first: time, run id, scenario, model, target, verdict, file, rps, p95, errors. Exit 0 (also
/// when there is no history yet: one line says so), 2 on a bad option.
/// </summary>
public sealed class HistoryCommand : Command<HistorySettings>
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private static readonly string[] Columns = ["time (UTC)", "run id", "scenario", "model", "target", "verdict", "file", "rps", "p95 ms", "errors"];

    public override int Execute(CommandContext context, HistorySettings settings, CancellationToken cancellationToken) =>
        Run(settings, Console.Out, Console.Error, Directory.GetCurrentDirectory(), Console.IsOutputRedirected);

    /// <summary>The command without the console: what tests call.</summary>
    public static int Run(HistorySettings settings, TextWriter output, TextWriter error, string workingDirectory, bool redirected)
    {
        if (CompareCommand.OutputFormat(settings.Format, redirected, "history", error) is not { } format) return 2;
        if (settings.Last is < 1)
        {
            error.WriteLine($"exbuy-load history: --last {settings.Last}: expected 1 or more");
            return 2;
        }
        var history = Path.Combine(Path.GetFullPath(settings.Results ?? "results", workingDirectory), "history.jsonl");
        var entries = File.Exists(history) ? Read(history) : [];
        if (settings.Last is int last) entries = entries.TakeLast(last).ToList();
        if (settings.Ids)
        {
            foreach (var e in entries) output.WriteLine(ResultFile.Str(e["run_id"]) ?? ResultFile.Str(e["file"]));
            return 0;
        }
        if (entries.Count == 0)
        {
            output.WriteLine($"no runs recorded yet in {history} (exbuy-load run adds a line per run)");
            return 0;
        }
        var rows = entries.Select(Row).ToList();
        if (format == "markdown") output.Write(CompareCommand.Markdown(Columns, rows, 7));
        else
        {
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
            if (redirected) console.Profile.Width = 200;
            console.Write(CompareCommand.Table(Columns, rows, 7));
        }
        output.WriteLine($"{entries.Count} run(s) from {history}; compare two with: exbuy-load compare <run id> <run id>");
        return 0;
    }

    /// <summary>Every parseable line, in file order; a line that is not a JSON object is skipped (as <c>compare</c> does).</summary>
    private static List<JsonObject> Read(string history)
    {
        var entries = new List<JsonObject>();
        foreach (var line in File.ReadLines(history))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                if (JsonNode.Parse(line) is JsonObject o) entries.Add(o);
            }
            catch (JsonException)
            {
            }
        }
        return entries;
    }

    private static string[] Row(JsonObject e)
    {
        string S(string name) => ResultFile.Str(e[name]) ?? "-";
        string N(string name, string fmt) => ResultFile.Num(e[name]) is double d ? d.ToString(fmt, Inv) : "-";
        var time = DateTimeOffset.TryParse(S("time"), Inv, DateTimeStyles.AssumeUniversal, out var t) ? t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", Inv) : S("time");
        var verdict = e["merged_from"] is JsonArray { Count: > 0 } parts ? $"{S("verdict")} (merged {parts.Count})" : S("verdict");
        return [time, S("run_id"), S("scenario"), S("model"), S("target"), verdict, S("file"), N("rps", "0.0"), N("p95_ms", "0.00"), N("errors", "0")];
    }
}
