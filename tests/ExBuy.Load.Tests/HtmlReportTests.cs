using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ExBuy.Load.HtmlReport;

namespace ExBuy.Load.Tests;

public class ServerMetricsTests
{
    private const string Detail = "/api/products/{id:long:min(1)}";

    /// <summary>ExBuy-shaped /metrics text; every value times <paramref name="k"/>.</summary>
    internal static string Exposition(double k)
    {
        string V(double v) => (v * k).ToString("R", CultureInfo.InvariantCulture);
        return $$"""
            # HELP exbuy_request_queries SQL commands run by one /api request
            # TYPE exbuy_request_queries histogram
            exbuy_request_queries_bucket{http_route="{{Detail}}",optimize="true",le="1"} {{V(10)}}
            exbuy_request_queries_sum{http_route="{{Detail}}",optimize="true"} {{V(10)}}
            exbuy_request_queries_count{http_route="{{Detail}}",optimize="true"} {{V(10)}}
            exbuy_request_queries_sum{http_route="{{Detail}}",optimize="false"} {{V(40)}}
            exbuy_request_queries_count{http_route="{{Detail}}",optimize="false"} {{V(10)}}
            exbuy_request_queries_sum{http_route="/api/orders/"} {{V(15)}}
            exbuy_request_queries_count{http_route="/api/orders/"} {{V(5)}}
            exbuy_request_db_duration_seconds_sum{http_route="{{Detail}}",optimize="true"} {{V(0.05)}}
            exbuy_request_db_duration_seconds_count{http_route="{{Detail}}",optimize="true"} {{V(10)}}
            exbuy_request_db_duration_seconds_sum{http_route="{{Detail}}",optimize="false"} {{V(0.2)}}
            exbuy_request_db_duration_seconds_count{http_route="{{Detail}}",optimize="false"} {{V(10)}}
            exbuy_request_db_duration_seconds_sum{http_route="/api/orders/"} {{V(0.1)}}
            exbuy_request_db_duration_seconds_count{http_route="/api/orders/"} {{V(5)}}
            http_server_request_duration_seconds_sum{http_request_method="GET",http_response_status_code="200",http_route="{{Detail}}",network_protocol_version="1.1",url_scheme="http"} {{V(0.5)}}
            http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="200",http_route="{{Detail}}",network_protocol_version="1.1",url_scheme="http"} {{V(20)}}
            http_server_request_duration_seconds_sum{http_request_method="GET",http_response_status_code="404",http_route="{{Detail}}",network_protocol_version="1.1",url_scheme="http"} {{V(0.01)}}
            http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="404",http_route="{{Detail}}",network_protocol_version="1.1",url_scheme="http"} {{V(1)}}
            http_server_request_duration_seconds_sum{http_request_method="POST",http_response_status_code="201",http_route="/api/orders/"} {{V(0.25)}} 1700000000000
            http_server_request_duration_seconds_count{http_request_method="POST",http_response_status_code="201",http_route="/api/orders/"} {{V(5)}} 1700000000000
            http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="404"} 7
            # EOF
            """;
    }

    internal static JsonObject SampleDiff()
    {
        var at = DateTimeOffset.UnixEpoch;
        return ServerMetrics.Diff(ServerMetrics.Parse(Exposition(1), at), ServerMetrics.Parse(Exposition(3), at.AddSeconds(10)))!;
    }

