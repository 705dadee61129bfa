using System.Text.Json.Nodes;

namespace ExBuy.Load.Tests;

[Collection("runs")]
public class FakeServerTests
{
    private static async Task<(RunOutcome Outcome, string Output)> RunAsync(FakeServer server, RunSettings settings)
    {
        var dir = TestSupport.TempDir("exload-fake");
        settings.ScenariosFile = FakeServer.WriteScenarios(dir);
        settings.BaseUrl = server.BaseUrl;
        settings.Out = Path.Combine(dir, "results");
        settings.Warmup ??= "0s";
        settings.Seed ??= "7";
        var options = ExBuy.Load.Options.Validate(settings, dir, _ => null);
        var output = new StringWriter();
        var runner = new LoadRunner(options, TestSupport.Console(output), plain: true, workingDirectory: dir);
        var outcome = await runner.RunAsync(TestContext.Current.CancellationToken);
        return (outcome, output.ToString());
    }

    [Fact]
    public async Task The_open_model_keeps_its_rate_and_charges_a_stall_to_latency()
    {
        await using var server = await FakeServer.StartAsync(stall: true);
        var (outcome, output) = await RunAsync(server, new RunSettings { Scenario = "reads", Rate = "100", Duration = "3s", Threshold = ["p99<100ms"] });
        var open = outcome.Open!;
        // The intended rate is kept: every arrival started, none dropped, at 100/s (late starts, > 1 ms, depend on the
        // machine's load and are reported, not asserted), while every 10th request stalls 200 ms.
        Assert.Equal(300, open.Intended);
        Assert.Equal(300, open.Started);
        Assert.Equal(0, open.Dropped);
        Assert.InRange(open.StartRate, 90, 110);
        Assert.InRange(open.IntendedRate, 99.9, 100.1);
        Assert.True(outcome.All.PercentileMs(99) >= 200, $"p99 {outcome.All.PercentileMs(99)} ms\n{output}");
        Assert.True(outcome.All.PercentileMs(50) < 100, output);
        Assert.Equal(0, outcome.Errors);
        Assert.Equal(99, outcome.ExitCode); // the p99<100ms threshold is crossed, like k6
        Assert.Contains("threshold CROSSED p99<100ms", output);
        var op = Assert.Single(outcome.Operations.Values);
        Assert.Equal("detail[optimize=true]", op.Key);
        Assert.InRange(op.ServerTotal.GetValueAtPercentile(50), 249, 251); // Server-Timing app;dur=0.250
        var json = JsonNode.Parse(File.ReadAllText(outcome.ResultFile!))!;
        Assert.Equal("open", json["config"]!["model"]!.GetValue<string>());
        Assert.Equal(300, json["open_model"]!["intended"]!.GetValue<long>());
        Assert.Equal("correctness: not checked (the scenario does not write)", output.Split('\n').First(l => l.StartsWith("correctness", StringComparison.Ordinal)).Trim());
    }

    [Fact]
    public async Task The_open_model_drops_starts_past_its_in_flight_cap_and_says_it_fell_behind()
    {
        await using var server = await FakeServer.StartAsync(stall: true);
        var (outcome, output) = await RunAsync(server, new RunSettings { Scenario = "reads", Rate = "100", MaxVus = "1", Duration = "1s" });
        var open = outcome.Open!;
        Assert.Equal(100, open.Intended);
        Assert.True(open.Dropped >= 10, output); // ~20 arrivals fall in each 200 ms stall with one slot
        Assert.Equal(open.Intended, open.Started + open.Dropped);
        Assert.True(open.FellBehind);
        Assert.Contains("the run fell behind its rate", output);
        Assert.Equal(0, outcome.ExitCode);
    }

    [Fact]
    public async Task The_verdict_is_OK_when_the_target_is_consistent()
    {
        await using var server = await FakeServer.StartAsync();
        var (outcome, output) = await RunAsync(server, new RunSettings { Scenario = "writes", Vus = "4", Duration = "1500ms", Warmup = "500ms" });
        Assert.True(outcome.Correctness.Checked);
        Assert.True(outcome.Correctness.Ok, output + string.Join("\n", outcome.Correctness.OtherViolations));
        Assert.Equal(20, outcome.Correctness.Verified);
        Assert.Contains("correctness: OK", output);
        Assert.Contains("valid only when nothing else writes", output);
        Assert.Equal(0, outcome.ExitCode);
        Assert.True(outcome.OrdersPlaced > 0);
        Assert.Equal(server.OrdersCreated, outcome.OrdersPlacedWithWarmup);
    }

    [Fact]
    public async Task The_verdict_catches_a_stock_read_back_that_is_off_by_one()
    {
        await using var server = await FakeServer.StartAsync(offByOne: true);
        var (outcome, output) = await RunAsync(server, new RunSettings { Scenario = "writes", Vus = "4", Duration = "1500ms" });
        Assert.False(outcome.Correctness.Ok);
        Assert.NotEmpty(outcome.Correctness.Violations);
        Assert.All(outcome.Correctness.Violations, v => Assert.Contains("1 unit(s) lost", v.Detail));
        Assert.Contains("correctness: VIOLATION", output);
        Assert.Equal(1, outcome.ExitCode);
        Assert.Equal("violation", outcome.Verdict);
        var json = JsonNode.Parse(File.ReadAllText(outcome.ResultFile!))!;
        Assert.False(json["correctness"]!["ok"]!.GetValue<bool>());
    }
}
