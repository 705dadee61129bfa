using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console.Cli;

namespace ExBuy.Load;

/// <summary>The options of `exbuy-load calibrate`.</summary>
public sealed class CalibrateSettings : CommandSettings
{
    [CommandOption("--base-url <URL>")] [Description("target; BASE_URL as fallback; default http://127.0.0.1:8000")]
    public string? BaseUrl { get; set; }
    [CommandOption("--duration <DURATION>")] [Description("measured time (default 5s; a 1 s warm-up comes first)")]
    public string? Duration { get; set; }
    [CommandOption("--connections <N>")] [Description("concurrent connections, each looping on GET /api/health (default 32)")]
    public string? Connections { get; set; }
    [CommandOption("--out <DIR>")] [Description("results directory: calibration.json is written there, and `run --out DIR` reads it (default ./results)")]
    public string? Out { get; set; }
}

/// <summary>What `calibrate` measured: the runner's ceiling (closed loop on GET /api/health) and its CPU per request.</summary>
public sealed record Calibration(
    string BaseUrl, DateTimeOffset MeasuredAt, double Seconds, int Connections, long Requests, long Errors, double MaxRps, double CpuMicrosPerRequest,
    int ProcessorCount)
{
    public const string FileName = "calibration.json";
    /// <summary>An open-model run asking for more than this share of the ceiling gets a warning at start.</summary>
    public const double WarnShare = 0.8;

    public JsonObject ToJson() => new()
    {
        ["schema"] = "exbuy-load-calibration/1",
        ["base_url"] = BaseUrl,
        ["measured_at"] = MeasuredAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
        ["endpoint"] = "GET /api/health",
        ["seconds"] = Math.Round(Seconds, 3),
        ["connections"] = Connections,
        ["requests"] = Requests,
        ["errors"] = Errors,
        ["max_rps"] = Math.Round(MaxRps, 1),
        ["cpu_us_per_request"] = Math.Round(CpuMicrosPerRequest, 2),
        ["processor_count"] = ProcessorCount,
    };

    public static Calibration FromJson(JsonNode n) => new(
        n["base_url"]?.GetValue<string>() ?? "",
        DateTimeOffset.Parse(n["measured_at"]!.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal),
        n["seconds"]?.GetValue<double>() ?? 0, n["connections"]?.GetValue<int>() ?? 0, n["requests"]?.GetValue<long>() ?? 0,
        n["errors"]?.GetValue<long>() ?? 0, n["max_rps"]!.GetValue<double>(), n["cpu_us_per_request"]?.GetValue<double>() ?? 0,
        n["processor_count"]?.GetValue<int>() ?? 0);

    public static string PathIn(string outDir) => Path.Combine(outDir, FileName);

    public async Task<string> SaveAsync(string outDir, CancellationToken ct = default)
    {
        Directory.CreateDirectory(outDir);
        var path = PathIn(outDir);
        await File.WriteAllTextAsync(path, ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n", ct);
        return path;
    }

    /// <summary>The calibration of <paramref name="outDir"/>, or null (absent); <paramref name="problem"/> says why an existing file was not read.</summary>
    public static Calibration? TryLoad(string outDir, out string? problem)
    {
        problem = null;
        var path = PathIn(outDir);
        if (!File.Exists(path)) return null;
        try
        {
            var c = FromJson(JsonNode.Parse(File.ReadAllText(path))!);
            if (!(c.MaxRps > 0)) { problem = $"{path}: max_rps is not > 0"; return null; }
            return c;
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException or InvalidOperationException or FormatException
                                      or NullReferenceException or ArgumentException)
        {
            problem = $"{path}: {e.Message}";
            return null;
        }
    }

    private static string Rate(double r) => r.ToString("0.#", CultureInfo.InvariantCulture);

    /// <summary>The start-of-run lines about the calibration of the out directory (none when there is none or the rate is well below it).</summary>
    public static IEnumerable<string> StartLines(RunOptions o)
    {
        var c = TryLoad(o.OutDir, out var problem);
        if (problem is not null) { yield return $"calibration: not read ({problem})"; yield break; }
        if (c is null || !o.OpenModel) yield break;
        var rate = o.Rate!.Value;
        var target = o.BaseUrl.ToString().TrimEnd('/');
        var other = c.BaseUrl.Length > 0 && !string.Equals(c.BaseUrl, target, StringComparison.OrdinalIgnoreCase) ? $" against {c.BaseUrl}" : "";
        var at = c.MeasuredAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);
        if (rate > WarnShare * c.MaxRps)
            yield return $"WARNING: --rate {Rate(rate)} is {rate / c.MaxRps * 100:0}% of this runner's calibrated ceiling of {Rate(c.MaxRps)} req/s " +
                         $"(exbuy-load calibrate{other}, {at} UTC; over {WarnShare * 100:0}% warns): the runner itself may be what limits this run; " +
                         "watch the report's achieved rate, or use a lower --rate or a second runner";
        else yield return $"calibration: --rate {Rate(rate)} is {rate / c.MaxRps * 100:0}% of this runner's calibrated ceiling of {Rate(c.MaxRps)} req/s ({at} UTC)";
    }

    /// <summary>
    /// The end-of-run line when an open-model run sent fewer requests per second than it intended (null otherwise):
    /// <paramref name="achievedRps"/> is the scheduler's start rate times the share of arrivals not dropped.
    /// </summary>
    public static string? AchievedLine(RunOptions o, double achievedRps, double intendedRps)
    {
        if (!o.OpenModel || !(intendedRps > 0) || achievedRps >= 0.95 * intendedRps) return null;
        var c = TryLoad(o.OutDir, out _);
        var ceiling = c is null ? " (no calibration.json in the out directory: `exbuy-load calibrate` measures the runner's ceiling)"
            : $" (calibrated ceiling of this runner: {Rate(c.MaxRps)} req/s)";
        return $"achieved rate below the intended one: {Rate(achievedRps)} req/s sent for {Rate(intendedRps)} req/s intended " +
               $"({achievedRps / intendedRps * 100:0}%){ceiling}";
    }
}

