using ExBuy.Api.Data.Seeding;
using ExBuy.Api.Observability;
using Microsoft.EntityFrameworkCore;

namespace ExBuy.Api.Data;

/// <summary>Start-up database work: migrate (DB_MIGRATE, default on) and seed an empty database (SEED_ON_EMPTY).</summary>
public static class DatabaseStartup
{
    /// <summary>Returns false after printing one line that says what is wrong and how to fix it.</summary>
    public static async Task<bool> PrepareAsync(IServiceProvider services, DatabaseOptions options, CancellationToken ct)
    {
        try
        {
            if (!await PrepareSchemaAsync(services, options, ct))
            {
                return false;
            }
            await using var scope = services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<ExBuyDb>();
            if (!string.Equals(options.SeedOnEmpty, "none", StringComparison.OrdinalIgnoreCase)
                && !await db.Products.AnyAsync(ct))
            {
                var seed = SeedPresets.Resolve(options.SeedOnEmpty);
                StartupLines.Info(services, $"Database is empty: seeding preset '{options.SeedOnEmpty}' (SEED_ON_EMPTY=none turns this off) ...");
                var report = await Seeder.SeedAsync(services, seed, ct);
                StartupLines.Info(services, $"Seeded {report.Counts()} in {report.Elapsed.TotalSeconds:F1} s.");
            }
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Console.Error.WriteLine(Explain(options, ex));
            return false;
        }
    }

    /// <summary>
    /// Applies pending migrations (DB_MIGRATE, default on) or, with them turned off, checks that the database answers:
    /// start-up, <c>seed</c> and <c>reset</c> all begin here, so each works on a fresh database. Returns false after
    /// printing one line when the database does not answer; any other failure is thrown for the caller to explain.
    /// </summary>
    public static async Task<bool> PrepareSchemaAsync(IServiceProvider services, DatabaseOptions options, CancellationToken ct)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ExBuyDb>();
        if (options.MigrateOnStart)
        {
            await db.Database.MigrateAsync(ct);
            return true;
        }
        if (await db.Database.CanConnectAsync(ct))
        {
            return true;
        }
        Console.Error.WriteLine(Explain(options, new InvalidOperationException("the database does not answer")));
        return false;
    }

    /// <summary>One line: which database, what failed, what to do.</summary>
    public static string Explain(DatabaseOptions options, Exception ex)
    {
        var reason = DbErrors.RootCause(ex).Message.ReplaceLineEndings(" ").Trim().TrimEnd('.');
        var fix = options.IsPostgres
            ? "Start PostgreSQL or set DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD (DB_ENGINE=sqlite needs no server)."
            : "Check DB_PATH (its folder must exist and be writable).";
        return DbErrors.IsDatabaseFailure(ex)
            ? $"exbuy: cannot use the database ({options.Describe()}): {reason}. {fix}"
            : $"exbuy: database start-up failed ({options.Describe()}): {reason}. {fix}";
    }
}
