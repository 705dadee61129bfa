namespace ExBuy.Api.Health;

public sealed record HealthResponse(string Status);

public sealed record ReadyResponse(string Status, string Database);

/// <summary>GET /api/info: what is answering, so every load-test result can record it (contract: Beyond the original).</summary>
public sealed record InfoResponse(
    string Version,
    string Commit,
    string Runtime,
    string DbEngine,
    string ServerMode,
    int Workers,
    int WorkerPid,
    GcInfo Gc,
    int DbPoolMax,
    DateTime StartedAt,
    int ProcessorCount,
    FaultInfo Faults,
    int? WorkerIndex,
    int? Threads,
    string Build,
    double? StartupMs,
    DbPoolInfo DbPool,
    HttpInfo Http,
    string Instance,
    DbRoutingInfo? DbRouting);

/// <summary>
/// Where queries go (PostgreSQL): the write hosts (several = writes follow failover), the standbys of DB_READ_HOSTS, the
/// rule, the routes that read from the standbys (found in the handlers), and replication as the primary last saw it.
/// </summary>
public sealed record DbRoutingInfo(string[] WriteHosts, string[] ReadHosts, bool PgBouncer, string Rule, string[] ReadRoutes,
    StandbyInfo[] Standbys);

public sealed record StandbyInfo(string Name, string State, string SyncState, double? LagSeconds, long? LagBytes, DateTime SampledAt);

/// <summary>The HTTP limits a run depends on (HTTP_*, SHUTDOWN_TIMEOUT), in seconds.</summary>
public sealed record HttpInfo(long MaxConnections, double HeadersTimeoutS, double KeepaliveTimeoutS, double ShutdownTimeoutS, double ShutdownDelayS);

/// <summary>The pool settings a run depends on (PostgreSQL; zeros and false on SQLite).</summary>
public sealed record DbPoolInfo(int Min, int Max, int AutoPrepare, bool Multiplexing);

/// <summary>Fault injection as it stands: headers honoured (FAULTS), admin API on (ADMIN_TOKEN), live rules now.</summary>
public sealed record FaultInfo(bool Headers, bool AdminApi, int ActiveRules);

public sealed record GcInfo(bool Server, bool Concurrent, int DynamicAdaptation, string Mode);