/// <summary>The runner's own ceiling: a closed loop of GET /api/health on N connections, with the process CPU it takes per request.</summary>
public static class Calibrator
{
    public static async Task<Calibration> RunAsync(Uri baseUrl, TimeSpan duration, int connections, TimeSpan warmup, HttpMessageHandler? handler = null,
        CancellationToken ct = default)
    {
        using var http = LoadRunner.CreateClient(baseUrl, connections, handler);
        long requests = 0, errors = 0;
        var measuring = 0; // 0 warm-up, 1 measured, 2 stop
        async Task LoopAsync()
        {
            while (Volatile.Read(ref measuring) < 2 && !ct.IsCancellationRequested)
            {
                var ok = false;
                try
                {
                    using var r = await http.GetAsync("api/health", HttpCompletionOption.ResponseContentRead, ct);
                    ok = r.StatusCode == HttpStatusCode.OK;
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException) { }
                if (Volatile.Read(ref measuring) == 1)
                {
                    Interlocked.Increment(ref requests);
                    if (!ok) Interlocked.Increment(ref errors);
                }
            }
        }
        var loops = Enumerable.Range(0, connections).Select(_ => Task.Run(LoopAsync, CancellationToken.None)).ToArray();
        try { await Task.Delay(warmup, ct); } catch (OperationCanceledException) { }
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        var cpu0 = process.TotalProcessorTime;
        var t0 = Stopwatch.GetTimestamp();
        Volatile.Write(ref measuring, 1);
        try { await Task.Delay(duration, ct); } catch (OperationCanceledException) { }
        var n = Interlocked.Read(ref requests);
        var e = Interlocked.Read(ref errors);
        var seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        process.Refresh();
        var cpu = process.TotalProcessorTime - cpu0;
        Volatile.Write(ref measuring, 2);
        await Task.WhenAll(loops);
        var ok = n - e;
        return new Calibration(baseUrl.ToString().TrimEnd('/'), DateTimeOffset.UtcNow, seconds, connections, n, e, ok / Math.Max(seconds, 1e-9),
            ok > 0 ? cpu.TotalMicroseconds / ok : 0, Environment.ProcessorCount);
    }
}

