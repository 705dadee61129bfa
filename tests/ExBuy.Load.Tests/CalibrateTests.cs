using System.Text.Json.Nodes;

namespace ExBuy.Load.Tests;

public class CalibrateOptionTests
{
    [Fact]
    public void Defaults_and_bad_values()
    {
        var dir = TestSupport.TempDir("exload-copt");
        var (url, duration, connections, outDir) = CalibrateCommand.Validate(new CalibrateSettings(), dir, _ => null);
        Assert.Equal("http://127.0.0.1:8000/", url.ToString());
        Assert.Equal(TimeSpan.FromSeconds(5), duration);
        Assert.Equal(32, connections);
        Assert.Equal(Path.Combine(dir, "results"), outDir);
        Assert.StartsWith("--connections:", Assert.Throws<OptionException>(() => CalibrateCommand.Validate(new CalibrateSettings { Connections = "0" }, dir, _ => null)).Message);
        Assert.StartsWith("--duration:", Assert.Throws<OptionException>(() => CalibrateCommand.Validate(new CalibrateSettings { Duration = "0s" }, dir, _ => null)).Message);
        Assert.StartsWith("--base-url:", Assert.Throws<OptionException>(() => CalibrateCommand.Validate(new CalibrateSettings { BaseUrl = "ftp://x" }, dir, _ => null)).Message);
    }
}

