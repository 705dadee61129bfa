using ExBuy.Api.Data;
using ExBuy.Api.Data.Seeding;
using Spectre.Console;

namespace ExBuy.Api.Commands;

/// <summary>The <c>seed</c>, <c>reset</c> and <c>warmup</c> verbs: parse, run against the data host, print one clear line on failure.</summary>
public static class SeedCommands
{
    /// <summary>Exit code after Ctrl-C (128 + SIGINT, as shells report it).</summary>
    public const int Cancelled = 130;

    /// <summary><c>seed --help</c>, <c>reset --help</c>, <c>warmup --help</c>.</summary>
    public static int Help()
    {
        Console.WriteLine("Usage: dotnet run --project src/ExBuy.Api -- <command> [options]\n\n" + SeedCommandLine.Usage);
        return 0;
    }

    public static async Task<int> SeedAsync(IReadOnlyList<string> args, CancellationToken ct)
    {
        var options = SeedCommandLine.ParseSeed(args);
        using var host = ExBuyCommands.BuildDataHost();
        var database = host.Services.GetRequiredService<DatabaseOptions>();
        var method = Seeder.ResolveMethod(database, options.Method);
        Console.WriteLine($"exbuy seed: {options.Products:N0} products, {options.Orders:N0} orders, {options.Reviews:N0} reviews "
            + $"into {database.Describe()} (method {method.ToString().ToLowerInvariant()}, random seed {options.RandomSeed}, "
            + $"batch size {options.BatchSize}{(options.Reset ? ", reset" : "")}{(options.IfEmpty ? ", if empty" : "")})");
        try
        {
            if (!await DatabaseStartup.PrepareSchemaAsync(host.Services, database, ct))
            {
                return 1;
            }
            var report = Interactive()
                ? await SpectreSeedProgress.RunAsync(progress => Seeder.SeedAsync(host.Services, options, progress, ct))
                : await Seeder.SeedAsync(host.Services, options, new PlainSeedProgress(Console.Out), ct);
            if (report.Skipped is { } reason)
            {
                Console.WriteLine($"exbuy seed: {reason}; nothing to do (--if-empty).");
                return 0;
            }
            Console.WriteLine($"exbuy seed: loaded {report.Counts()} in {report.Elapsed.TotalSeconds:F1} s");
            SeedSummary.Write(report, Console.Out);
            return 0;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            Console.Error.WriteLine("exbuy seed: cancelled. The load runs in one transaction and was rolled back: the database is as it was.");
            return Cancelled;
        }
        catch (SeedFailedException ex)
        {
            Console.Error.WriteLine($"exbuy seed: {ex.Message} — rolled back, the database is as it was ({database.Describe()}). "
                + "Re-run with --reset to replace what is there.");
            return 1;
        }
        catch (Exception ex) when (DbErrors.InvolvesDatabase(ex))
        {
            Console.Error.WriteLine(DatabaseStartup.Explain(database, ex));
            return 1;
        }
    }

    public static async Task<int> ResetAsync(IReadOnlyList<string> args, CancellationToken ct)
    {
        SeedCommandLine.ParseReset(args);
        using var host = ExBuyCommands.BuildDataHost();
        var database = host.Services.GetRequiredService<DatabaseOptions>();
        try
        {
            if (!await DatabaseStartup.PrepareSchemaAsync(host.Services, database, ct))
            {
                return 1;
            }
            await Seeder.ResetAsync(host.Services, ct);
            Console.WriteLine($"exbuy reset: emptied {string.Join(", ", SeedTables.Names)} in {database.Describe()}; ids restart at 1.");
            return 0;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            Console.Error.WriteLine("exbuy reset: cancelled; nothing was changed.");
            return Cancelled;
        }
        catch (Exception ex) when (DbErrors.InvolvesDatabase(ex))
        {
            Console.Error.WriteLine(DatabaseStartup.Explain(database, ex));
            return 1;
        }
    }

    public static async Task<int> WarmupAsync(IReadOnlyList<string> args, CancellationToken ct)
    {
        var options = SeedCommandLine.ParseWarmup(args);
        using var client = new HttpClient { BaseAddress = options.Url, Timeout = TimeSpan.FromSeconds(15) };
        Console.WriteLine($"exbuy warmup: {options.Requests} requests to {options.Url} (optimize=false and true)");
        try
        {
            var result = await Warmup.RunAsync(client, options.Requests, ct);
            Warmup.WriteSummary(result, Console.Out);
            if (result.ServerErrors + result.Failures > 0)
            {
                Console.Error.WriteLine($"exbuy warmup: {result.ServerErrors} server errors and {result.Failures} unanswered requests (see above).");
                return 1;
            }
            return 0;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            Console.Error.WriteLine("exbuy warmup: cancelled.");
            return Cancelled;
        }
    }

    private static bool Interactive() =>
        !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive && AnsiConsole.Profile.Capabilities.Ansi;
}