public sealed class CalibrateCommand : AsyncCommand<CalibrateSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, CalibrateSettings settings, CancellationToken cancellationToken)
    {
        Uri url; TimeSpan duration; int connections; string outDir;
        try { (url, duration, connections, outDir) = Validate(settings, Directory.GetCurrentDirectory(), Environment.GetEnvironmentVariable); }
        catch (OptionException e)
        {
            Console.Error.WriteLine($"exbuy-load calibrate: {e.Message}");
            return 2;
        }
        return await ExecuteAsync(url, duration, connections, outDir, Console.Out, TimeSpan.FromSeconds(1), null, cancellationToken);
    }

    public static (Uri Url, TimeSpan Duration, int Connections, string OutDir) Validate(CalibrateSettings s, string workingDirectory, Func<string, string?> env)
    {
        var urlText = s.BaseUrl ?? env("BASE_URL") ?? "http://127.0.0.1:8000";
        var urlOption = s.BaseUrl is null && env("BASE_URL") is not null ? "BASE_URL" : "--base-url";
        if (!Uri.TryCreate(urlText.TrimEnd('/') + "/", UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https") || !string.IsNullOrEmpty(url.Query))
            throw new OptionException($"{urlOption}: '{urlText}' is not an absolute http(s) URL without a query");
        var duration = TimeSpan.FromSeconds(5);
        if (s.Duration is not null && (!Options.TryParseDuration(s.Duration, out duration) || duration <= TimeSpan.Zero))
            throw new OptionException($"--duration: '{s.Duration}' is not a duration > 0 (examples: 5s, 500ms, 1m)");
        var connections = 32;
        if (s.Connections is not null && (!int.TryParse(s.Connections, NumberStyles.Integer, CultureInfo.InvariantCulture, out connections) || connections is < 1 or > 10_000))
            throw new OptionException($"--connections: '{s.Connections}' must be an integer in 1..10000");
        var outDir = Path.GetFullPath(s.Out ?? "results", workingDirectory);
        if (File.Exists(outDir)) throw new OptionException($"--out: '{outDir}' is a file, not a directory");
        return (url, duration, connections, outDir);
    }

    /// <summary>Measures, prints, saves; 1 when no request succeeded (nothing is saved then).</summary>
    public static async Task<int> ExecuteAsync(Uri url, TimeSpan duration, int connections, string outDir, TextWriter output, TimeSpan warmup,
        HttpMessageHandler? handler, CancellationToken ct)
    {
        var target = url.ToString().TrimEnd('/');
        output.WriteLine($"exbuy-load calibrate: GET {target}/api/health, closed loop on {connections} connections, {Options.FormatDuration(duration)} after a {Options.FormatDuration(warmup)} warm-up");
        var c = await Calibrator.RunAsync(url, duration, connections, warmup, handler, ct);
        var inv = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(inv,
            $"calibration: {c.Requests} requests in {c.Seconds:0.00}s, {c.Errors} errors; max rate {c.MaxRps:0.0} req/s; runner CPU {c.CpuMicrosPerRequest:0.0} µs per request ({c.ProcessorCount} cores: the CPU alone would allow about {(c.CpuMicrosPerRequest > 0 ? c.ProcessorCount * 1e6 / c.CpuMicrosPerRequest : 0):0} req/s)"));
        if (c.Requests - c.Errors <= 0)
        {
            output.WriteLine("calibration failed: no GET /api/health answered 200; nothing saved");
            return 1;
        }
        var path = await c.SaveAsync(outDir, ct);
        output.WriteLine($"saved: {path} (`exbuy-load run --out {outDir}` warns when an open-model --rate exceeds {Calibration.WarnShare * 100:0}% of {c.MaxRps.ToString("0.#", inv)} req/s)");
        return 0;
    }
}