[Collection("runs")]
public class CalibrateTests
{
    [Fact]
    public async Task Calibrate_measures_the_runner_on_api_health_and_saves_calibration_json()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await FakeServer.StartAsync();
        var dir = TestSupport.TempDir("exload-calib");
        var outDir = Path.Combine(dir, "results");
        var output = new StringWriter();
        var before = DateTimeOffset.UtcNow;
        var exit = await CalibrateCommand.ExecuteAsync(new Uri(server.BaseUrl + "/"), TimeSpan.FromSeconds(1), 4, outDir, output, TimeSpan.FromMilliseconds(200), null, ct);
        var log = output.ToString();
        Assert.Equal(0, exit);
        Assert.Contains("max rate", log);
        Assert.Contains("µs per request", log);
        var json = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(outDir, "calibration.json"), ct))!;
        Assert.Equal(server.BaseUrl.TrimEnd('/'), json["base_url"]!.GetValue<string>());
        Assert.True(json["requests"]!.GetValue<long>() > 10, log);
        Assert.Equal(0, json["errors"]!.GetValue<long>());
        Assert.True(json["max_rps"]!.GetValue<double>() > 10, log);
        Assert.True(json["cpu_us_per_request"]!.GetValue<double>() > 0, log);
        Assert.Equal(4, json["connections"]!.GetValue<int>());
        var c = Calibration.TryLoad(outDir, out var problem);
        Assert.Null(problem);
        Assert.NotNull(c);
        Assert.InRange(c.MeasuredAt, before.AddSeconds(-1), DateTimeOffset.UtcNow.AddSeconds(1));
    }

    [Fact]
    public async Task Calibrate_against_nothing_fails_and_saves_nothing()
    {
        var ct = TestContext.Current.CancellationToken;
        var dir = TestSupport.TempDir("exload-calib0");
        var output = new StringWriter();
        var exit = await CalibrateCommand.ExecuteAsync(new Uri($"http://127.0.0.1:{TestSupport.FreePort()}/"), TimeSpan.FromMilliseconds(300), 2, dir, output,
            TimeSpan.Zero, null, ct);
        Assert.Equal(1, exit);
        Assert.False(File.Exists(Path.Combine(dir, "calibration.json")));
    }

    private static async Task<(RunOutcome Outcome, string Output)> RunAsync(FakeServer server, string dir, RunSettings settings)
    {
        settings.ScenariosFile = FakeServer.WriteScenarios(dir);
        settings.BaseUrl = server.BaseUrl;
        settings.Out = Path.Combine(dir, "results");
        settings.Warmup ??= "0s";
        settings.Seed ??= "7";
        var options = ExBuy.Load.Options.Validate(settings, dir, _ => null);
        var output = new StringWriter();
        await using var runner = new LoadRunner(options, TestSupport.Console(output), plain: true, workingDirectory: dir);
        var outcome = await runner.RunAsync(TestContext.Current.CancellationToken);
        return (outcome, output.ToString());
    }

    private static async Task WriteCalibrationAsync(string dir, double maxRps, string baseUrl) =>
        await new Calibration(baseUrl, DateTimeOffset.UtcNow, 5, 32, (long)(maxRps * 5), 0, maxRps, 50, 2).SaveAsync(Path.Combine(dir, "results"), TestContext.Current.CancellationToken);

    [Fact]
    public async Task An_open_run_above_80_percent_of_the_calibrated_ceiling_warns_at_start()
    {
        await using var server = await FakeServer.StartAsync();
        var dir = TestSupport.TempDir("exload-warn");
        await WriteCalibrationAsync(dir, 100, server.BaseUrl.TrimEnd('/'));
        var (outcome, output) = await RunAsync(server, dir, new RunSettings { Scenario = "reads", Rate = "90", Duration = "1s" });
        var warning = Assert.Single(output.Split('\n'), l => l.StartsWith("WARNING: --rate 90 is 90% of this runner's calibrated ceiling of 100 req/s", StringComparison.Ordinal));
        Assert.True(output.IndexOf(warning, StringComparison.Ordinal) < output.IndexOf("set-up:", StringComparison.Ordinal), "the warning comes at start");
        Assert.Equal(0, outcome.ExitCode);
    }

    [Fact]
    public async Task An_open_run_well_below_the_ceiling_or_a_closed_run_does_not_warn()
    {
        await using var server = await FakeServer.StartAsync();
        var dir = TestSupport.TempDir("exload-nowarn");
        await WriteCalibrationAsync(dir, 1000, server.BaseUrl.TrimEnd('/'));
        var (_, open) = await RunAsync(server, dir, new RunSettings { Scenario = "reads", Rate = "50", Duration = "1s" });
        Assert.DoesNotContain("WARNING", open);
        Assert.Contains("calibration: --rate 50 is 5% of this runner's calibrated ceiling of 1000 req/s", open);
        var (_, closed) = await RunAsync(server, dir, new RunSettings { Scenario = "reads", Vus = "1", Duration = "1s" });
        Assert.DoesNotContain("WARNING", closed);
        Assert.DoesNotContain("calibration", closed);
    }

    [Fact]
    public async Task A_broken_calibration_file_is_reported_not_fatal()
    {
        await using var server = await FakeServer.StartAsync();
        var dir = TestSupport.TempDir("exload-badcal");
        Directory.CreateDirectory(Path.Combine(dir, "results"));
        await File.WriteAllTextAsync(Path.Combine(dir, "results", "calibration.json"), "{ not json", TestContext.Current.CancellationToken);
        var (outcome, output) = await RunAsync(server, dir, new RunSettings { Scenario = "reads", Rate = "50", Duration = "1s" });
        Assert.Contains("calibration: not read (", output);
        Assert.Equal(0, outcome.ExitCode);
    }

    [Fact]
    public async Task The_report_says_when_the_achieved_rate_was_below_the_intended_one()
    {
        await using var server = await FakeServer.StartAsync(stall: true);
        var dir = TestSupport.TempDir("exload-below");
        await WriteCalibrationAsync(dir, 150, server.BaseUrl.TrimEnd('/'));
        // One slot and a 200 ms stall every 10th request: arrivals are dropped, fewer requests complete than intended.
        var (outcome, output) = await RunAsync(server, dir, new RunSettings { Scenario = "reads", Rate = "100", MaxVus = "1", Duration = "1s" });
        Assert.True(outcome.Open!.Dropped > 0, output);
        Assert.Contains("achieved rate below the intended one:", output);
        Assert.Contains("(calibrated ceiling of this runner: 150 req/s)", output);

        var (_, kept) = await RunAsync(server, TestSupport.TempDir("exload-kept"), new RunSettings { Scenario = "reads", Rate = "20", Duration = "3s" });
        Assert.DoesNotContain("achieved rate below", kept);
    }
}
