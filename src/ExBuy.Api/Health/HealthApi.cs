using System.Runtime;
using ExBuy.Api.Data;
using ExBuy.Api.Faults;
using ExBuy.Api.Server;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace ExBuy.Api.Health;

public static class HealthApi
{
    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api").WithTags("Health");
        group.MapGet("/health", GetHealth).WithName("Health");
        group.MapGet("/health/ready", GetReady).WithName("Ready").Produces<ReadyResponse>(StatusCodes.Status503ServiceUnavailable);
        group.MapGet("/info", GetInfo).WithName("Info");
        return app;
    }

    private static readonly HealthResponse Ok = new("ok");

    /// <summary>This process among replicas: host name and pid.</summary>
    private static readonly string Instance = $"{Environment.MachineName}/{Environment.ProcessId}";

    /// <summary>Touches no database (contract #1): the floor of what the stack can serve.</summary>
    public static Ok<HealthResponse> GetHealth() => TypedResults.Ok(Ok);

    public static async Task<Results<Ok<ReadyResponse>, JsonHttpResult<ReadyResponse>>> GetReady(ExBuyDb db, DatabaseFailures failures,
        ShutdownDrain drain, CancellationToken ct)
    {
        if (drain.IsDraining)
        {
            // SHUTDOWN_DELAY: still serving, but load balancers should send nothing new here.
            return TypedResults.Json(new ReadyResponse("draining", "not checked"), statusCode: 503);
        }
        try
        {
            await db.Database.ExecuteSqlRawAsync("SELECT 1", ct);
            return TypedResults.Ok(new ReadyResponse("ok", "ok"));
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // A dead pooled connection: clear the pool, so the next probe (and request) opens a fresh one.
            failures.Observe(ex);
            return TypedResults.Json(new ReadyResponse("unavailable", "unreachable"), statusCode: 503);
        }
    }

    public static Ok<InfoResponse> GetInfo(DatabaseOptions db, ServerInfo server, ServerOptions mode, IConfiguration config, FaultOptions faults,
        FaultRuleSet rules, HttpLimits http, EndpointDataSource endpoints, IServiceProvider services)
    {
        var assembly = typeof(HealthApi).Assembly.GetName();
        return TypedResults.Ok(new InfoResponse(
            Version: assembly.Version?.ToString(3) ?? "0.0.0",
            Commit: config["EXBUY_COMMIT"] ?? "unknown",
            Runtime: System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
            DbEngine: db.Engine,
            ServerMode: mode.Mode,
            Workers: mode.Workers,
            WorkerPid: Environment.ProcessId,
            Gc: new GcInfo(GCSettings.IsServerGC, GCSettings.LatencyMode != GCLatencyMode.Batch,
                ServerOptions.DynamicAdaptation(), ServerOptions.RunningGcMode()),
            DbPoolMax: db.IsPostgres ? db.PoolMax : 0,
            StartedAt: server.StartedAt,
            ProcessorCount: Environment.ProcessorCount,
            Faults: new FaultInfo(faults.HeadersEnabled, faults.AdminEnabled, rules.Live(DateTimeOffset.UtcNow).Length),
            WorkerIndex: mode.WorkerIndex,
            Threads: mode.IsSync ? mode.Threads : null,
            Build: server.Build,
            StartupMs: server.StartupMs,
            DbPool: db.IsPostgres ? new DbPoolInfo(db.PoolMin, db.PoolMax, db.AutoPrepare, db.Multiplexing) : new DbPoolInfo(0, 0, 0, false),
            Http: new HttpInfo(http.MaxConnections, http.HeadersTimeout.TotalSeconds, http.KeepAliveTimeout.TotalSeconds, http.ShutdownTimeout.TotalSeconds,
                http.ShutdownDelay.TotalSeconds),
            Instance: Instance,
            DbRouting: db.IsPostgres
                ? new DbRoutingInfo(db.WriteHosts.Length > 1 ? db.WriteHosts : [$"{db.Host}:{db.Port}"], db.ReadHosts, db.PgBouncer,
                    db.ReadHosts.Length > 0 ? ReadRouting.Rule : "every query on the primary (DB_READ_HOSTS is not set)",
                    db.ReadHosts.Length > 0 ? ReadRouting.ReadRoutes(endpoints) : [],
                    [.. (services.GetService<ReplicationMonitor>()?.Standbys ?? []).Select(s =>
                        new StandbyInfo(s.Name, s.State, s.SyncState, s.LagSeconds, s.LagBytes, s.SampledAt))])
                : null));
    }
}