    [Fact]
    public void The_differences_give_requests_SQL_and_DB_time_per_request_by_route_and_optimize()
    {
        var routes = SampleDiff()["routes"]!.AsArray().Select(r => r!.AsObject()).ToList();
        Assert.Equal(3, routes.Count);
        var t = routes.Single(r => r["route"]!.GetValue<string>() == Detail && r["optimize"]?.GetValue<string>() == "true");
        Assert.Equal(20, t["requests"]!.GetValue<long>());
        Assert.Equal(1, t["sql_per_request"]!.GetValue<double>());
        Assert.Equal(5, t["db_ms_per_request"]!.GetValue<double>(), 3);
        Assert.Equal(42, t["route_requests"]!.GetValue<long>());
        Assert.Equal(1020.0 / 42, t["route_server_ms_per_request"]!.GetValue<double>(), 3);
        Assert.Equal(0.5 / 1.02, t["route_db_share"]!.GetValue<double>(), 3);
        var f = routes.Single(r => r["optimize"]?.GetValue<string>() == "false");
        Assert.Equal(4, f["sql_per_request"]!.GetValue<double>());
        Assert.Equal(20, f["db_ms_per_request"]!.GetValue<double>(), 3);
        var orders = routes.Single(r => r["route"]!.GetValue<string>() == "/api/orders/");
        Assert.Null(orders["optimize"]);
        Assert.Equal(10, orders["requests"]!.GetValue<long>());
        Assert.Equal(3, orders["sql_per_request"]!.GetValue<double>());
        Assert.Equal(50, orders["route_server_ms_per_request"]!.GetValue<double>(), 3);
    }

    [Fact]
    public void A_target_without_the_metrics_records_null()
    {
        Assert.Null(ServerMetrics.Parse("<html>not found</html>", DateTimeOffset.UnixEpoch));
        Assert.Null(ServerMetrics.Diff(null, ServerMetrics.Parse(Exposition(1), DateTimeOffset.UnixEpoch)));
    }
}

[Collection("runs")]
public class HtmlReportTests
{
    private static async Task<string> RunAsync(FakeServer server, string dir, RunSettings settings)
    {
        settings.ScenariosFile = FakeServer.WriteScenarios(dir);
        settings.BaseUrl = server.BaseUrl;
        settings.Out = Path.Combine(dir, "results");
        settings.Warmup = "0s";
        settings.Seed = "11";
        var options = ExBuy.Load.Options.Validate(settings, dir, _ => null);
        await using var runner = new LoadRunner(options, TestSupport.Console(new StringWriter()), plain: true, workingDirectory: dir);
        var outcome = await runner.RunAsync(TestContext.Current.CancellationToken);
        Assert.Equal(0, outcome.ExitCode);
        return outcome.ResultFile!;
    }

