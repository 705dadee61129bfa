using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace ExBuy.Api.Tests.Infrastructure;

/// <summary>
/// ExBuy as its users run it: the built app (<c>dotnet ExBuy.Api.dll</c>) in its own process on a free loopback port,
/// with the given environment. For what must not share a process with other tests (process-wide meters, /metrics
/// series counts, stdout log lines) and for real tools that scrape or load it over TCP (promtool, Prometheus).
/// </summary>
public sealed class ExBuyServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _stdout = new();
    private readonly ConcurrentQueue<string> _stderr = new();
    private readonly string _workDir;

    private ExBuyServer(Process process, string workDir, int port)
    {
        _process = process;
        _workDir = workDir;
        Port = port;
        BaseUrl = $"http://127.0.0.1:{port}";
        Client = new HttpClient { BaseAddress = new Uri(BaseUrl), Timeout = TimeSpan.FromSeconds(60) };
    }

    public int Port { get; }
    public string BaseUrl { get; }

    /// <summary>The process started (with WORKERS, the supervisor).</summary>
    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Waits (bounded by <paramref name="timeout"/>) for the process to exit and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout, CancellationToken ct)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bounded.CancelAfter(timeout);
        await _process.WaitForExitAsync(bounded.Token);
        return _process.ExitCode;
    }
    public HttpClient Client { get; }

    /// <summary>The environment the process was started with (e.g. DB_NAME, to reach its database directly).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; private init; } = new Dictionary<string, string>();

    public IReadOnlyList<string> StdoutLines => [.. _stdout];
    public IReadOnlyList<string> StderrLines => [.. _stderr];

    /// <summary>The environment for one engine: SQLite in a temp file, or a new database of the test cluster.</summary>
    public static Dictionary<string, string> EngineEnvironment(string engine, PostgresCluster? cluster, string workDir) =>
        engine == "postgres"
            ? new()
            {
                ["DB_ENGINE"] = "postgres",
                ["DB_HOST"] = "127.0.0.1",
                ["DB_PORT"] = cluster!.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["DB_NAME"] = cluster.NewDatabase("proc"),
                ["DB_USER"] = "postgres",
                ["DB_PASSWORD"] = "",
                ["DB_POOL_MAX"] = "20",
            }
            : new()
            {
                ["DB_ENGINE"] = "sqlite",
                ["DB_PATH"] = Path.Combine(workDir, "exbuy.db"),
            };

    /// <summary>Starts the app and waits until <c>/api/health/ready</c> answers 200 (seeding the small preset by default).</summary>
    public static async Task<ExBuyServer> StartAsync(string engine, PostgresCluster? cluster,
        IDictionary<string, string>? environment = null, CancellationToken ct = default, string? dll = null)
    {
        var workDir = Path.Combine(Path.GetTempPath(), "exbuy-proc-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(workDir);
        var port = FreePort();
        dll ??= Path.Combine(AppContext.BaseDirectory, "ExBuy.Api.dll");
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workDir,
        };
        psi.ArgumentList.Add(dll);
        psi.ArgumentList.Add("--urls");
        psi.ArgumentList.Add($"http://127.0.0.1:{port}");
        // A clean environment for what the app reads: nothing inherited decides the variant under test.
        foreach (var key in new[] { "METRICS", "LOG_FORMAT", "ACCESS_LOG", "LOG_LEVEL", "DB_LOG_LEVEL", "OTEL_EXPORTER_OTLP_ENDPOINT", "ASPNETCORE_URLS",
            "SERVER_MODE", "THREADS", "WORKERS", "GC_MODE", "DB_POOL_MIN", "DB_AUTO_PREPARE", "DB_MULTIPLEXING", "DB_OPTIONS", "ADMIN_TOKEN",
            "FAULTS", "FAULT_SEED", "FAULT_ROUTES", "FAULT_DELAY", "FAULT_DB_DELAY", "FAULT_ERROR", "DOTNET_gcServer", "DOTNET_GCDynamicAdaptationMode",
            "DB_POOL_TIMEOUT", "DB_STATEMENT_TIMEOUT", "SHUTDOWN_TIMEOUT", "SHUTDOWN_DELAY", "DB_READ_HOSTS", "DB_PGBOUNCER" })
        {
            psi.Environment.Remove(key);
        }
        psi.Environment["SEED_ON_EMPTY"] = "small";
        psi.Environment["UPLOAD_DIR"] = Path.Combine(workDir, "uploads");
        foreach (var (key, value) in EngineEnvironment(engine, cluster, workDir))
        {
            psi.Environment[key] = value;
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[key] = value;
        }
        var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start dotnet ExBuy.Api.dll");
        var server = new ExBuyServer(process, workDir, port)
        {
            Environment = psi.Environment.Where(e => e.Value is not null).ToDictionary(e => e.Key, e => e.Value!),
        };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { server._stdout.Enqueue(e.Data); } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { server._stderr.Enqueue(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await server.WaitReadyAsync(ct);
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
        return server;
    }

    private async Task WaitReadyAsync(CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(90))
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException(
                    $"ExBuy exited with {_process.ExitCode} before serving: {string.Join(" | ", _stderr.Concat(_stdout))}");
            }
            try
            {
                using var response = await Client.GetAsync("/api/health/ready", ct);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(100, ct);
        }
        throw new TimeoutException($"ExBuy did not become ready in 90 s: {string.Join(" | ", _stderr.Concat(_stdout))}");
    }

    /// <summary>Waits (bounded) until a stdout line satisfies <paramref name="match"/>: the console logger writes from a queue.</summary>
    public async Task<string> WaitForStdoutAsync(Func<string, bool> match, CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            var line = _stdout.FirstOrDefault(match);
            if (line is not null)
            {
                return line;
            }
            await Task.Delay(50, ct);
        }
        throw new TimeoutException("No matching stdout line in 10 s. Stdout: " + string.Join(System.Environment.NewLine, _stdout));
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        try
        {
            Directory.Delete(_workDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
