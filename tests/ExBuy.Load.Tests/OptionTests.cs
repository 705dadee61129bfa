namespace ExBuy.Load.Tests;

public class OptionTests
{
    [Fact]
    public void Defaults_apply_and_the_scenarios_file_is_found_upwards()
    {
        var sub = Path.Combine(TestSupport.RepoRoot(), "src", "ExBuy.Load");
        var o = Options.Validate(new RunSettings { Scenario = "mixed" }, sub, _ => null, executableDirectory: Path.GetTempPath());
        Assert.Equal(new Uri("http://127.0.0.1:8000"), o.BaseUrl);
        Assert.Equal(10, o.Vus);
        Assert.Equal(TimeSpan.FromSeconds(5), o.Warmup);
        Assert.Equal("optimistic", o.LockType);
        Assert.False(o.OpenModel);
        Assert.Equal(Path.Combine(sub, "results"), o.OutDir);
        Assert.Equal(Path.Combine(TestSupport.RepoRoot(), "load", "scenarios.json"), o.File.Path);
        Assert.Equal(2, o.Thresholds.Count);
    }

    [Fact]
    public void Options_and_the_environment_fallbacks_are_applied()
    {
        var env = new Dictionary<string, string> { ["BASE_URL"] = "http://127.0.0.1:9999/", ["LOCK_TYPE"] = "versioned" };
        var o = TestSupport.Options(new RunSettings
        {
            Scenario = "contention", Duration = "1m30s", Vus = "3", RampUp = "500ms", RampDown = "2s", Warmup = "0", Seed = "42",
            Threshold = ["p95<200ms", "reserve:p99<50ms"], Out = "/tmp/x",
        });
        Assert.Equal(TimeSpan.FromSeconds(90), o.Duration);
        Assert.Equal(TimeSpan.FromMilliseconds(500), o.RampUp);
        Assert.Equal(TimeSpan.Zero, o.Warmup);
        Assert.Equal(42, o.Seed);
        Assert.Equal(3, o.Thresholds.Count); // two given + the scenario's one
        var e = Options.Validate(new RunSettings { Scenario = "mixed" }, TestSupport.RepoRoot(), k => env.GetValueOrDefault(k));
        Assert.Equal(new Uri("http://127.0.0.1:9999"), e.BaseUrl);
        Assert.Equal("versioned", e.LockType);
        var overridden = Options.Validate(new RunSettings { Scenario = "mixed", LockType = "pessimistic" }, TestSupport.RepoRoot(), k => env.GetValueOrDefault(k));
        Assert.Equal("pessimistic", overridden.LockType);
        var open = TestSupport.Options(new RunSettings { Scenario = "read-only", Rate = "250", MaxVus = "20" });
        Assert.True(open.OpenModel);
        Assert.Equal(250, open.Rate);
        Assert.Equal(20, open.MaxVus);
    }

