using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using HdrHistogram;

namespace ExBuy.Load.Tests;

public class LoadMetricsOptionTests
{
    [Theory]
    [InlineData("127.0.0.1:9464", "127.0.0.1:9464")]
    [InlineData("9464", "127.0.0.1:9464")]
    [InlineData(":9464", "127.0.0.1:9464")]
    [InlineData("localhost:9464", "127.0.0.1:9464")]
    [InlineData("0.0.0.0:9464", "0.0.0.0:9464")]
    [InlineData("[::1]:9464", "[::1]:9464")]
    public void A_host_port_or_a_bare_port_is_accepted(string text, string expected) => Assert.Equal(expected, LoadMetrics.ParseListen(text));

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("127.0.0.1:")]
    [InlineData("127.0.0.1:0")]
    [InlineData("127.0.0.1:70000")]
    [InlineData("127.0.0.1:x")]
    [InlineData("example.com:9464")]
    [InlineData("::1:9464")]
    [InlineData("[::1]9464")]
    public void Anything_else_is_refused_naming_the_option(string text)
    {
        var e = Assert.Throws<OptionException>(() => LoadMetrics.ParseListen(text));
        Assert.StartsWith("--metrics-listen:", e.Message);
    }

    [Fact]
    public void It_is_off_by_default_and_validated_with_the_other_options()
    {
        var dir = TestSupport.TempDir("exload-mopt");
        var file = FakeServer.WriteScenarios(dir);
        Assert.Null(ExBuy.Load.Options.Validate(new RunSettings { Scenario = "reads", ScenariosFile = file }, dir, _ => null).MetricsListen);
        Assert.Equal("127.0.0.1:9464",
            ExBuy.Load.Options.Validate(new RunSettings { Scenario = "reads", ScenariosFile = file, MetricsListen = "9464" }, dir, _ => null).MetricsListen);
        Assert.Throws<OptionException>(() =>
            ExBuy.Load.Options.Validate(new RunSettings { Scenario = "reads", ScenariosFile = file, MetricsListen = "nope" }, dir, _ => null));
    }

    [Fact]
    public void Latency_buckets_follow_the_prometheus_le_rule()
    {
        var h = new PromLatency();
        h.Record(100);        // le 0.0001
        h.Record(101);        // le 0.00025
        h.Record(10_000_000); // le 10
        h.Record(10_000_001); // +Inf
        Assert.Equal(1, h.Buckets[0]);
        Assert.Equal(1, h.Buckets[1]);
        Assert.Equal(1, h.Buckets[PromLatency.BoundsMicros.Length - 1]);
        Assert.Equal(1, h.Buckets[^1]);
        Assert.Equal(20_000_202, h.SumMicros);
    }
}

[Collection("runs")]
public class LoadMetricsRunTests
{
    private static readonly Regex Sample = new(@"^(?<name>[a-z_]+)(\{(?<labels>[^}]*)\})? (?<value>\S+)$", RegexOptions.Compiled);