    private static readonly string[] ChromiumFlags =
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--virtual-time-budget=5000",
    ];

    private static async Task<(int Exit, string Stdout, string Stderr)> ChromiumAsync(string chromium, string dir, params string[] args) =>
        await RequiredTool.RunAsync(chromium, [.. ChromiumFlags, $"--user-data-dir={TestSupport.TempDir("chromium-profile")}", .. args],
            TimeSpan.FromSeconds(90), TestContext.Current.CancellationToken);

    [Fact]
    public async Task A_report_of_two_runs_is_self_contained_and_draws_its_charts_in_headless_Chromium()
    {
        var dir = TestSupport.TempDir("exload-report");
        string fileA, fileB;
        await using (var server = await FakeServer.StartAsync())
        {
            fileA = await RunAsync(server, dir, new RunSettings { Scenario = "writes", Vus = "3", Duration = "2s" });
            fileB = await RunAsync(server, dir, new RunSettings { Scenario = "reads", Vus = "2", Duration = "3s" });
        }
        // The fake server has no /metrics: the result says so with null.
        var a = JsonNode.Parse(File.ReadAllText(fileA))!.AsObject();
        Assert.True(a.ContainsKey("server_metrics"));
        Assert.Null(a["server_metrics"]);
        // Run A gets a fault window (the hook the next issue fills), run B the server metrics of an ExBuy-shaped /metrics.
        a["faults"] = new JsonArray(new JsonObject { ["start_s"] = 0.5, ["end_s"] = 1.2, ["label"] = "db stall" });
        File.WriteAllText(fileA, a.ToJsonString());
        var b = JsonNode.Parse(File.ReadAllText(fileB))!.AsObject();
        b["server_metrics"] = ServerMetricsTests.SampleDiff();
        File.WriteAllText(fileB, b.ToJsonString());
        var opsA = a["operations"]!.AsObject().Count(o => o.Value!["count"]!.GetValue<long>() > 0);
        var opsB = b["operations"]!.AsObject().Count(o => o.Value!["count"]!.GetValue<long>() > 0);
        Assert.Equal(3, opsA);

        var html = Path.Combine(dir, "report.html");
        Assert.Equal(0, await Cli.Create().RunAsync(["report", fileA, fileB, "--out", html], TestContext.Current.CancellationToken));
        var page = File.ReadAllText(html);

        // Self-contained: no element loads anything, no CSS import or url(), no http(s) reference outside comments.
        Assert.DoesNotMatch(new Regex(@"<(script|link|img|iframe|source|embed|object)\b[^>]*\b(src|href|data)\s*=", RegexOptions.IgnoreCase), page);
        Assert.DoesNotMatch(new Regex(@"@import|url\(\s*['""]?(https?:)?//", RegexOptions.IgnoreCase), page);
        Assert.DoesNotMatch(new Regex(@"<(script|link)[^>]*https?://", RegexOptions.IgnoreCase), page);
        Assert.Contains("<script type=\"application/json\" id=\"exbuy-data\">", page);
        var blob = Regex.Match(page, "<script type=\"application/json\" id=\"exbuy-data\">(.*?)</script>", RegexOptions.Singleline).Groups[1].Value;
        var data = JsonNode.Parse(blob)!;
        Assert.Equal(2, data["runs"]!.AsArray().Count);
        Assert.Equal(opsA, data["runs"]![0]!["curves"]!["series"]!.AsArray().Count);

        var chromium = RequiredTool.Require("chromium", "apt-get install -y chromium");
        var url = new Uri(html).AbsoluteUri;
        var (exit, dom, err) = await ChromiumAsync(chromium, dir, "--dump-dom", url);
        Assert.True(exit == 0, $"chromium exit {exit}: {err}");
        var body = Regex.Match(dom, "<body[^>]*>").Value;
        Assert.Contains("data-charts-expected=\"5\"", body); // RPS, latency, errors overlaid + one distribution per run
        Assert.True(body.Contains("data-charts-rendered=\"5\"", StringComparison.Ordinal), $"{body}\n{dom[..Math.Min(dom.Length, 3000)]}");
        var charts = Regex.Matches(dom, "<div class=\"chart\" data-chart=\"([^\"]+)\" data-series=\"(\\d+)\" data-drawn=\"(\\d)\" data-painted=\"(-?\\d+)\"")
            .ToDictionary(m => m.Groups[1].Value, m => (Series: int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), Drawn: m.Groups[3].Value,
                Painted: int.Parse(m.Groups[4].Value, CultureInfo.InvariantCulture)));
        Assert.Equal(["distribution-0", "distribution-1", "errors", "latency", "rps"], charts.Keys.Order().ToArray());
        Assert.Equal(2, charts["rps"].Series);
        Assert.Equal(6, charts["latency"].Series); // p50/p95/p99 × 2 runs
        Assert.Equal(2, charts["errors"].Series);
        Assert.Equal(opsA, charts["distribution-0"].Series);
        Assert.Equal(opsB, charts["distribution-1"].Series);
        Assert.All(charts.Values, c => { Assert.Equal("1", c.Drawn); Assert.True(c.Painted > 100, $"painted {c.Painted}"); });
        Assert.Contains("correctness OK", dom); // run A writes
        Assert.Contains("correctness not checked", dom); // run B only reads
        Assert.Contains("/api/products/{id:long:min(1)}", dom); // the server-metrics table of run B
        Assert.Contains("data-verdict=\"pass\"", dom);

        var png = Path.Combine(dir, "report.png");
        var (shotExit, _, shotErr) = await ChromiumAsync(chromium, dir, "--window-size=1280,1600", $"--screenshot={png}", url);
        Assert.True(shotExit == 0 && File.Exists(png), $"chromium exit {shotExit}: {shotErr}");
        var image = Png.Read(png);
        Assert.Equal(1280, image.Width);
        var nonWhite = image.Count((r, g, bl) => r < 235 || g < 235 || bl < 235);
        Assert.True(nonWhite > image.Width * image.Height / 50, $"{nonWhite} non-white pixels of {image.Width * image.Height}");
        // The runs' line colours (#1f77b4, #d62728) are on the page: the charts, not only text.
        Assert.True(image.Count((r, g, bl) => Near(r, g, bl, 0x1f, 0x77, 0xb4)) > 300, "no blue run-1 pixels");
        Assert.True(image.Count((r, g, bl) => Near(r, g, bl, 0xd6, 0x27, 0x28)) > 300, "no red run-2 pixels");
        if (Environment.GetEnvironmentVariable("EXBUY_REPORT_KEEP") is { Length: > 0 } keep)
        {
            File.Copy(html, Path.Combine(keep, "report.html"), overwrite: true);
            File.Copy(png, Path.Combine(keep, "report.png"), overwrite: true);
        }
    }

    [Fact]
    public async Task Fault_windows_are_shaded_only_where_they_inject_something_and_listed_in_a_table()
    {
        var dir = TestSupport.TempDir("exload-report-faults");
        string file;
        await using (var server = await FakeServer.StartAsync())
            file = await RunAsync(server, dir, new RunSettings { Scenario = "reads", Vus = "2", Duration = "3s" });
        var r = JsonNode.Parse(File.ReadAllText(file))!.AsObject();
        JsonObject Window(double from, double to, string label, JsonArray rules, long requests, long errors, long faulted, string? error = null) => new()
        {
            ["start_s"] = from, ["end_s"] = to, ["label"] = label, ["rules"] = rules, ["applied_at"] = "2026-12-02T12:00:00.000Z", ["error"] = error,
            ["stats"] = new JsonObject { ["requests"] = requests, ["errors"] = errors, ["error_rate"] = requests == 0 ? 0 : (double)errors / requests, ["rps"] = requests,
                ["p50_ms"] = 1.25, ["p99_ms"] = 4.5, ["faulted"] = faulted },
        };
        r["faults"] = new JsonArray(
            Window(0, 1, "baseline", [], 100, 0, 0),
            Window(1, 2, "broken detail", [new JsonObject { ["route"] = "/api/products/{id}", ["error_status"] = 503, ["percent"] = 20 }], 100, 20, 20),
            Window(2, 3, "recovered", [], 100, 0, 0));
        r["fault_timeline"] = new JsonObject { ["file"] = "load/faults/x.json", ["source"] = "random", ["seed"] = 7, ["straddled"] = 3 };
        File.WriteAllText(file, r.ToJsonString());
        var html = Path.Combine(dir, "faults.html");
        Assert.Equal(0, await Cli.Create().RunAsync(["report", file, "--out", html], TestContext.Current.CancellationToken));

        var chromium = RequiredTool.Require("chromium", "apt-get install -y chromium");
        var (exit, dom, err) = await ChromiumAsync(chromium, dir, "--dump-dom", new Uri(html).AbsoluteUri);
        Assert.True(exit == 0, $"chromium exit {exit}: {err}");
        Assert.Contains("data-charts-rendered=\"4\"", Regex.Match(dom, "<body[^>]*>").Value);
        // One band (the window with rules) on each time chart, none on the distribution.
        var bands = Regex.Matches(dom, "data-chart=\"([^\"]+)\"[^>]*data-fault-bands=\"(\\d+)\"").ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
        Assert.Equal("1", bands["rps"]);
        Assert.Equal("1", bands["latency"]);
        Assert.Equal("1", bands["errors"]);
        Assert.Equal("0", bands["distribution-0"]);
        Assert.Contains("data-fault-windows=\"3\"", dom);
        Assert.Contains("error 503 at 20% on /api/products/{id}", dom);
        Assert.Contains("no faults", dom);
        Assert.Contains("20.00 %", dom);
        Assert.Contains("(random, seed 7)", dom);
    }

    private static bool Near(int r, int g, int b, int r0, int g0, int b0) => Math.Abs(r - r0) < 24 && Math.Abs(g - g0) < 24 && Math.Abs(b - b0) < 24;

    [Fact]
    public async Task The_report_command_refuses_a_file_that_is_not_a_result()
    {
        var dir = TestSupport.TempDir("exload-report-bad");
        var bad = Path.Combine(dir, "x.json");
        File.WriteAllText(bad, """{"schema": "something-else"}""");
        Assert.Equal(2, await Cli.Create().RunAsync(["report", bad], TestContext.Current.CancellationToken));
        Assert.Empty(Directory.GetFiles(dir, "*.html"));
    }

    [Fact]
    public void The_default_output_is_next_to_the_first_result()
    {
        var path = HtmlReportWriter.DefaultOut("results/mixed-20260101T120000Z.json", new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));
        Assert.Equal(Path.GetFullPath("results/report-20260102T030405Z.html"), path);
    }
}

