using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;

namespace ExBuy.Load.Tests;

/// <summary>The real ExBuy (the built ExBuy.Api.dll, SQLite, small seed) in its own process on a free port.</summary>
public class ExBuyProcess : IAsyncLifetime
{
    private Process? _process;
    private readonly List<string> _output = [];
    public string Dir { get; } = TestSupport.TempDir("exload-e2e");
    public string BaseUrl { get; private set; } = "";
    public HttpClient Client { get; } = new() { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>The built ExBuy.Api.dll of this configuration (the test project references the app so that it is built first).</summary>
    public static string Dll
    {
        get
        {
            var dll = Path.Combine(TestSupport.RepoRoot(), "src", "ExBuy.Api", "bin", TestSupport.Configuration, "net10.0", "ExBuy.Api.dll");
            return File.Exists(dll) ? dll : throw new FileNotFoundException("build src/ExBuy.Api first (the test project references it for that)", dll);
        }
    }

    public async ValueTask InitializeAsync()
    {
        var dll = Dll;
        var port = TestSupport.FreePort();
        BaseUrl = $"http://127.0.0.1:{port}";
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = Dir,
        };
        psi.ArgumentList.Add(dll);
        psi.ArgumentList.Add("--urls");
        psi.ArgumentList.Add(BaseUrl);
        foreach (var key in new[] { "ASPNETCORE_URLS", "METRICS", "ACCESS_LOG", "LOG_LEVEL", "DB_LOG_LEVEL", "OTEL_EXPORTER_OTLP_ENDPOINT", "FAULTS", "FAULT_DELAY", "FAULT_ERROR", "ADMIN_TOKEN",
            "SERVER_MODE", "THREADS", "WORKERS", "GC_MODE" })
            psi.Environment.Remove(key);
        psi.Environment["DB_ENGINE"] = "sqlite";
        psi.Environment["DB_PATH"] = Path.Combine(Dir, "exbuy.db");
        psi.Environment["SEED_ON_EMPTY"] = "small";
        psi.Environment["UPLOAD_DIR"] = Path.Combine(Dir, "uploads");
        Configure(psi.Environment);
        _process = Process.Start(psi) ?? throw new InvalidOperationException("could not start dotnet ExBuy.Api.dll");
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.Add(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.Add(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (_process.HasExited) throw new InvalidOperationException($"ExBuy exited with {_process.ExitCode}: {Output}");
            try
            {
                using var r = await Client.GetAsync($"{BaseUrl}/api/health/ready");
                if (r.StatusCode == HttpStatusCode.OK) return;
            }
            catch (HttpRequestException) { }
            await Task.Delay(100);
        }
        throw new TimeoutException("ExBuy was not ready in 60 s: " + Output);
    }

    public string Output { get { lock (_output) return string.Join("\n", _output); } }

    /// <summary>Extra environment of the server process (a derived fixture turns features on).</summary>
    protected virtual void Configure(IDictionary<string, string?> environment) { }

    /// <summary>Σ exbuy_orders_placed_total over its endpoint labels.</summary>
    /// <summary>Rows in the orders table of ExBuy's SQLite file (read beside the running server: WAL allows it).</summary>
    public async Task<long> OrderRowsAsync()
    {
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection(
            $"Data Source={Path.Combine(Dir, "exbuy.db")};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM orders";
        return (long)(await command.ExecuteScalarAsync())!;
    }

    public async Task<long> OrdersPlacedAsync()
    {
        var text = await Client.GetStringAsync($"{BaseUrl}/metrics");
        long sum = 0;
        foreach (var line in text.Split('\n'))
        {
            if (!line.StartsWith("exbuy_orders_placed_total", StringComparison.Ordinal)) continue;
            var rest = line["exbuy_orders_placed_total".Length..];
            if (rest.Length == 0 || (rest[0] != '{' && rest[0] != ' ')) continue;
            var value = line[(line.LastIndexOf(' ') + 1)..];
            sum += (long)double.Parse(value, CultureInfo.InvariantCulture);
        }
        return sum;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (_process is not null)
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
            _process.Dispose();
        }
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

[Collection("runs")]
public class EndToEndTests(ExBuyProcess exbuy) : IClassFixture<ExBuyProcess>
{
    [Fact]
    public async Task A_mixed_run_against_the_real_ExBuy_is_correct_error_free_and_counts_the_orders_ExBuy_counts()
    {
        var ct = TestContext.Current.CancellationToken;
        var before = await exbuy.OrdersPlacedAsync();
        var rowsBefore = await exbuy.OrderRowsAsync();
        var work = TestSupport.TempDir("exload-e2e-run");
        var options = Options.Validate(new RunSettings
        {
            Scenario = "mixed", BaseUrl = exbuy.BaseUrl, Vus = "4", Duration = "3s", Warmup = "1s", Seed = "11",
            ScenariosFile = Path.Combine(TestSupport.RepoRoot(), "load", "scenarios.json"),
        }, work, _ => null);
        var output = new StringWriter();
        var outcome = await new LoadRunner(options, TestSupport.Console(output), plain: true, workingDirectory: work).RunAsync(ct);
        var log = output.ToString();

        Assert.True(outcome.Correctness.Checked, log);
        Assert.True(outcome.Correctness.Ok, log);
        Assert.Equal(0, outcome.Correctness.Unverifiable);
        Assert.Contains("correctness: OK", log);
        Assert.Equal(0, outcome.Errors);
        Assert.Equal(0, outcome.ExitCode);
        Assert.True(outcome.Requests > 100, log);
        Assert.True(outcome.OrdersPlaced > 0, log);

        // ExBuy's own counter grows by exactly the orders the runner saw answered 201 (warm-up included).
        long after = 0;
        for (var i = 0; i < 50; i++)
        {
            after = await exbuy.OrdersPlacedAsync();
            if (after - before == outcome.OrdersPlacedWithWarmup) break;
            await Task.Delay(100, ct);
        }
        Assert.Equal(outcome.OrdersPlacedWithWarmup, after - before);
        // And the database gained exactly those rows (the runner's 201s, bulk orders counted per order).
        Assert.Equal(outcome.OrdersPlacedWithWarmup, await exbuy.OrderRowsAsync() - rowsBefore);

        Assert.Equal(Path.Combine(work, "results"), Path.GetDirectoryName(outcome.ResultFile));
        var result = JsonNode.Parse(await File.ReadAllTextAsync(outcome.ResultFile!, ct))!;
        Assert.Equal("exbuy-load/1", result["schema"]!.GetValue<string>());
        Assert.Equal(11, result["config"]!["seed"]!.GetValue<long>());
        Assert.Equal("sqlite", result["target"]!["info"]!["db_engine"]!.GetValue<string>());
        Assert.Equal(1000, result["data"]!["products"]!.GetValue<long>());
        Assert.True(result["data"]!["orders_found"]!.GetValue<int>() > 0);
        Assert.NotEmpty(result["series"]!.AsArray());
        Assert.True(result["correctness"]!["ok"]!.GetValue<bool>());
        var ops = result["operations"]!.AsObject();
        Assert.Contains("create_order", ops.Select(o => o.Key));
        Assert.Contains("detail[optimize=true]", ops.Select(o => o.Key));
        var detail = ops["detail[optimize=true]"]!;
        var decoded = Hdr.Decode(detail["histograms"]!["latency"]!.GetValue<string>());
        Assert.Equal(detail["count"]!.GetValue<long>(), decoded.TotalCount);
        Assert.NotNull(detail["server_share"]); // ExBuy sends Server-Timing

        var history = (await File.ReadAllLinesAsync(outcome.HistoryFile!, ct)).Where(l => l.Length > 0).ToList();
        var line = JsonNode.Parse(Assert.Single(history))!;
        Assert.Equal("mixed", line["scenario"]!.GetValue<string>());
        Assert.Equal("pass", line["verdict"]!.GetValue<string>());
        Assert.Equal(Path.GetFileName(outcome.ResultFile), line["file"]!.GetValue<string>());
        Assert.Equal(0, line["errors"]!.GetValue<long>());

        // The run's own HTML report, beside its result, with the result's data in it.
        var html = await File.ReadAllTextAsync(Path.ChangeExtension(outcome.ResultFile!, ".html"), ct);
        Assert.Contains("id=\"exbuy-data\"", html);
        Assert.Contains(result["run_id"]!.GetValue<string>(), html);
    }
}
