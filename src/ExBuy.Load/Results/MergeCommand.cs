using System.ComponentModel;
using Spectre.Console.Cli;

namespace ExBuy.Load;

public sealed class MergeSettings : CommandSettings
{
    [CommandArgument(0, "<RESULTS>")] [Description("result files (or run ids of <results>/history.jsonl) of runner processes that ran at the same time")]
    public string[] Files { get; set; } = [];
    [CommandOption("--out <FILE>")] [Description("merged result file (default <results>/<scenario>-merged-<utc timestamp>.json)")]
    public string? Out { get; set; }
    [CommandOption("--results <DIR>")] [Description("results directory: run ids are looked up in, and the merged run appended to, its history.jsonl (default ./results)")]
    public string? Results { get; set; }
    [CommandOption("--force")] [Description("merge different scenarios or targets anyway")]
    public bool Force { get; set; }
}

/// <summary>`exbuy-load merge A.json B.json … --out merged.json`: see <see cref="ResultMerge"/>. Exit 0 written, 2 bad file or refused.</summary>
public sealed class MergeCommand : AsyncCommand<MergeSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, MergeSettings settings, CancellationToken cancellationToken) =>
        await RunAsync(settings, Console.Out, Console.Error, Directory.GetCurrentDirectory());

    /// <summary>The command without the console: what tests call.</summary>
    public static async Task<int> RunAsync(MergeSettings settings, TextWriter output, TextWriter error, string workingDirectory)
    {
        try
        {
            if (settings.Files.Length < 2) throw new ResultFileException("merge needs at least two result files");
            var results = Path.GetFullPath(settings.Results ?? "results", workingDirectory);
            var parts = ResultFile.LoadAll(settings.Files.Select(f => File.Exists(Path.Combine(workingDirectory, f)) ? Path.Combine(workingDirectory, f) : f), results);
            var now = DateTimeOffset.UtcNow;
            var merged = ResultMerge.Merge(parts, settings.Force, now);
            var outFile = settings.Out is { } o ? Path.GetFullPath(o, workingDirectory)
                : Path.Combine(results, $"{parts[0].Scenario}-merged-{now.UtcDateTime:yyyyMMdd'T'HHmmss'Z'}.json");
            if (settings.Force && ResultMerge.Conflicts(parts) is { Count: > 0 } forced)
                foreach (var c in forced) await error.WriteLineAsync($"exbuy-load merge: --force: {c}");
            var history = await ResultMerge.WriteAsync(merged, outFile, results);
            var totals = merged["totals"]!;
            await output.WriteLineAsync($"merged {parts.Count} results ({string.Join(", ", parts.Select(p => p.RunId))}): {totals["count"]} requests, {totals["errors"]} errors, verdict {merged["verdict"]}");
            await output.WriteLineAsync($"series: {merged["series_note"]}");
            if (merged["correctness"]?["checked"]?.GetValue<bool>() == true) await output.WriteLineAsync($"correctness: {ResultMerge.LedgerNote}");
            await output.WriteLineAsync($"result: {outFile}");
            await output.WriteLineAsync($"history: {history}");
            return 0;
        }
        catch (ResultFileException e)
        {
            await error.WriteLineAsync($"exbuy-load merge: {e.Message}");
            return 2;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await error.WriteLineAsync($"exbuy-load merge: cannot write: {e.Message}");
            return 2;
        }
    }
}
