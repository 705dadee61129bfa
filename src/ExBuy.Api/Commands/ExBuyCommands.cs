using ExBuy.Api.Data;
using ExBuy.Api.Data.Seeding;
using Microsoft.EntityFrameworkCore;

namespace ExBuy.Api.Commands;

/// <summary>The verbs of the one executable (the original's manage.py): <c>migrate</c>, <c>seed</c>, <c>reset</c>, <c>warmup</c>.</summary>
public static class ExBuyCommands
{
    private static readonly string[] Verbs = ["migrate", "seed", "reset", "warmup", "healthcheck", "help"];

    public static bool IsCommand(string[] args) =>
        args.Length > 0 && (Verbs.Contains(args[0]) || args[0] is "--help" or "-h");

    public static async Task<int> RunAsync(string[] args)
    {
        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cts.Cancel();
        };
        // A container stop (SIGTERM) cancels the same way as Ctrl-C, so a seed says it rolled back instead of vanishing.
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(
            System.Runtime.InteropServices.PosixSignal.SIGTERM, ctx =>
            {
                ctx.Cancel = true;
                cts.Cancel();
            });
        try
        {
            return args[0] switch
            {
                "migrate" => await MigrateAsync(cts.Token),
                "seed" or "reset" or "warmup" or "healthcheck" when SeedCommandLine.WantsHelp(args) => SeedCommands.Help(),
                "seed" => await SeedCommands.SeedAsync(args[1..], cts.Token),
                "reset" => await SeedCommands.ResetAsync(args[1..], cts.Token),
                "warmup" => await SeedCommands.WarmupAsync(args[1..], cts.Token),
                "healthcheck" => await HealthCheckCommand.RunAsync(args[1..], cts.Token),
                _ => Help(),
            };
        }
        // A bad argument, a load the seeder refuses, a bad setting: one line, nothing touched.
        catch (Exception ex) when (ex is CommandException or SeedException or ConfigurationError)
        {
            Console.Error.WriteLine($"exbuy {args[0]}: {ex.Message}");
            return 2;
        }
    }

    /// <summary>A host with the data layer only (no web server) for the command verbs.</summary>
    public static IHost BuildDataHost()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddExBuyData(builder.Configuration);
        return builder.Build();
    }

    private static async Task<int> MigrateAsync(CancellationToken ct)
    {
        using var host = BuildDataHost();
        var options = host.Services.GetRequiredService<DatabaseOptions>();
        try
        {
            await using var scope = host.Services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<ExBuyDb>();
            var pending = (await db.Database.GetPendingMigrationsAsync(ct)).ToList();
            await db.Database.MigrateAsync(ct);
            Console.WriteLine(pending.Count == 0
                ? $"exbuy migrate: {options.Describe()} is up to date."
                : $"exbuy migrate: applied {string.Join(", ", pending)} to {options.Describe()}.");
            return 0;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Console.Error.WriteLine(DatabaseStartup.Explain(options, ex));
            return 1;
        }
    }

    private static int Help()
    {
        Console.WriteLine($"""
            Usage: dotnet run --project src/ExBuy.Api [-- <command> [options]]

              (no command)   migrate, seed an empty SQLite database (SEED_ON_EMPTY), and serve (http://127.0.0.1:8000)
              migrate        apply database migrations and exit
            {SeedCommandLine.Usage}

            The database comes from DB_ENGINE (sqlite|postgres), DB_PATH, DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD.
            Examples: seed --preset large --reset    seed --products 300 --orders 600 --reviews 900 --random-seed 7
            """);
        return 0;
    }
}
