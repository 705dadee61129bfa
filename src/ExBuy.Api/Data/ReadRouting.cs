using System.Collections.Concurrent;
using System.Data.Common;
using ExBuy.Api.Observability;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Npgsql;

namespace ExBuy.Api.Data;

/// <summary>
/// Which requests read from a standby (DB_READ_HOSTS). The rule: catalog reads (products, search, reviews, statistics)
/// may be as old as the replication lag, so they take the read route; everything that writes, and every read that must
/// see the caller's own writes (an order just placed, its status; a reservation's stock), stays on the primary, as do
/// health checks. The handlers state it themselves (<c>[FromKeyedServices(DataSetup.Reads)] ExBuyDb</c>); /api/info lists
/// the routes found that way, so the documented rule cannot drift from the code.
/// </summary>
public static partial class ReadRouting
{
    public const string Rule = "catalog reads (products, search, reviews, statistics) go to the standbys in DB_READ_HOSTS "
        + "(prefer-standby, load balanced, the primary as fallback) and may lag behind by the replication lag; orders (reads "
        + "and writes), inventory, review writes, uploads and health stay on the primary";

    /// <summary>"GET /api/products/{id}" for every endpoint whose handler takes the read route's context.</summary>
    public static string[] ReadRoutes(EndpointDataSource endpoints) =>
    [
        .. endpoints.Endpoints.OfType<RouteEndpoint>()
            .Where(UsesReadRoute)
            .SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["*"]).Select(v => $"{v} /{Parameter().Replace(e.RoutePattern.RawText?.Trim('/') ?? "", "{$1}")}"))
            .Distinct()
            .Order(StringComparer.Ordinal),
    ];

    /// <summary>Whether the endpoint's handler takes the read route's context.</summary>
    public static bool UsesReadRoute(Endpoint? endpoint) =>
        endpoint?.Metadata.GetMetadata<System.Reflection.MethodInfo>() is { } m && m.GetParameters().Any(IsRead);

    /// <summary>A route parameter with its constraints ({id:long:min(1)}), to print as {id}.</summary>
    [System.Text.RegularExpressions.GeneratedRegex(@"\{(\w+):[^}]*\}")]
    private static partial System.Text.RegularExpressions.Regex Parameter();

    private static bool IsRead(System.Reflection.ParameterInfo p) =>
        p.ParameterType == typeof(ExBuyDb)
        && p.GetCustomAttributes(typeof(FromKeyedServicesAttribute), false) is [FromKeyedServicesAttribute { Key: DataSetup.Reads }];
}

/// <summary>The pooled contexts of the read route: on the standbys with DB_READ_HOSTS, else on the primary.</summary>
public sealed class ReadContextPool(Func<ExBuyDb> rent)
{
    public ExBuyDb Rent() => rent();
}

/// <summary>
/// Names the server each request's queries ran on (X-Db-Host: host:port, the last one opened) and counts connection
/// checkouts by route and server (exbuy_db_routed_total; bounded: the configured hosts). Registered only when there is
/// more than one server (DB_READ_HOSTS, or several DB_HOST hosts).
/// </summary>
internal sealed class DbHostHeader(IHttpContextAccessor http, string route) : DbConnectionInterceptor
{
    public const string Header = "X-Db-Host";
    private static readonly ConcurrentDictionary<(string, int), string> Names = new();

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData) => Record(connection);

    public override Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken ct = default)
    {
        Record(connection);
        return Task.CompletedTask;
    }

    private void Record(DbConnection connection)
    {
        if (connection is not NpgsqlConnection { Host: { } host } npgsql)
        {
            return;
        }
        var name = Names.GetOrAdd((host, npgsql.Port), static k => $"{k.Item1}:{k.Item2}");
        ExBuyMetrics.DbRouted(route, name);
        if (http.HttpContext is { Response.HasStarted: false } context)
        {
            context.Response.Headers[Header] = name;
        }
    }
}

/// <summary>
/// Replication as the primary sees it (pg_stat_replication), sampled every <see cref="Interval"/>: per standby, the replay
/// lag in seconds and in bytes of WAL. Published as exbuy_db_replication_lag_seconds / _bytes and in /api/info. Needs a
/// role that may read pg_stat_replication's positions (superuser or pg_monitor); otherwise the standbys show no lag data.
/// </summary>
public sealed class ReplicationMonitor(NpgsqlDataSource primary, ILogger<ReplicationMonitor> log) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);

    public sealed record Standby(string Name, string State, string SyncState, double? LagSeconds, long? LagBytes, DateTime SampledAt);

    private volatile Standby[] _standbys = [];

    public IReadOnlyList<Standby> Standbys => _standbys;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        ExBuyMetrics.WatchReplication(this);
        using var timer = new PeriodicTimer(Interval);
        do
        {
            try
            {
                await using var cmd = primary.CreateCommand(
                    "SELECT coalesce(nullif(application_name, ''), host(client_addr), pid::text), state, sync_state, "
                    + "extract(epoch FROM replay_lag)::float8, pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint "
                    + "FROM pg_stat_replication WHERE NOT pg_is_in_recovery() ORDER BY 1");
                await using var reader = await cmd.ExecuteReaderAsync(stoppingToken);
                var now = DateTime.UtcNow;
                var list = new List<Standby>();
                while (await reader.ReadAsync(stoppingToken))
                {
                    list.Add(new Standby(reader.GetString(0), reader.GetString(1), reader.GetString(2),
                        // No replay_lag while nothing is being replayed: caught up.
                        reader.IsDBNull(3) ? (reader.IsDBNull(4) ? null : 0) : reader.GetDouble(3),
                        reader.IsDBNull(4) ? null : reader.GetInt64(4), now));
                }
                _standbys = [.. list];
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The primary is down or failing over: the requests say so; keep the last sample, marked by its time.
                log.LogDebug(ex, "replication sample failed");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
