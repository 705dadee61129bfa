using System.Diagnostics;
using System.Text.Json.Nodes;

namespace ExBuy.Load.Tests;

/// <summary>`run --faults` against the fake server's admin API: pre-flight, steps at their offsets, restore, windows.</summary>
[Collection("runs")]
public class FaultRunTests
{
    private const string Token = "s3cret";

    private static async Task<(RunOutcome Outcome, string Output)> RunAsync(FakeServer server, string timeline, RunSettings settings, CancellationToken? ct = null)
    {
        var dir = TestSupport.TempDir("exload-faultrun");
        settings.ScenariosFile = FakeServer.WriteScenarios(dir);
        settings.BaseUrl = server.BaseUrl;
        settings.Out = Path.Combine(dir, "results");
        settings.Warmup ??= "0s";
        settings.Seed ??= "7";
        settings.Scenario ??= "reads";
        settings.Vus ??= "2";
        settings.Faults = Path.Combine(dir, "timeline.json");
        File.WriteAllText(settings.Faults, timeline);
        var options = ExBuy.Load.Options.Validate(settings, dir, k => k == "ADMIN_TOKEN" ? Token : null);
        var output = new StringWriter();
        await using var runner = new LoadRunner(options, TestSupport.Console(output), plain: true, workingDirectory: dir);
        var outcome = await runner.RunAsync(ct ?? TestContext.Current.CancellationToken);
        return (outcome, output.ToString());
    }

    private static double Seconds(long from, long to) => (to - from) / (double)Stopwatch.Frequency;

    private const string ThreeSteps = """
        {"description": "detail breaks for a second",
         "steps": [
           {"at": "0s", "label": "baseline", "rules": []},
           {"at": "1s", "label": "broken detail", "rules": [{"route": "/api/products/{id}", "error_status": 503}]},
           {"at": "2s", "label": "recovered", "rules": []}]}
        """;

