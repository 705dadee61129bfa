using System.Data.Common;
using ExBuy.Api.Observability;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Npgsql;

namespace ExBuy.Api.Data;

public static class DataSetup
{
    /// <summary>
    /// The key of the read route's <see cref="ExBuyDb"/>: handlers of catalog reads take
    /// <c>[FromKeyedServices(DataSetup.Reads)] ExBuyDb</c>. With DB_READ_HOSTS it reads from the standbys; without, from the
    /// same database as every other request (a pool of contexts of its own, so both may be used in one request).
    /// </summary>
    public const string Reads = "reads";

    /// <summary>
    /// Registers the pooled <see cref="ExBuyDb"/> for the configured engine. PostgreSQL gets one
    /// <see cref="NpgsqlDataSource"/> shared by EF and raw Npgsql (seeder COPY, health); SQLite gets WAL and a busy timeout.
    /// </summary>
    public static IServiceCollection AddExBuyData(this IServiceCollection services, IConfiguration configuration)
    {
        var options = DatabaseOptions.FromConfiguration(configuration);
        services.AddSingleton(options);
        // Both SQL accountings (RequestStats) find the current request through it.
        services.AddHttpContextAccessor();
        services.AddSingleton<DatabaseFailures>();

        if (options.IsPostgres)
        {
            NpgsqlCommandCounter.EnsureStarted();
            // Named, so the pool label of Npgsql's metrics (db.client.connection.pool.name) is "exbuy", not the connection string.
            services.AddSingleton(_ => new NpgsqlDataSourceBuilder(options.PostgresConnectionString()) { Name = "exbuy" }.Build());
            var read = options.PostgresReadConnectionString();
            if (read is not null)
            {
                services.AddKeyedSingleton(Reads, (_, _) => new NpgsqlDataSourceBuilder(read) { Name = "exbuy-read" }.Build());
                services.AddSingleton<ReplicationMonitor>();
                services.AddHostedService(sp => sp.GetRequiredService<ReplicationMonitor>());
            }
            services.AddDbContextPool<ExBuyDb, PostgresExBuyDb>((sp, o) => ConfigurePostgres(
                o, sp.GetRequiredService<NpgsqlDataSource>(), HostInterceptors(sp, options, "write")));
            services.AddSingleton(sp =>
            {
                // The app's services, as AddDbContextPool gives its contexts: the same loggers (DB_LOG_LEVEL), caches.
                var o = new DbContextOptionsBuilder<PostgresExBuyDb>().UseApplicationServiceProvider(sp);
                ConfigurePostgres(o, sp.GetKeyedService<NpgsqlDataSource>(Reads) ?? sp.GetRequiredService<NpgsqlDataSource>(),
                    HostInterceptors(sp, options, "read"));
                return new ReadContextPool(new PooledDbContextFactory<PostgresExBuyDb>(o.Options).CreateDbContext);
            });
        }
        else
        {
            services.AddSingleton<SqliteCommandEvents>();
            services.AddDbContextPool<ExBuyDb, SqliteExBuyDb>((sp, o) => ConfigureSqlite(
                o, options.SqliteConnectionString(), sp.GetRequiredService<SqliteCommandEvents>()));
            services.AddSingleton(sp =>
            {
                var o = new DbContextOptionsBuilder<SqliteExBuyDb>().UseApplicationServiceProvider(sp);
                ConfigureSqlite(o, options.SqliteConnectionString(), sp.GetRequiredService<SqliteCommandEvents>());
                return new ReadContextPool(new PooledDbContextFactory<SqliteExBuyDb>(o.Options).CreateDbContext);
            });
        }
        // Rented per request and returned to its pool when the request's scope ends.
        services.AddKeyedScoped<ExBuyDb>(Reads, (sp, _) => sp.GetRequiredService<ReadContextPool>().Rent());
        return services;
    }

    /// <summary>X-Db-Host and the routing counter, only where there is more than one server to tell apart.</summary>
    private static IInterceptor[] HostInterceptors(IServiceProvider sp, DatabaseOptions options, string route) =>
        options.RoutesAcrossHosts ? [new DbHostHeader(sp.GetRequiredService<IHttpContextAccessor>(), route)] : [];

    public static void ConfigurePostgres(DbContextOptionsBuilder o, NpgsqlDataSource dataSource, params IInterceptor[] interceptors) =>
        o.UseNpgsql(dataSource, npgsql => npgsql.MigrationsHistoryTable("__ef_migrations_history"))
            .ConfigureWarnings(QuietFailures)
            .UseSnakeCaseNamingConvention()
            .UseQueryTrackingBehavior(QueryTrackingBehavior.NoTracking)
            .AddInterceptors(interceptors);

    /// <summary>
    /// EF logs every failed command, query and save as an error with its stack trace. A request's failure is logged once
    /// by the app (<see cref="DatabaseFailures"/>: one line per kind, then a summary), so EF's copies go to Debug, where
    /// DB_LOG_LEVEL=DEBUG still shows them.
    /// </summary>
    private static void QuietFailures(WarningsConfigurationBuilder w) => w.Log(
        (CoreEventId.QueryIterationFailed, LogLevel.Debug),
        (CoreEventId.SaveChangesFailed, LogLevel.Debug),
        (RelationalEventId.CommandError, LogLevel.Debug),
        (RelationalEventId.ConnectionError, LogLevel.Debug),
        (RelationalEventId.TransactionError, LogLevel.Debug));

    public static void ConfigureSqlite(DbContextOptionsBuilder o, string connectionString, params IInterceptor[] interceptors) =>
        o.UseSqlite(connectionString, sqlite => sqlite.MigrationsHistoryTable("__ef_migrations_history"))
            .ConfigureWarnings(QuietFailures)
            .UseSnakeCaseNamingConvention()
            .UseQueryTrackingBehavior(QueryTrackingBehavior.NoTracking)
            .AddInterceptors([.. interceptors, SqlitePragmas.Instance]);
}

/// <summary>
/// Per-connection SQLite settings: WAL lets readers run beside the writer; synchronous=NORMAL is durable in WAL mode and
/// avoids an fsync per commit; foreign keys are off by default in SQLite; journal_size_limit truncates the WAL back to
/// 64 MiB after each checkpoint (SQLite checkpoints every 1000 pages by itself), so a write storm cannot grow it for good. The busy timeout is the connection string's
/// Default Timeout (Microsoft.Data.Sqlite retries SQLITE_BUSY until then).
/// </summary>
internal sealed class SqlitePragmas : DbConnectionInterceptor
{
    public static readonly SqlitePragmas Instance = new();
    private const string Sql = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA journal_size_limit=67108864;";

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData) => Apply(connection);

    public override Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken ct = default)
    {
        Apply(connection);
        return Task.CompletedTask;
    }

    private static void Apply(DbConnection connection)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = Sql;
        cmd.ExecuteNonQuery();
    }
}
