using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace ExBuy.Api.Tests.Infrastructure;

/// <summary>
/// A throwaway PostgreSQL cluster for the whole test run: a temp data dir, a free loopback port, fsync off. PostgreSQL
/// refuses to run as root, so as root the server runs as the unprivileged user <c>nobody</c> (via runuser).
/// Without server binaries the PostgreSQL tests skip with the reason — except under CI=true, where that is a failure.
/// </summary>
public sealed class PostgresCluster : IAsyncLifetime
{
    private const string RunAsUser = "nobody";
    private string? _dataDir;
    private string? _binDir;
    private int _databases;
    private string? _startOptions;

    public int Port { get; private set; }

    /// <summary>Server settings added to the defaults, e.g. <c>-c synchronous_standby_names=standby</c>.</summary>
    public string ExtraOptions { get; init; } = "";

    /// <summary>The data directory (for pg_ctl and pg_basebackup).</summary>
    public string DataDir => Path.Combine(_dataDir!, "data");
    public string? UnavailableReason { get; private set; }

    public static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    public async ValueTask InitializeAsync()
    {
        _binDir = FindBinDir();
        if (_binDir is null)
        {
            UnavailableReason = "PostgreSQL server binaries not found (looked in PG_BIN, /usr/lib/postgresql/*/bin, PATH): "
                + "apt-get install -y postgresql, or set PG_BIN.";
            return;
        }
        _dataDir = Path.Combine(Path.GetTempPath(), "exbuy-pg-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(_dataDir);
        var asRoot = IsRoot;
        if (asRoot)
        {
            await RunAsync("chown", $"{RunAsUser} {_dataDir}");
        }
        Port = FreePort();
        var pgData = Path.Combine(_dataDir, "data");
        await RunPgAsync(asRoot, "initdb", $"-D {pgData} -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 --no-sync");
        _startOptions = StartOptions("");
        await StartAsync();
    }

    private string StartOptions(string more) =>
        $"-p {Port} -k {_dataDir} -c listen_addresses=127.0.0.1 -c fsync=off "
        // Commits wait for the local WAL flush only when a synchronous standby is named (then for the standby too).
        + (ExtraOptions.Contains("synchronous_standby_names", StringComparison.Ordinal) ? "" : "-c synchronous_commit=off ")
        + "-c full_page_writes=off -c max_connections=300 -c shared_buffers=128MB "
        // pg_stat_statements: the query-count verification compares what PostgreSQL ran with X-Query-Count.
        + "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all " + ExtraOptions + more;

    /// <summary>
    /// A hot standby of this cluster, streaming from it: <c>pg_basebackup -R</c> into a new directory, started on a free
    /// port. Its walreceiver reports <paramref name="name"/> as application_name (pg_stat_replication, and what
    /// synchronous_standby_names names). Dispose it like any cluster.
    /// </summary>
    public async Task<PostgresCluster> CreateStandbyAsync(string name)
    {
        var standby = new PostgresCluster { _binDir = _binDir, ExtraOptions = "" };
        standby._dataDir = Path.Combine(Path.GetTempPath(), "exbuy-pg-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(standby._dataDir);
        if (IsRoot)
        {
            await RunAsync("chown", $"{RunAsUser} {standby._dataDir}");
        }
        standby.Port = FreePort();
        await RunPgAsync(IsRoot, "pg_basebackup",
            $"-h 127.0.0.1 -p {Port} -U postgres -D {standby.DataDir} -R -X stream --checkpoint=fast --no-sync");
        standby._startOptions = standby.StartOptions($" -c cluster_name={name} -c hot_standby=on -c hot_standby_feedback=on");
        await standby.StartAsync();
        return standby;
    }

    /// <summary>Promotes this standby to a primary (pg_ctl promote, waiting until it accepts writes).</summary>
    public Task PromoteAsync() => RunPgAsync(IsRoot, "pg_ctl", $"-D {DataDir} -w -t 60 promote");

    /// <summary>Starts the (stopped) server again on the same port and data; waits until it accepts connections.</summary>
    public Task StartAsync() => RunPgAsync(IsRoot, "pg_ctl",
        $"-D {Path.Combine(_dataDir!, "data")} -l {Path.Combine(_dataDir!, "server.log")} -o \"{_startOptions}\" -w -t 60 start");

    /// <summary>
    /// Stops the server: <c>fast</c> terminates every session and shuts down cleanly, <c>immediate</c> is a crash (recovery
    /// at the next start). Only for a cluster a test owns: the shared one serves every other test class.
    /// </summary>
    public Task StopAsync(string mode = "fast") => RunPgAsync(IsRoot, "pg_ctl", $"-D {Path.Combine(_dataDir!, "data")} -m {mode} -w -t 60 stop");

    /// <summary>A fresh database name; the app's migrations create the database.</summary>
    public string NewDatabase(string prefix)
    {
        var n = Interlocked.Increment(ref _databases);
        return $"exbuy_{prefix.ToLowerInvariant()}_{n}";
    }

    /// <summary>Skips (locally) or fails (CI=true) a PostgreSQL test when no server could be started.</summary>
    public void EnsureAvailable()
    {
        if (UnavailableReason is null)
        {
            return;
        }
        if (InCi)
        {
            throw new InvalidOperationException("CI=true requires PostgreSQL tests to run: " + UnavailableReason);
        }
        Assert.Skip(UnavailableReason);
    }

    public async ValueTask DisposeAsync()
    {
        if (_dataDir is null || _binDir is null || UnavailableReason is not null)
        {
            return;
        }
        try
        {
            await RunPgAsync(IsRoot, "pg_ctl", $"-D {Path.Combine(_dataDir, "data")} -m immediate -w stop");
        }
        catch (Exception)
        {
            // Best effort: the temp dir goes either way.
        }
        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private async Task RunPgAsync(bool asRoot, string tool, string arguments)
    {
        var exe = Path.Combine(_binDir!, tool);
        if (asRoot)
        {
            await RunAsync("runuser", $"-u {RunAsUser} -- {exe} {arguments}");
        }
        else
        {
            await RunAsync(exe, arguments);
        }
    }

    private static async Task RunAsync(string file, string arguments)
    {
        var psi = new ProcessStartInfo(file, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await p.WaitForExitAsync(timeout.Token);
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {arguments} failed ({p.ExitCode}): {await stderr} {await stdout}");
        }
    }

    private static string? FindBinDir()
    {
        var env = Environment.GetEnvironmentVariable("PG_BIN");
        if (!string.IsNullOrEmpty(env) && Exists(Path.Combine(env, "pg_ctl")))
        {
            return env;
        }
        if (Directory.Exists("/usr/lib/postgresql"))
        {
            var dir = Directory.GetDirectories("/usr/lib/postgresql")
                .Select(d => Path.Combine(d, "bin"))
                .Where(d => Exists(Path.Combine(d, "pg_ctl")))
                .OrderByDescending(d => d, StringComparer.Ordinal)
                .FirstOrDefault();
            if (dir is not null)
            {
                return dir;
            }
        }
        return (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':')
            .FirstOrDefault(d => d.Length > 0 && Exists(Path.Combine(d, "pg_ctl")) && Exists(Path.Combine(d, "initdb")));
    }

    /// <summary>A file that exists, following symlinks to the end (File.Exists is true for a dangling link).</summary>
    private static bool Exists(string path) =>
        File.Exists(path) && (File.ResolveLinkTarget(path, returnFinalTarget: true) is not { } target || target.Exists);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>On Unix .NET reads the user name from the effective uid (getpwuid(geteuid())).</summary>
    private static bool IsRoot => Environment.UserName == "root";
}
