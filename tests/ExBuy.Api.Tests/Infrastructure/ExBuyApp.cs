using ExBuy.Api.Data;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ExBuy.Api.Tests.Infrastructure;

/// <summary>The app on one engine, through the real HTTP pipeline (TestServer), with its own database and upload dir.</summary>
public abstract class ExBuyApp : WebApplicationFactory<Program>, IAsyncLifetime
{
    private readonly string _uploadDir = Path.Combine(Path.GetTempPath(), "exbuy-uploads-" + Guid.NewGuid().ToString("N")[..12]);

    public abstract string Engine { get; }

    /// <summary>Settings the app reads at start-up (the same keys as its environment variables).</summary>
    protected virtual IDictionary<string, string?> Settings() => new Dictionary<string, string?>();

    /// <summary>Settings a derived fixture adds for its variant (e.g. an OTLP endpoint), applied after the engine's.</summary>
    protected virtual IDictionary<string, string?> VariantSettings() => new Dictionary<string, string?>();

    public string UploadDir => _uploadDir;

    /// <summary>Upload size limit for tests: small, so the 413 path is cheap to exercise.</summary>
    public const long UploadMaxBytes = 256 * 1024;

    protected override IHost CreateHost(IHostBuilder builder)
    {
        // Host configuration is what the entry point's builder sees before it registers services
        // (ConfigureAppConfiguration would apply too late: dotnet/aspnetcore#37680).
        var settings = new Dictionary<string, string?>
        {
            ["SEED_ON_EMPTY"] = "none",
            ["UPLOAD_DIR"] = _uploadDir,
            ["UPLOAD_MAX_BYTES"] = UploadMaxBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["LOG_LEVEL"] = "WARNING",
        };
        foreach (var (key, value) in Settings().Concat(VariantSettings()))
        {
            settings[key] = value;
        }
        builder.ConfigureHostConfiguration(c => c.AddInMemoryCollection(settings));
        return base.CreateHost(builder);
    }

    public virtual ValueTask InitializeAsync()
    {
        // Starting the server runs migrations (DB_MIGRATE defaults on).
        _ = Server;
        return ValueTask.CompletedTask;
    }

    /// <summary>A fresh scoped context for arranging rows and asserting the database state afterwards.</summary>
    public async Task<T> WithDbAsync<T>(Func<ExBuyDb, Task<T>> action)
    {
        await using var scope = Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ExBuyDb>();
        return await action(db);
    }

    public Task WithDbAsync(Func<ExBuyDb, Task> action) => WithDbAsync(async db =>
    {
        await action(db);
        return true;
    });

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        try
        {
            Directory.Delete(_uploadDir, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
        GC.SuppressFinalize(this);
    }
}

/// <summary>SQLite in a temp file (WAL needs a file, and concurrency tests need real locking).</summary>
public class SqliteApp : ExBuyApp
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), "exbuy-test-" + Guid.NewGuid().ToString("N")[..12] + ".db");

    public override string Engine => DatabaseOptions.Sqlite;

    protected override IDictionary<string, string?> Settings() => new Dictionary<string, string?>
    {
        ["DB_ENGINE"] = "sqlite",
        ["DB_PATH"] = _path,
    };

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var suffix in new[] { "", "-wal", "-shm" })
        {
            File.Delete(_path + suffix);
        }
    }
}

/// <summary>PostgreSQL: one database per test class in the run's throwaway cluster.</summary>
public class PostgresApp(PostgresCluster cluster) : ExBuyApp
{
    private readonly string _database = cluster.NewDatabase("t");

    public PostgresCluster Cluster => cluster;

    public override string Engine => DatabaseOptions.Postgres;

    protected override IDictionary<string, string?> Settings() => new Dictionary<string, string?>
    {
        ["DB_ENGINE"] = "postgres",
        ["DB_HOST"] = "127.0.0.1",
        ["DB_PORT"] = cluster.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["DB_NAME"] = _database,
        ["DB_USER"] = "postgres",
        ["DB_PASSWORD"] = "",
        ["DB_POOL_MAX"] = "40",
    };

    public override ValueTask InitializeAsync()
    {
        if (cluster.UnavailableReason is not null)
        {
            // Tests call cluster.EnsureAvailable() and skip or fail with the reason.
            return ValueTask.CompletedTask;
        }
        return base.InitializeAsync();
    }
}
