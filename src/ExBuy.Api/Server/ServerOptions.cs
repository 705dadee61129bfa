using System.Runtime;
using ExBuy.Api.Data;

namespace ExBuy.Api.Server;

/// <summary>
/// How ExBuy serves: the .NET counterparts of the original's SERVER_TYPE, WORKERS and WORKER_CLASS, read once at start-up.
/// <list type="bullet">
/// <item><c>SERVER_MODE</c>: <c>async</c> (default: async all the way down) or <c>sync</c> (each request holds one of
/// <c>THREADS</c> dedicated threads for its whole duration, blocking while its I/O runs; the rest queue — gunicorn's
/// sync workers).</item>
/// <item><c>THREADS</c>: the sync mode's threads (default 8); refused with SERVER_MODE=async (it would mean nothing).</item>
/// <item><c>WORKERS</c>: server processes sharing the port (SO_REUSEPORT), supervised by the first (default 1: no
/// supervisor, one process).</item>
/// <item><c>GC_MODE</c>: <c>server</c>, <c>workstation</c> or <c>datas</c> (server GC with dynamic adaptation, .NET 10's
/// default for this app); a GC is chosen when the runtime starts, so a mode other than the running one starts a worker
/// process with the runtime's own switches (<c>DOTNET_gcServer</c>, <c>DOTNET_GCDynamicAdaptationMode</c>).</item>
/// </list>
/// A bad value is a <see cref="ConfigurationError"/> naming the variable (one line, exit 2).
/// </summary>
public sealed class ServerOptions
{
    public const string Async = "async";
    public const string Sync = "sync";
    public const int DefaultThreads = 8;
    public const int MaxWorkers = 64;
    public const int MaxThreads = 1024;

    public static readonly string[] GcModes = ["server", "workstation", "datas"];

    public string Mode { get; init; } = Async;

    public bool IsSync => Mode == Sync;

    public int Threads { get; init; } = DefaultThreads;

    public int Workers { get; init; } = 1;

    /// <summary>The GC asked for, or null to keep the one the runtime started with.</summary>
    public string? GcMode { get; init; }

    /// <summary>Index of this worker (0-based) when a supervisor started it, else null.</summary>
    public int? WorkerIndex { get; init; }

    /// <summary>The supervisor's pid, when this process is one of its workers.</summary>
    public int? SupervisorPid { get; init; }

    public static ServerOptions FromConfiguration(IConfiguration c)
    {
        var mode = (c["SERVER_MODE"] ?? Async).Trim().ToLowerInvariant();
        if (mode is not (Async or Sync))
        {
            throw new ConfigurationError($"SERVER_MODE='{c["SERVER_MODE"]}' is not supported: use async (default) or sync.");
        }
        var threadsSet = !string.IsNullOrWhiteSpace(c["THREADS"]);
        var threads = DatabaseOptions.ParseInt(c, "THREADS", DefaultThreads);
        if (threads is < 1 or > MaxThreads)
        {
            throw new ConfigurationError($"THREADS={c["THREADS"]} is out of range: use 1..{MaxThreads} (the sync mode's threads).");
        }
        if (threadsSet && mode == Async)
        {
            throw new ConfigurationError($"THREADS={c["THREADS"]} applies to SERVER_MODE=sync only: set SERVER_MODE=sync, or unset THREADS.");
        }
        var workers = DatabaseOptions.ParseInt(c, "WORKERS", 1);
        if (workers is < 1 or > MaxWorkers)
        {
            throw new ConfigurationError($"WORKERS={c["WORKERS"]} is out of range: use 1..{MaxWorkers} (server processes on one port).");
        }
        string? gc = null;
        if (!string.IsNullOrWhiteSpace(c["GC_MODE"]))
        {
            gc = c["GC_MODE"]!.Trim().ToLowerInvariant();
            if (!GcModes.Contains(gc))
            {
                throw new ConfigurationError($"GC_MODE='{c["GC_MODE"]}' is not supported: use {string.Join(", ", GcModes)}.");
            }
        }
        int? index = string.IsNullOrWhiteSpace(c["EXBUY_WORKER_INDEX"]) ? null : DatabaseOptions.ParseInt(c, "EXBUY_WORKER_INDEX", 0);
        int? supervisor = string.IsNullOrWhiteSpace(c["EXBUY_SUPERVISOR_PID"]) ? null : DatabaseOptions.ParseInt(c, "EXBUY_SUPERVISOR_PID", 0);
        return new ServerOptions
        {
            Mode = mode,
            Threads = threads,
            Workers = workers,
            GcMode = gc,
            WorkerIndex = index,
            SupervisorPid = supervisor,
        };
    }

    /// <summary>The GC this process runs: server, workstation or datas.</summary>
    public static string RunningGcMode()
    {
        if (!GCSettings.IsServerGC)
        {
            return "workstation";
        }
        return DynamicAdaptation() == 1 ? "datas" : "server";
    }

    public static int DynamicAdaptation() =>
        GC.GetConfigurationVariables().TryGetValue("GCDynamicAdaptationMode", out var mode) ? Convert.ToInt32(mode, System.Globalization.CultureInfo.InvariantCulture) : 0;

    /// <summary>
    /// Whether this process must supervise workers instead of serving: several workers, or a GC other than the running
    /// one (a worker started with the runtime's switches). A worker never supervises.
    /// </summary>
    public bool Supervises => WorkerIndex is null && (Workers > 1 || (GcMode is not null && GcMode != RunningGcMode()));

    /// <summary>The runtime's own switches for <see cref="GcMode"/> (environment of a worker process).</summary>
    public IReadOnlyDictionary<string, string> GcEnvironment() => GcMode switch
    {
        "workstation" => new Dictionary<string, string> { ["DOTNET_gcServer"] = "0" },
        "server" => new Dictionary<string, string> { ["DOTNET_gcServer"] = "1", ["DOTNET_GCDynamicAdaptationMode"] = "0" },
        "datas" => new Dictionary<string, string> { ["DOTNET_gcServer"] = "1", ["DOTNET_GCDynamicAdaptationMode"] = "1" },
        _ => new Dictionary<string, string>(),
    };
}
