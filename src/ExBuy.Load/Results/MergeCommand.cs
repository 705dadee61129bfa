using System.ComponentModel;
using System.Text.Json.Nodes;
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
    [CommandOption("--force")] [Description("merge different scenarios or targets, a run twice, or shards of different runs or an incomplete set anyway (an incomplete set's stock is then unverifiable)")]
    public bool Force { get; set; }
    [CommandOption("--base-url <URL>")] [Description("shard results: read the end stock from this target now (valid only if nothing wrote to it since the shards ended) instead of the latest shard's end snapshot")]
    public string? BaseUrl { get; set; }
}

/// <summary>`exbuy-load merge A.json B.json … --out merged.json`: see <see cref="ResultMerge"/>. Exit 0 written, 2 bad file or refused.</summary>
public sealed class MergeCommand : AsyncCommand<MergeSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, MergeSettings settings, CancellationToken cancellationToken) =>
        await RunAsync(settings, Console.Out, Console.Error, Directory.GetCurrentDirectory(), cancellationToken);

    /// <summary>The command without the console: what tests call.</summary>
    public static async Task<int> RunAsync(MergeSettings settings, TextWriter output, TextWriter error, string workingDirectory, CancellationToken ct = default)
    {
        try
        {
            if (settings.Files.Length == 0) throw new ResultFileException("merge needs at least two result files (or every shard of a run)");
            var results = Path.GetFullPath(settings.Results ?? "results", workingDirectory);
            var parts = ResultFile.LoadAll(settings.Files.Select(f => File.Exists(Path.Combine(workingDirectory, f)) ? Path.Combine(workingDirectory, f) : f), results);
            EndSnapshot? end = null;
            if (settings.BaseUrl is not null)
            {
                end = await ReadEndSnapshotAsync(settings.BaseUrl, parts, settings.Force, error, ct);
                await output.WriteLineAsync($"end snapshot: stock of {end.Stock.Count} products read from {end.BaseUrl} ({end.Stock.Values.Count(v => v is null)} unreadable)");
            }
            var now = DateTimeOffset.UtcNow;
            var merged = ResultMerge.Merge(parts, settings.Force, now, end);
            var outFile = settings.Out is { } o ? Path.GetFullPath(o, workingDirectory)
                : Path.Combine(results, $"{parts[0].Scenario}-merged-{now.UtcDateTime:yyyyMMdd'T'HHmmss'Z'}.json");
            if (settings.Force && ResultMerge.Conflicts(parts) is { Count: > 0 } forced)
                foreach (var c in forced) await error.WriteLineAsync($"exbuy-load merge: --force: {c}");
            var history = await ResultMerge.WriteAsync(merged, outFile, results);
            var totals = merged["totals"]!;
            await output.WriteLineAsync($"merged {parts.Count} results ({string.Join(", ", parts.Select(p => p.RunId))}): {totals["count"]} requests, {totals["errors"]} errors, verdict {merged["verdict"]}");
            await output.WriteLineAsync($"series: {merged["series_note"]}");
            if (merged["shards"] is not null && merged["correctness"] is JsonObject cr)
            {
                var verdict = ResultFile.Str(cr["verdict"]) ?? (cr["checked"]?.GetValue<bool>() == true ? "OK" : "not checked");
                await output.WriteLineAsync($"correctness: {verdict} ({cr["products"]} products, {cr["verified"]} verified, {cr["unverifiable"]} unverifiable, {(cr["violations"] as JsonArray)?.Count ?? 0} violations)");
                foreach (var v in (cr["violations"] as JsonArray ?? []).Take(20)) await output.WriteLineAsync($"  product {v?["product_id"]}: {v?["detail"]}");
                foreach (var v in (cr["other_violations"] as JsonArray ?? []).Take(20)) await output.WriteLineAsync($"  {v}");
                foreach (var v in (cr["unverifiable_products"] as JsonArray ?? []).Take(10)) await output.WriteLineAsync($"  unverifiable: product {v?["product_id"]}: {v?["detail"]}");
                await output.WriteLineAsync($"note: {cr["note"]}");
            }
            else if (merged["correctness"]?["checked"]?.GetValue<bool>() == true) await output.WriteLineAsync($"correctness: {ResultMerge.LedgerNote}");
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

    /// <summary>`--base-url`: the stock of every product of the shards' ledgers, read from the target now.</summary>
    private static async Task<EndSnapshot> ReadEndSnapshotAsync(string baseUrl, IReadOnlyList<ResultFile> parts, bool force, TextWriter error, CancellationToken ct)
    {
        if (!Uri.TryCreate(baseUrl.TrimEnd('/'), UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https") || !string.IsNullOrEmpty(url.Query))
            throw new ResultFileException($"--base-url: '{baseUrl}' is not an absolute http(s) URL without a query");
        if (parts.All(p => p.Ledger is null))
            throw new ResultFileException("--base-url: only for shard results with a ledger (run --shard i/n of a scenario that writes)");
        var target = url.ToString().TrimEnd('/');
        var theirs = parts.Select(p => p.TargetUrl.TrimEnd('/')).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        if (!theirs.Contains(target, StringComparer.OrdinalIgnoreCase))
        {
            var what = $"--base-url: {target} is not the shards' target ({string.Join(", ", theirs)})";
            if (!force) throw new ResultFileException($"{what}; --force reads the end snapshot from {target} anyway (right when it is the same server under another name)");
            await error.WriteLineAsync($"exbuy-load merge: --force: {what}");
        }
        var ids = ShardMerge.ProductIds(parts);
        using var http = LoadRunner.CreateClient(url, 8);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(120));
        var at = DateTimeOffset.UtcNow;
        Dictionary<long, long?> stock;
        try { stock = await Discovery.ReadStockAsync(http, ids, 8, timeout.Token); }
        catch (OperationCanceledException) { throw new ResultFileException($"--base-url: reading the stock of {ids.Count} products from {target} took more than 120 s"); }
        var done = DateTimeOffset.UtcNow;
        if (ids.Count > 0 && stock.Values.All(v => v is null))
            throw new ResultFileException($"--base-url: {target} answered no product's stock (GET /api/products/{{id}}): is the target up?");
        return new EndSnapshot(target, at, done, stock);
    }
}