    [Theory]
    [InlineData("--scenario", null, null)]
    [InlineData("--scenario", "nope", null)]
    [InlineData("--base-url", "mixed", "BaseUrl=ftp://x")]
    [InlineData("--base-url", "mixed", "BaseUrl=not a url")]
    [InlineData("--duration", "mixed", "Duration=0s")]
    [InlineData("--duration", "mixed", "Duration=ten")]
    [InlineData("--vus", "mixed", "Vus=0")]
    [InlineData("--vus", "mixed", "Vus=abc")]
    [InlineData("--ramp-up", "mixed", "RampUp=-1s")]
    [InlineData("--ramp-down", "mixed", "RampDown=x")]
    [InlineData("--warmup", "mixed", "Warmup=5 parsecs")]
    [InlineData("--seed", "mixed", "Seed=1.5")]
    [InlineData("--lock-type", "mixed", "LockType=none")]
    [InlineData("--rate", "mixed", "Rate=0")]
    [InlineData("--max-vus", "mixed", "MaxVus=10")]
    [InlineData("--threshold", "mixed", "Threshold=p95<<2")]
    [InlineData("--threshold", "mixed", "Threshold=nosuchop:p95<2ms")]
    [InlineData("--timeout", "mixed", "Timeout=5m")]
    [InlineData("--scenarios", "mixed", "ScenariosFile=/nonexistent/scenarios.json")]
    [InlineData("--faults", "mixed", "Faults=/nonexistent/timeline.json")]
    [InlineData("--admin-token", "mixed", "AdminToken=secret")]
    public void Each_bad_option_is_rejected_naming_it(string option, string? scenario, string? assignment)
    {
        var s = new RunSettings { Scenario = scenario };
        if (assignment is not null)
        {
            var (name, value) = (assignment[..assignment.IndexOf('=')], assignment[(assignment.IndexOf('=') + 1)..]);
            var prop = typeof(RunSettings).GetProperty(name)!;
            prop.SetValue(s, prop.PropertyType == typeof(string[]) ? new[] { value } : value);
        }
        var e = Assert.Throws<OptionException>(() => TestSupport.Options(s));
        Assert.StartsWith(option + ":", e.Message);
    }

    [Fact]
    public void A_scenarios_file_with_a_bad_threshold_or_an_unknown_operation_is_rejected()
    {
        var dir = TestSupport.TempDir("exload-opt");
        var path = Path.Combine(dir, "s.json");
        File.WriteAllText(path, """
            {"operations": {"detail": {"method": "GET", "path": "/api/products/{product}", "expect": [200], "effect": "none"}},
             "scenarios": {"x": {"weights": {"detail": 1}, "thresholds": {"http_req_duration": ["p95<1"]}},
                           "y": {"weights": {"detail": 1}}}}
            """);
        var e = Assert.Throws<OptionException>(() => TestSupport.Options(new RunSettings { Scenario = "x", ScenariosFile = path }));
        Assert.Contains("thresholds.http_req_duration", e.Message);
        Assert.Equal("y", TestSupport.Options(new RunSettings { Scenario = "y", ScenariosFile = path }).ScenarioName);
        File.WriteAllText(path, """{"operations": {}, "scenarios": {"x": {"weights": {"detail": 1}}}}""");
        e = Assert.Throws<OptionException>(() => TestSupport.Options(new RunSettings { Scenario = "x", ScenariosFile = path }));
        Assert.Contains("unknown operation 'detail'", e.Message);
    }

    [Theory]
    [InlineData("60s", 60_000)]
    [InlineData("500ms", 500)]
    [InlineData("2m", 120_000)]
    [InlineData("1m30s", 90_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("2.5", 2_500)]
    [InlineData("0", 0)]
    public void Durations_parse(string text, double ms)
    {
        Assert.True(Options.TryParseDuration(text, out var d));
        Assert.Equal(ms, d.TotalMilliseconds, 6);
    }

    [Fact]
    public async Task The_cli_exits_2_on_an_unknown_option()
    {
        var original = Console.Error;
        var err = new StringWriter();
        Console.SetError(err);
        try
        {
            Assert.Equal(2, await Cli.Create().RunAsync(["run", "--scenario", "mixed", "--bogus", "1"], TestContext.Current.CancellationToken));
        }
        finally { Console.SetError(original); }
        Assert.Contains("bogus", err.ToString());
    }

    [Fact]
    public async Task The_cli_exits_2_on_a_bad_option()
    {
        var original = Console.Error;
        var err = new StringWriter();
        Console.SetError(err);
        try
        {
            var code = await new RunCommand().ExecuteAsync(null!, new RunSettings { Scenario = "mixed", Vus = "-3", ScenariosFile = Path.Combine(TestSupport.RepoRoot(), "load", "scenarios.json") }, TestContext.Current.CancellationToken);
            Assert.Equal(2, code);
        }
        finally { Console.SetError(original); }
        Assert.Contains("--vus", err.ToString());
    }
}