    private static List<(string Name, Dictionary<string, string> Labels, double Value)> Parse(string text)
    {
        var samples = new List<(string, Dictionary<string, string>, double)>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith('#')) continue;
            var m = Sample.Match(line);
            Assert.True(m.Success, $"not a sample line: {line}");
            var labels = Regex.Matches(m.Groups["labels"].Value, "([a-z_]+)=\"((?:[^\"\\\\]|\\\\.)*)\"")
                .ToDictionary(l => l.Groups[1].Value, l => l.Groups[2].Value);
            samples.Add((m.Groups["name"].Value, labels, double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture)));
        }
        return samples;
    }

    [Fact]
    public async Task A_run_serves_its_own_metrics_and_the_last_scrape_matches_its_counts()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await FakeServer.StartAsync();
        var dir = TestSupport.TempDir("exload-metrics");
        var port = TestSupport.FreePort();
        var options = ExBuy.Load.Options.Validate(new RunSettings
        {
            Scenario = "writes", BaseUrl = server.BaseUrl, Vus = "4", Duration = "3s", Warmup = "0s", Seed = "5",
            ScenariosFile = FakeServer.WriteScenarios(dir), Out = Path.Combine(dir, "results"), MetricsListen = $"127.0.0.1:{port}",
        }, dir, _ => null);
        var output = new StringWriter();
        await using var runner = new LoadRunner(options, TestSupport.Console(output), plain: true, workingDirectory: dir);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var url = $"http://127.0.0.1:{port}/metrics";

        var run = runner.RunAsync(ct);
        // During the run: the endpoint answers, with VUs at work and requests counted.
        string? during = null;
        var clock = Stopwatch.StartNew();
        while (!run.IsCompleted && clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            try
            {
                using var r = await http.GetAsync(url, ct);
                var text = await r.Content.ReadAsStringAsync(ct);
                Assert.Equal("text/plain; version=0.0.4; charset=utf-8", r.Content.Headers.ContentType?.ToString());
                var s = Parse(text);
                if (s.Any(x => x.Name == "exbuy_load_vus" && x.Value > 0) && s.Any(x => x.Name == "exbuy_load_requests_total" && x.Value > 0))
                {
                    during = text;
                    break;
                }
            }
            catch (HttpRequestException) { }
            await Task.Delay(100, ct);
        }
        var outcome = await run;
        var log = output.ToString();
        Assert.True(during is not null, "no scrape during the run saw VUs at work and requests counted\n" + log);
        Assert.Contains($"metrics: serving exbuy_load_* on http://127.0.0.1:{port}/metrics", log);

        // After the run, still served until the runner is disposed: the counters are the runner's own.
        var final = await http.GetStringAsync(url, ct);
        var samples = Parse(final);
        var info = Assert.Single(samples, x => x.Name == "exbuy_load_run_info");
        Assert.Equal(1, info.Value);
        Assert.Equal(outcome.Result["run_id"]!.GetValue<string>(), info.Labels["run_id"]);
        Assert.Equal("writes", info.Labels["scenario"]);
        Assert.Equal("closed", info.Labels["model"]);
        Assert.Equal(0, Assert.Single(samples, x => x.Name == "exbuy_load_vus").Value);
        Assert.Equal(0, Assert.Single(samples, x => x.Name == "exbuy_load_dropped_starts_total").Value);

        Assert.True(outcome.Requests > 0, log);
        var requests = samples.Where(x => x.Name == "exbuy_load_requests_total").ToList();
        Assert.Equal(outcome.Requests, (long)requests.Sum(x => x.Value));
        Assert.Equal(outcome.Errors, (long)samples.Where(x => x.Name == "exbuy_load_errors_total").Sum(x => x.Value));
        Assert.Equal(outcome.Operations.Keys.Order(), samples.Where(x => x.Name == "exbuy_load_errors_total").Select(x => x.Labels["op"]).Order());
        foreach (var (key, op) in outcome.Operations)
        {
            for (var status = 0; status < op.Statuses.Length; status++)
            {
                var seen = requests.Where(x => x.Labels["op"] == key && x.Labels["status"] == status.ToString(CultureInfo.InvariantCulture)).Sum(x => x.Value);
                Assert.Equal(op.Statuses[status], (long)seen);
            }
            Assert.Equal(op.Errors, (long)samples.Single(x => x.Name == "exbuy_load_errors_total" && x.Labels["op"] == key).Value);
            Assert.Equal(op.Count, (long)samples.Single(x => x.Name == "exbuy_load_request_duration_seconds_count" && x.Labels["op"] == key).Value);
            var buckets = samples.Where(x => x.Name == "exbuy_load_request_duration_seconds_bucket" && x.Labels["op"] == key).ToList();
            Assert.Equal(21, buckets.Count);
            Assert.Equal(
                ["0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.0075", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75", "1", "2.5", "5", "7.5", "10", "+Inf"],
                buckets.Select(b => b.Labels["le"]));
            Assert.Equal(op.Count, (long)buckets[^1].Value);
            Assert.True(buckets.Zip(buckets.Skip(1)).All(p => p.First.Value <= p.Second.Value), "buckets are cumulative");
            var sum = samples.Single(x => x.Name == "exbuy_load_request_duration_seconds_sum" && x.Labels["op"] == key).Value;
            Assert.InRange(sum, op.LatencyTotal.GetMean() * op.Count / 1e6 * 0.9, op.LatencyTotal.GetMean() * op.Count / 1e6 * 1.1 + 0.001);
        }
        Assert.Contains("create_order", outcome.Operations.Keys);

        var promtool = RequiredTool.Require("promtool", "apt-get install -y prometheus");
        var (exit, promStdout, promStderr) = await RequiredTool.RunAsync(promtool, ["check", "metrics"], TimeSpan.FromSeconds(60), ct, final);
        var promOutput = promStdout + promStderr;
        Assert.True(exit == 0, $"promtool check metrics (exit {exit}): {promOutput}\n{final}");

        await runner.DisposeAsync();
        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetStringAsync(url, ct));
    }

    [Fact]
    public async Task A_port_in_use_fails_the_set_up()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await FakeServer.StartAsync();
        var port = new Uri(server.BaseUrl).Port; // taken by the fake server
        var dir = TestSupport.TempDir("exload-mbusy");
        var options = ExBuy.Load.Options.Validate(new RunSettings
        {
            Scenario = "reads", BaseUrl = server.BaseUrl, Vus = "1", Duration = "1s", Warmup = "0s",
            ScenariosFile = FakeServer.WriteScenarios(dir), Out = Path.Combine(dir, "results"), MetricsListen = $"127.0.0.1:{port}",
        }, dir, _ => null);
        var output = new StringWriter();
        await using var runner = new LoadRunner(options, TestSupport.Console(output), plain: true, workingDirectory: dir);
        var outcome = await runner.RunAsync(ct);
        Assert.Equal(1, outcome.ExitCode);
        Assert.Contains("--metrics-listen", output.ToString());
    }
}
