using System.Diagnostics;
using Npgsql;

namespace ExBuy.Api.Data.Seeding;

/// <summary>One step of a load: a table (rows written) or a phase (generate, prepare, indexes, analyze, commit).</summary>
public sealed record SeedStep(string Name, long Rows, TimeSpan Elapsed)
{
    public double RowsPerSecond => Rows > 0 && Elapsed > TimeSpan.Zero ? Rows / Elapsed.TotalSeconds : 0;
}

public sealed record SeedReport(string Engine, SeedMethod Method, int RandomSeed, IReadOnlyList<SeedStep> Steps, TimeSpan Elapsed)
{
    /// <summary>Why nothing was loaded (<see cref="SeedOptions.IfEmpty"/> on a non-empty database), else null.</summary>
    public string? Skipped { get; init; }

    public long RowsOf(string table) => Steps.FirstOrDefault(s => s.Name == table)?.Rows ?? 0;

    public long TotalRows => SeedTables.Names.Sum(RowsOf);

    /// <summary>"1,000 products, 5,000 orders (11,650 items), 10,000 reviews".</summary>
    public string Counts() =>
        $"{RowsOf("products"):N0} products, {RowsOf("orders"):N0} orders ({RowsOf("order_items"):N0} items), {RowsOf("reviews"):N0} reviews";
}

/// <summary>Receives progress while a load runs (terminal progress bars, log lines, or a test's hook).</summary>
public interface ISeedProgress
{
    /// <summary>A step begins; <paramref name="total"/> is its row count, 0 for a step without rows.</summary>
    void Started(string step, long total);

    void Advanced(string step, long rows);

    void Finished(SeedStep step);
}

/// <summary>A load failed after it started; the transaction was rolled back.</summary>
public sealed class SeedFailedException(string step, Exception inner)
    : Exception($"failed during {step}: {inner.Message.ReplaceLineEndings(" ").Trim()}", inner)
{
    public string Step => step;
}

/// <summary>
/// Loads generated data (<see cref="SeedGenerator"/>) into the app's database: one transaction, ids explicit, secondary
/// indexes rebuilt after the load, sequences moved past the loaded ids, statistics refreshed. Cancelling (Ctrl-C) or any
/// failure rolls the whole load back, so no table is ever left half-loaded.
/// </summary>
public static class Seeder
{
    public static Task<SeedReport> SeedAsync(IServiceProvider services, SeedOptions options, CancellationToken ct) =>
        SeedAsync(services, options, null, ct);

    public static async Task<SeedReport> SeedAsync(IServiceProvider services, SeedOptions options, ISeedProgress? progress, CancellationToken ct)
    {
        options.Validate();
        var database = services.GetRequiredService<DatabaseOptions>();
        var method = ResolveMethod(database, options.Method);
        var total = Stopwatch.StartNew();
        var steps = new List<SeedStep>();

        await using var store = CreateStore(services, database);
        // Connection problems surface here, unwrapped, so the caller can explain them (DatabaseStartup.Explain).
        await store.BeginAsync(ct);
        var current = "start";
        try
        {
            if (!options.Reset)
            {
                current = "check";
                var counts = await store.CountRowsAsync(ct);
                var busy = Array.FindIndex(counts, c => c > 0);
                if (busy >= 0)
                {
                    var existing = $"database already has {counts[busy]:N0} {SeedTables.Names[busy]}";
                    // --if-empty: nothing to do; disposing the store rolls the (read-only) transaction back.
                    return options.IfEmpty
                        ? new SeedReport(store.Engine, method, options.RandomSeed, steps, total.Elapsed) { Skipped = existing }
                        : throw new SeedException($"{existing}; use --reset to replace them.");
                }
            }

            current = "generate";
            var plan = await RunStepAsync(steps, progress, current, 0,
                () => Task.Run(() => SeedGenerator.Generate(options, ct), ct), p => p.TotalRows);

            current = "prepare";
            await RunStepAsync(steps, progress, current, 0, async () =>
            {
                await store.EmptyAsync(ct);
                await store.DropSecondaryAsync(ct);
                return 0;
            }, _ => 0);

            foreach (var table in SeedTables.All)
            {
                current = table.Name;
                var rows = table.RowCount(plan);
                var name = table.Name;
                await RunStepAsync(steps, progress, name, rows, async () =>
                {
                    await store.LoadAsync(table, plan, method, options.BatchSize, n => progress?.Advanced(name, n), ct);
                    return rows;
                }, r => r);
            }

            current = "indexes";
            await RunStepAsync(steps, progress, current, 0, async () =>
            {
                await store.RecreateSecondaryAsync(ct);
                await store.AdvanceSequencesAsync(ct);
                return 0;
            }, _ => 0);

            current = "analyze";
            await RunStepAsync(steps, progress, current, 0, async () =>
            {
                await store.AnalyzeAsync(ct);
                return 0;
            }, _ => 0);

            current = "commit";
            await RunStepAsync(steps, progress, current, 0, async () =>
            {
                await store.CommitAsync(ct);
                return 0;
            }, _ => 0);
        }
        catch (Exception ex) when (ex is not (OperationCanceledException or SeedException))
        {
            throw new SeedFailedException(current, ex);
        }
        return new SeedReport(store.Engine, method, options.RandomSeed, steps, total.Elapsed);
    }

    /// <summary>Empties every table and restarts the ids (the <c>reset</c> command), in one transaction.</summary>
    public static async Task ResetAsync(IServiceProvider services, CancellationToken ct)
    {
        await using var store = CreateStore(services, services.GetRequiredService<DatabaseOptions>());
        await store.BeginAsync(ct);
        await store.EmptyAsync(ct);
        await store.CommitAsync(ct);
    }

    public static SeedMethod ResolveMethod(DatabaseOptions database, SeedMethod? requested) => requested switch
    {
        null => database.IsPostgres ? SeedMethod.Copy : SeedMethod.Insert,
        SeedMethod.Copy when !database.IsPostgres =>
            throw new SeedException("--method copy needs PostgreSQL (DB_ENGINE=postgres); SQLite loads with --method insert."),
        var m => m.Value,
    };

    private static ISeedStore CreateStore(IServiceProvider services, DatabaseOptions database) => database.IsPostgres
        ? new PostgresSeedStore(services.GetRequiredService<NpgsqlDataSource>())
        : new SqliteSeedStore(services);

    private static async Task<T> RunStepAsync<T>(List<SeedStep> steps, ISeedProgress? progress, string name, long total,
        Func<Task<T>> run, Func<T, long> rows)
    {
        progress?.Started(name, total);
        var watch = Stopwatch.StartNew();
        var result = await run();
        var step = new SeedStep(name, rows(result), watch.Elapsed);
        steps.Add(step);
        progress?.Finished(step);
        return result;
    }
}