    [Fact]
    public async Task Steps_are_pre_flighted_applied_at_their_offsets_restored_and_measured_per_window()
    {
        // A rule already active on a route the scenario does not use: it must be there again after the run.
        var before = new JsonArray(new JsonObject { ["route"] = "/api/inventory*", ["delay_ms"] = 1 });
        await using var server = await FakeServer.StartAsync(adminToken: Token, rules: before, injectFaults: true);
        var (outcome, output) = await RunAsync(server, ThreeSteps, new RunSettings { Duration = "3s" });
        Assert.True(outcome.ExitCode == 0, output);

        var calls = server.AdminCalls;
        Assert.Equal("GET", calls[0].Method);
        // Pre-flight: every step with validate_only, before anything is applied.
        var checks = calls.Skip(1).Take(3).ToList();
        Assert.All(checks, c => { Assert.Equal("PUT", c.Method); Assert.True(c.ValidateOnly); Assert.Equal(200, c.Status); });
        Assert.Contains("\"error_status\":503", checks[1].Body);
        var applied = calls.Skip(4).Where(c => c.Method == "PUT" && !c.ValidateOnly).ToList();
        Assert.Equal(4, applied.Count); // three steps + the restore
        Assert.Equal("[]", applied[0].Body);
        Assert.Contains("/api/products/{id}", applied[1].Body);
        Assert.Equal("[]", applied[2].Body);
        Assert.Equal(before.ToJsonString(), JsonNode.Parse(applied[3].Body!)!.ToJsonString()); // put back as found
        Assert.Equal(before.ToJsonString(), server.ActiveRules.ToJsonString());
        Assert.DoesNotContain(calls, c => c.Method == "DELETE");
        // The offsets (from the 0 s step, applied right before the measured phase): bounds, not machine timing.
        Assert.InRange(Seconds(applied[0].Timestamp, applied[1].Timestamp), 0.9, 1.8);
        Assert.InRange(Seconds(applied[0].Timestamp, applied[2].Timestamp), 1.9, 2.8);
        Assert.InRange(Seconds(applied[2].Timestamp, applied[3].Timestamp), 0.7, 3);

        Assert.Contains("faults: 1s broken detail → error 503 on /api/products/{id}", output);
        Assert.Contains("faults: 2s recovered → no faults", output);
        Assert.Contains("faults: restored the 1 rule(s) active before the run", output);
        Assert.Contains("Fault windows", output);

        var result = JsonNode.Parse(File.ReadAllText(outcome.ResultFile!))!;
        var windows = result["faults"]!.AsArray();
        Assert.Equal(["baseline", "broken detail", "recovered"], windows.Select(w => w!["label"]!.GetValue<string>()));
        Assert.Equal([0.0, 1, 2], windows.Select(w => w!["start_s"]!.GetValue<double>()));
        Assert.Equal([1.0, 2], windows.Take(2).Select(w => w!["end_s"]!.GetValue<double>()));
        Assert.InRange(windows[2]!["end_s"]!.GetValue<double>(), 2.9, 3.5);
        Assert.All(windows, w => { Assert.Null(w!["error"]); Assert.NotNull(w["applied_at"]); Assert.True(w["stats"]!["requests"]!.GetValue<long>() > 20, output); });
        // Every request counted in a window saw that window's rules: all of the broken window's failed with X-Fault, none elsewhere.
        var broken = windows[1]!["stats"]!;
        Assert.Equal(broken["requests"]!.GetValue<long>(), broken["errors"]!.GetValue<long>());
        Assert.Equal(broken["requests"]!.GetValue<long>(), broken["faulted"]!.GetValue<long>());
        Assert.Equal(1, broken["error_rate"]!.GetValue<double>());
        foreach (var calm in new[] { windows[0]!["stats"]!, windows[2]!["stats"]! })
        {
            Assert.Equal(0, calm["errors"]!.GetValue<long>());
            Assert.Equal(0, calm["faulted"]!.GetValue<long>());
            Assert.True(calm["p50_ms"]!.GetValue<double>() > 0);
            Assert.True(calm["p99_ms"]!.GetValue<double>() >= calm["p50_ms"]!.GetValue<double>());
            Assert.True(calm["rps"]!.GetValue<double>() > 10);
        }
        // The windows hold every measured request but those in flight during a change.
        var straddled = result["fault_timeline"]!["straddled"]!.GetValue<long>();
        Assert.Equal(result["totals"]!["count"]!.GetValue<long>(), windows.Sum(w => w!["stats"]!["requests"]!.GetValue<long>()) + straddled);
        Assert.InRange(broken["errors"]!.GetValue<long>(), 1, outcome.Errors);
        Assert.Equal("steps", result["fault_timeline"]!["source"]!.GetValue<string>());
        Assert.EndsWith("timeline.json", result["fault_timeline"]!["file"]!.GetValue<string>());
        Assert.Equal(before.ToJsonString(), result["fault_timeline"]!["rules_before"]!.ToJsonString());

        // The run's HTML report carries the windows.
        var html = File.ReadAllText(Path.ChangeExtension(outcome.ResultFile!, ".html"));
        Assert.Contains("broken detail", html);
    }

    [Fact]
    public async Task A_cancelled_run_clears_the_rules_when_there_were_none_and_reports_the_windows_so_far()
    {
        await using var server = await FakeServer.StartAsync(adminToken: Token, injectFaults: true);
        const string timeline = """
            {"steps": [
              {"at": "0s", "label": "baseline", "rules": []},
              {"at": "1s", "label": "slow", "rules": [{"delay_ms": 5}]},
              {"at": "4s", "label": "never", "rules": [{"error_status": 500}]}]}
            """;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        cts.CancelAfter(TimeSpan.FromSeconds(2.2));
        var (outcome, output) = await RunAsync(server, timeline, new RunSettings { Duration = "6s" }, cts.Token);

        var calls = server.AdminCalls;
        var applied = calls.Where(c => c.Method == "PUT" && !c.ValidateOnly).ToList();
        Assert.Equal(2, applied.Count);
        Assert.Equal("DELETE", calls[^1].Method);
        Assert.Equal(204, calls[^1].Status);
        Assert.Empty(server.ActiveRules);
        Assert.Contains("faults: restored: rules cleared, as before the run", output);
        var result = JsonNode.Parse(File.ReadAllText(outcome.ResultFile!))!;
        var windows = result["faults"]!.AsArray();
        Assert.Equal(["baseline", "slow"], windows.Select(w => w!["label"]!.GetValue<string>()));
        Assert.True(windows[1]!["stats"]!["faulted"]!.GetValue<long>() > 0, output); // X-Fault: delay=5ms
        Assert.Equal(0, windows[1]!["stats"]!["errors"]!.GetValue<long>());
    }

