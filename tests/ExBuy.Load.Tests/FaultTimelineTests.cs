using System.Text.Json.Nodes;

namespace ExBuy.Load.Tests;

public class FaultTimelineTests
{
    private static string Write(string text)
    {
        var path = Path.Combine(TestSupport.TempDir("exload-faults"), "timeline.json");
        File.WriteAllText(path, text);
        return path;
    }

    private static RunOptions Validate(RunSettings s, Func<string, string?>? env = null)
    {
        s.Scenario ??= "mixed";
        return Options.Validate(s, TestSupport.RepoRoot(), env ?? (_ => null));
    }

    [Fact]
    public void Every_example_in_load_faults_is_valid_for_a_60s_run()
    {
        var dir = Path.Combine(TestSupport.RepoRoot(), "load", "faults");
        var files = Directory.GetFiles(dir, "*.json").Select(f => Path.GetFileName(f)).Order().ToArray();
        Assert.Subset(files.ToHashSet(), new HashSet<string>(["failing-orders.json", "random.json", "slow-db.json", "stalled-route.json", "timeline.json"]));
        foreach (var file in files)
        {
            var o = Validate(new RunSettings { Duration = "60s", Seed = "3", Faults = Path.Combine(dir, file), AdminToken = "t" });
            Assert.NotNull(o.Faults);
            Assert.NotEmpty(o.Faults.Steps);
            Assert.All(o.Faults.Steps, s => Assert.InRange(s.At, TimeSpan.Zero, TimeSpan.FromSeconds(60) - TimeSpan.FromTicks(1)));
            Assert.Equal(TimeSpan.Zero, o.Faults.Steps[0].At);
        }
        var timeline = FaultTimeline.Load(Path.Combine(dir, "timeline.json"), TimeSpan.FromSeconds(60), 1);
        Assert.Equal(["baseline", "slow database", "failing orders", "recovered"], timeline.Steps.Select(s => s.Label));
        Assert.Equal([0.0, 15, 30, 45], timeline.Steps.Select(s => s.At.TotalSeconds));
        Assert.Equal("no faults", FaultTimeline.Describe(timeline.Steps[0].Rules));
        Assert.Equal("db_delay 100ms on every route", FaultTimeline.Describe(timeline.Steps[1].Rules));
        Assert.Equal("error 503 at 20% on /api/orders*", FaultTimeline.Describe(timeline.Steps[2].Rules));
        var stalled = FaultTimeline.Load(Path.Combine(dir, "stalled-route.json"), TimeSpan.FromSeconds(60), 1);
        Assert.Equal("delay 2000ms on /api/products/{id}", FaultTimeline.Describe(stalled.Steps[^1].Rules));
        Assert.Equal("steps", timeline.Source);
        Assert.Null(timeline.Seed);
    }

