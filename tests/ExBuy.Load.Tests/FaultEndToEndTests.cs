using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;

namespace ExBuy.Load.Tests;

/// <summary>The real ExBuy with its admin fault API on (ADMIN_TOKEN).</summary>
public sealed class ExBuyAdminProcess : ExBuyProcess
{
    public const string Token = "exbuy-load-e2e-token";

    protected override void Configure(IDictionary<string, string?> environment) => environment["ADMIN_TOKEN"] = Token;
}

[Collection("runs")]
public class FaultEndToEndTests(ExBuyAdminProcess exbuy) : IClassFixture<ExBuyAdminProcess>
{
    [Fact]
    public async Task A_timeline_against_the_real_ExBuy_fails_the_orders_in_its_window_only_and_leaves_no_rule_behind()
    {
        var ct = TestContext.Current.CancellationToken;
        var work = TestSupport.TempDir("exload-e2e-faults");
        var timeline = Path.Combine(work, "timeline.json");
        await File.WriteAllTextAsync(timeline, """
            {"description": "orders fail for 2 s",
             "steps": [
               {"at": "0s", "label": "baseline",       "rules": []},
               {"at": "2s", "label": "failing orders", "rules": [{"route": "/api/orders*", "error_status": 503, "percent": 100}]},
               {"at": "4s", "label": "recovered",      "rules": []}]}
            """, ct);
        var options = Options.Validate(new RunSettings
        {
            Scenario = "mixed", BaseUrl = exbuy.BaseUrl, Vus = "4", Duration = "6s", Warmup = "1s", Seed = "11", Faults = timeline,
            ScenariosFile = Path.Combine(TestSupport.RepoRoot(), "load", "scenarios.json"),
        }, work, k => k == "ADMIN_TOKEN" ? ExBuyAdminProcess.Token : null);
        var output = new StringWriter();
        RunOutcome outcome;
        await using (var runner = new LoadRunner(options, TestSupport.Console(output), plain: true, workingDirectory: work))
            outcome = await runner.RunAsync(ct);
        var log = output.ToString();
        Assert.NotNull(outcome.ResultFile);
        Assert.True(outcome.Correctness.Ok, log);
        // The injected 503s carry X-Fault: error=503 — answered without running the handler, so known to have written
        // nothing: they leave no product unverifiable (other 5xx would).
        Assert.True(outcome.Correctness.Verified > 0, log);
        Assert.Equal(0, outcome.Correctness.Unverifiable);
        Assert.Contains("faults: 2s failing orders → error 503 on /api/orders*", log);
        Assert.Contains("faults: restored: rules cleared, as before the run", log);

        var result = JsonNode.Parse(await File.ReadAllTextAsync(outcome.ResultFile!, ct))!;
        var windows = result["faults"]!.AsArray();
        Assert.Equal(["baseline", "failing orders", "recovered"], windows.Select(w => w!["label"]!.GetValue<string>()));
        Assert.Equal([0.0, 2, 4], windows.Select(w => w!["start_s"]!.GetValue<double>()));
        Assert.All(windows, w => { Assert.Null(w!["error"]); Assert.True(w["stats"]!["requests"]!.GetValue<long>() > 50, log); });
        var failing = windows[1]!["stats"]!;
        Assert.True(failing["errors"]!.GetValue<long>() > 0, log);
        Assert.True(failing["faulted"]!.GetValue<long>() > 0, log);
        Assert.True(failing["faulted"]!.GetValue<long>() >= failing["errors"]!.GetValue<long>(), log);
        foreach (var calm in new[] { windows[0]!["stats"]!, windows[2]!["stats"]! })
        {
            Assert.Equal(0, calm["errors"]!.GetValue<long>());
            Assert.Equal(0, calm["faulted"]!.GetValue<long>());
        }
        Assert.Equal("steps", result["fault_timeline"]!["source"]!.GetValue<string>());

        // The target is left as found: no rule active.
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{exbuy.BaseUrl}/api/admin/faults");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ExBuyAdminProcess.Token);
        using var response = await exbuy.Client.SendAsync(request, ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Empty(JsonNode.Parse(await response.Content.ReadAsStringAsync(ct))!.AsArray());
    }
}