    [Fact]
    public async Task A_step_that_fails_mid_run_is_a_warning_recorded_in_its_window_and_the_run_goes_on()
    {
        await using var server = await FakeServer.StartAsync(adminToken: Token, injectFaults: true, failPut: 2);
        var (outcome, output) = await RunAsync(server, ThreeSteps, new RunSettings { Duration = "3s" });
        Assert.True(outcome.ExitCode == 0, output);
        Assert.Contains("faults: WARNING 1s broken detail: not applied (PUT /api/admin/faults answered 500: injected admin failure); the run continues", output);
        var windows = JsonNode.Parse(File.ReadAllText(outcome.ResultFile!))!["faults"]!.AsArray();
        Assert.Equal(3, windows.Count);
        Assert.StartsWith("PUT /api/admin/faults answered 500", windows[1]!["error"]!.GetValue<string>());
        Assert.Equal(0, windows[1]!["stats"]!["errors"]!.GetValue<long>()); // nothing was applied
        Assert.Null(windows[2]!["error"]);
        Assert.Equal("DELETE", server.AdminCalls[^1].Method);
    }

    [Fact]
    public async Task A_target_without_the_admin_API_fails_the_set_up()
    {
        await using var server = await FakeServer.StartAsync();
        var (outcome, output) = await RunAsync(server, ThreeSteps, new RunSettings { Duration = "3s" });
        Assert.Equal(1, outcome.ExitCode);
        Assert.Equal("set-up failed", outcome.Verdict);
        Assert.Contains("set-up failed: GET /api/admin/faults answered 404: the target has no admin API: start it with ADMIN_TOKEN=… (see README, Faults)", output);
        Assert.Null(outcome.ResultFile);
    }

    [Fact]
    public async Task A_wrong_token_fails_the_set_up_and_applies_nothing()
    {
        await using var server = await FakeServer.StartAsync(adminToken: "another");
        var (outcome, output) = await RunAsync(server, ThreeSteps, new RunSettings { Duration = "3s" });
        Assert.Equal(1, outcome.ExitCode);
        Assert.Contains("set-up failed: GET /api/admin/faults answered 401: the target refused the admin token", output);
        Assert.DoesNotContain(Token, output);
        Assert.Single(server.AdminCalls);
    }

    [Fact]
    public async Task A_step_the_target_refuses_at_the_pre_flight_fails_the_set_up_quoting_its_errors()
    {
        await using var server = await FakeServer.StartAsync(adminToken: Token, injectFaults: true);
        const string timeline = """
            {"steps": [
              {"at": "0s", "label": "baseline", "rules": []},
              {"at": "1s", "label": "typo", "rules": [{"route": "/api/prodcts*", "delay_ms": 10}]}]}
            """;
        var (outcome, output) = await RunAsync(server, timeline, new RunSettings { Duration = "3s" });
        Assert.Equal(1, outcome.ExitCode);
        Assert.Contains("set-up failed: faults: step 2 at 1s (\"typo\") refused by the target (PUT /api/admin/faults?validate_only=true answered 400): [0].route: '/api/prodcts*' matches no endpoint.", output);
        Assert.DoesNotContain(server.AdminCalls, c => c.Method is "PUT" && !c.ValidateOnly || c.Method == "DELETE");
        Assert.Null(outcome.ResultFile);
    }
}