/// <summary>Just enough PNG (8-bit RGB/RGBA, non-interlaced, as Chromium writes screenshots) to count pixels.</summary>
internal sealed class Png(int width, int height, int channels, byte[] pixels)
{
    public int Width { get; } = width;
    public int Height { get; } = height;

    public int Count(Func<int, int, int, bool> match)
    {
        var n = 0;
        for (var i = 0; i + 2 < pixels.Length; i += channels)
            if (match(pixels[i], pixels[i + 1], pixels[i + 2])) n++;
        return n;
    }

    public static Png Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        Assert.True(bytes.Length > 8 && bytes[1] == 'P' && bytes[2] == 'N' && bytes[3] == 'G', "not a PNG");
        int width = 0, height = 0, channels = 0;
        using var idat = new MemoryStream();
        for (var p = 8; p + 8 <= bytes.Length;)
        {
            var length = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(p));
            var type = System.Text.Encoding.ASCII.GetString(bytes, p + 4, 4);
            var chunk = bytes.AsSpan(p + 8, length);
            if (type == "IHDR")
            {
                width = BinaryPrimitives.ReadInt32BigEndian(chunk);
                height = BinaryPrimitives.ReadInt32BigEndian(chunk[4..]);
                Assert.Equal(8, chunk[8]); // bit depth
                channels = chunk[9] switch { 2 => 3, 6 => 4, _ => throw new InvalidOperationException($"PNG colour type {chunk[9]}") };
                Assert.Equal(0, chunk[12]); // not interlaced
            }
            else if (type == "IDAT") idat.Write(chunk);
            else if (type == "IEND") break;
            p += 12 + length;
        }
        idat.Position = 0;
        using var z = new ZLibStream(idat, CompressionMode.Decompress);
        using var raw = new MemoryStream();
        z.CopyTo(raw);
        var data = raw.ToArray();
        var stride = width * channels;
        var pixels = new byte[stride * height];
        for (var y = 0; y < height; y++)
        {
            var filter = data[y * (stride + 1)];
            var src = y * (stride + 1) + 1;
            var row = y * stride;
            for (var x = 0; x < stride; x++)
            {
                int a = x >= channels ? pixels[row + x - channels] : 0;
                int b = y > 0 ? pixels[row - stride + x] : 0;
                int c = x >= channels && y > 0 ? pixels[row - stride + x - channels] : 0;
                var v = data[src + x];
                pixels[row + x] = (byte)(filter switch
                {
                    0 => v,
                    1 => v + a,
                    2 => v + b,
                    3 => v + ((a + b) >> 1),
                    4 => v + Paeth(a, b, c),
                    _ => throw new InvalidOperationException($"PNG filter {filter}"),
                });
            }
        }
        return new Png(width, height, channels, pixels);
    }

    private static int Paeth(int a, int b, int c)
    {
        var p = a + b - c;
        int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}