    [Theory]
    [InlineData("{", "not JSON")]
    [InlineData("[]", "expected an object")]
    [InlineData("""{"steps": [], "random": {}}""", "exactly one")]
    [InlineData("""{"description": "x"}""", "exactly one")]
    [InlineData("""{"steps": [], "extra": 1}""", "the timeline: unknown field \"extra\"")]
    [InlineData("""{"steps": []}""", "steps: empty")]
    [InlineData("""{"steps": [{"at": "0s", "label": "a", "rules": [], "when": 1}]}""", "steps[0] (\"a\"): unknown field \"when\"")]
    [InlineData("""{"steps": [{"at": "0s", "label": "a", "rules": [{"db_delay": 100}]}]}""", "steps[0] (\"a\").rules[0]: unknown field \"db_delay\"")]
    [InlineData("""{"steps": [{"at": "0s", "label": "a", "rules": [{"route": "/api/orders*"}]}]}""", "steps[0] (\"a\").rules[0]: the rule injects nothing")]
    [InlineData("""{"steps": [{"at": "0s", "label": "a", "rules": [{"delay_ms": -1}]}]}""", "steps[0] (\"a\").rules[0].delay_ms: expected milliseconds")]
    [InlineData("""{"steps": [{"at": "0s", "label": "a", "rules": [{"error_status": 200}]}]}""", "rules[0].error_status: expected an HTTP status from 400 to 599")]
    [InlineData("""{"steps": [{"at": "0s", "label": "a", "rules": [{"error_status": 503, "percent": 150}]}]}""", "rules[0].percent: expected a percentage")]
    [InlineData("""{"steps": [{"at": "0s", "label": "a", "rules": [{"error_status": 503, "route": "api/orders"}]}]}""", "rules[0].route: 'api/orders' is not a route template")]
    [InlineData("""{"steps": [{"at": "0s", "label": "a", "rules": [{"error_status": 503, "until": "tomorrow"}]}]}""", "rules[0].until: 'tomorrow' is not an ISO-8601 time")]
    [InlineData("""{"steps": [{"at": "ten", "label": "a", "rules": []}]}""", "steps[0] (\"a\").at: \"ten\" is not a duration")]
    [InlineData("""{"steps": [{"label": "a", "rules": []}]}""", "steps[0] (\"a\"): \"at\" is required")]
    [InlineData("""{"steps": [{"at": "0s", "label": "a"}]}""", "steps[0] (\"a\"): \"rules\" is required")]
    [InlineData("""{"steps": [{"at": "0s", "label": "a", "rules": {}}]}""", "steps[0] (\"a\").rules: expected an array")]
    [InlineData("""{"steps": [{"at": "10s", "label": "a", "rules": []}, {"at": "5s", "label": "b", "rules": []}]}""", "steps[1] (\"b\"): at 5s is not after the previous step's 10s (steps must be in increasing \"at\" order)")]
    [InlineData("""{"steps": [{"at": "5s", "label": "a", "rules": []}, {"at": "5s", "label": "b", "rules": []}]}""", "increasing \"at\" order")]
    [InlineData("""{"steps": [{"at": "0s", "label": "a", "rules": []}, {"at": "30s", "label": "late", "rules": []}]}""", "steps[1] (\"late\"): at 30s is at or after the end of the run (30s")]
    [InlineData("""{"random": {"min_hold": "5s", "max_hold": "1s", "choices": [{"label": "x", "rules": []}]}}""", "random.max_hold: 1s is less than min_hold 5s")]
    [InlineData("""{"random": {"min_hold": "5s", "max_hold": "10s", "choices": []}}""", "random.choices: expected a non-empty array")]
    [InlineData("""{"random": {"max_hold": "10s", "choices": [{"rules": []}]}}""", "random.min_hold: required")]
    [InlineData("""{"random": {"seed": "x", "min_hold": "1s", "max_hold": "2s", "choices": [{"rules": []}]}}""", "random.seed: expected an integer")]
    [InlineData("""{"random": {"min_hold": "1s", "max_hold": "2s", "every": 1, "choices": [{"rules": []}]}}""", "random: unknown field \"every\"")]
    [InlineData("""{"random": {"min_hold": "1s", "max_hold": "2s", "choices": [{"label": "x", "rules": [{"delay": 1}]}]}}""", "random.choices[0] (\"x\").rules[0]: unknown field \"delay\"")]
    public void Each_bad_timeline_is_rejected_naming_the_file_and_the_step(string text, string expected)
    {
        var path = Write(text);
        var e = Assert.Throws<OptionException>(() => Validate(new RunSettings { Duration = "30s", Faults = path, AdminToken = "t" }));
        Assert.StartsWith($"--faults: {path}: ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void The_file_and_the_token_are_required_and_the_token_falls_back_to_ADMIN_TOKEN()
    {
        var missing = Assert.Throws<OptionException>(() => Validate(new RunSettings { Faults = "/nonexistent/timeline.json", AdminToken = "t" }));
        Assert.Equal("--faults: file not found: /nonexistent/timeline.json", missing.Message);

        var path = Write("""{"steps": [{"at": "0s", "label": "baseline", "rules": []}]}""");
        var noToken = Assert.Throws<OptionException>(() => Validate(new RunSettings { Faults = path }));
        Assert.StartsWith("--admin-token: required with --faults", noToken.Message);
        Assert.Contains("ADMIN_TOKEN", noToken.Message);
        Assert.Throws<OptionException>(() => Validate(new RunSettings { Faults = path }, k => k == "ADMIN_TOKEN" ? " " : null));

        Assert.Equal("from-env", Validate(new RunSettings { Faults = path }, k => k == "ADMIN_TOKEN" ? "from-env" : null).AdminToken);
        Assert.Equal("given", Validate(new RunSettings { Faults = path, AdminToken = "given" }, k => k == "ADMIN_TOKEN" ? "from-env" : null).AdminToken);

        var alone = Assert.Throws<OptionException>(() => Validate(new RunSettings { AdminToken = "t" }));
        Assert.Equal("--admin-token: only with --faults", alone.Message);
        // Without --faults, an exported ADMIN_TOKEN is ignored.
        var off = Validate(new RunSettings(), k => k == "ADMIN_TOKEN" ? "x" : null);
        Assert.Null(off.Faults);
        Assert.Null(off.AdminToken);
    }

    [Fact]
    public void The_run_length_is_ramp_up_plus_duration_plus_ramp_down()
    {
        var path = Write("""{"steps": [{"at": "0s", "rules": []}, {"at": "12s", "label": "in the ramp-down", "rules": [{"delay_ms": 5}]}]}""");
        Assert.Throws<OptionException>(() => Validate(new RunSettings { Duration = "10s", Faults = path, AdminToken = "t" }));
        var o = Validate(new RunSettings { Duration = "10s", RampDown = "5s", Faults = path, AdminToken = "t" });
        Assert.Equal(["step 1", "in the ramp-down"], o.Faults!.Steps.Select(s => s.Label));
    }

    private const string RandomText = """
        {"random": {"min_hold": "2s", "max_hold": "6s", "calm_between": CALM, "choices": [
          {"label": "slow db", "rules": [{"db_delay_ms": 100}]},
          {"label": "failing orders", "rules": [{"route": "/api/orders*", "error_status": 503, "percent": 20}]},
          {"label": "stall", "rules": [{"route": "/api/products/{id}", "delay_ms": 2000}]}]}}
        """;

    [Fact]
    public void A_random_timeline_is_the_same_for_the_same_seed_and_duration()
    {
        var path = Write(RandomText.Replace("CALM", "true"));
        FaultTimeline Load(string duration, string seed) => Validate(new RunSettings { Duration = duration, Seed = seed, Faults = path, AdminToken = "t" }).Faults!;
        static string Text(FaultTimeline t) => string.Join("|", t.Steps.Select(s => $"{s.AtText} {s.Label} {s.Rules.ToJsonString()}"));

        var a = Load("120s", "42");
        Assert.Equal("random", a.Source);
        Assert.Equal(42, a.Seed); // the run's --seed when the file has none
        Assert.Equal(Text(a), Text(Load("120s", "42")));
        Assert.NotEqual(Text(a), Text(Load("120s", "43")));
        // Generated up to the run's end: every hold in [min, max], calm windows alternating with the choices, starting calm.
        Assert.Equal(TimeSpan.Zero, a.Steps[0].At);
        Assert.True(a.Steps[^1].At < TimeSpan.FromSeconds(120));
        Assert.True(a.Steps[^1].At >= TimeSpan.FromSeconds(114), a.Steps[^1].AtText);
        for (var i = 0; i < a.Steps.Count; i++)
        {
            Assert.Equal(i % 2 == 0, a.Steps[i].Label == FaultTimeline.CalmLabel);
            Assert.Equal(i % 2 == 0, a.Steps[i].Rules.Count == 0);
            if (i > 0) Assert.InRange((a.Steps[i].At - a.Steps[i - 1].At).TotalSeconds, 2, 6);
        }
        Assert.True(a.Steps.Select(s => s.Label).Distinct().Count() >= 3, Text(a)); // the seed picks among the choices
        // A longer run only extends the same sequence.
        var longer = Load("300s", "42");
        Assert.Equal(Text(a), string.Join("|", longer.Steps.Take(a.Steps.Count).Select(s => $"{s.AtText} {s.Label} {s.Rules.ToJsonString()}")));

        // Its own seed wins over the run's; without calm windows every window is a choice.
        var own = Write(RandomText.Replace("CALM", "false").Replace("\"min_hold\"", "\"seed\": 7, \"min_hold\""));
        var b = Validate(new RunSettings { Duration = "60s", Seed = "1", Faults = own, AdminToken = "t" }).Faults!;
        var c = Validate(new RunSettings { Duration = "60s", Seed = "2", Faults = own, AdminToken = "t" }).Faults!;
        Assert.Equal(7, b.Seed);
        Assert.Equal(Text(b), Text(c));
        Assert.All(b.Steps, s => Assert.NotEmpty(s.Rules));
    }

    [Fact]
    public void Problems_are_quoted_from_the_servers_errors()
    {
        var text = FaultController.ProblemText("""{"title": "One or more validation errors occurred.", "errors": {"[0].delay_ms": ["Expected milliseconds."], "[1].route": ["'/x' matches no endpoint."]}}""");
        Assert.Equal("[0].delay_ms: Expected milliseconds.; [1].route: '/x' matches no endpoint.", text);
        Assert.Equal("boom", FaultController.ProblemText("""{"title": "boom"}"""));
        Assert.Equal("plain text", FaultController.ProblemText("plain text"));
    }

    [Fact]
    public void The_result_json_of_windows_has_the_fields_the_report_reads()
    {
        var step = new FaultStep(TimeSpan.FromSeconds(2), "broken", new JsonArray(new JsonObject { ["error_status"] = 503 }));
        var window = new FaultWindow(0, step) { AppliedAt = DateTimeOffset.UnixEpoch };
        window.Record(1500, error: true, faulted: true);
        var json = FaultController.ToJson([new FaultController.WindowStats(window, 2, 4, 1, 1, 1, 0.5, 1.5, 1.5)]);
        var w = Assert.Single(json)!;
        Assert.Equal(2, w["start_s"]!.GetValue<double>());
        Assert.Equal(4, w["end_s"]!.GetValue<double>());
        Assert.Equal("broken", w["label"]!.GetValue<string>());
        Assert.Equal(503, w["rules"]![0]!["error_status"]!.GetValue<int>());
        Assert.Equal("1970-01-01T00:00:00.000Z", w["applied_at"]!.GetValue<string>());
        Assert.Null(w["error"]);
        Assert.Equal(["requests", "errors", "error_rate", "rps", "p50_ms", "p99_ms", "faulted"], w["stats"]!.AsObject().Select(p => p.Key));
    }
}
