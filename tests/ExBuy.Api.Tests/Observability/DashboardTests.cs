using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using ExBuy.Api.Tests.Infrastructure;

namespace ExBuy.Api.Tests.Observability;

/// <summary>
/// The monitoring under <c>deploy/</c> against the real thing: a running ExBuy on the test cluster,
/// prometheus-postgres-exporter on that cluster and the Debian Prometheus scraping both with a configuration derived
/// from <c>deploy/prometheus/prometheus.yml</c>. Every PromQL expression of every panel of
/// <c>deploy/grafana/dashboards/exbuy.json</c> (Grafana variables substituted) must return data through Prometheus'
/// HTTP API, and every metric a panel names must be on ExBuy's, the exporter's or the load runner's <c>/metrics</c>
/// (the load runner, <c>exbuy-load run --metrics-listen</c>, drives ExBuy gently for the whole test, where the
/// <c>exbuy-load</c> job scrapes). PostgreSQL only: the exporter needs it.
/// </summary>
public sealed class DashboardTests : ProcessTests
{
    private const string ExBuyJob = "exbuy";
    private const string PostgresJob = "postgres";
    private const string LoadJob = "exbuy-load";

    private readonly PostgresCluster _cluster;
    private readonly string _database;
    private readonly Sidecars _sidecars = new();
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(15) };

    public DashboardTests(PostgresCluster cluster) : base("postgres", cluster)
    {
        _cluster = cluster;
        // Chosen here (the server's environment below wins over the engine's), so $datname has a known value.
        _database = cluster.NewDatabase("dashboard");
    }

    protected override IDictionary<string, string> Environment => new Dictionary<string, string>
    {
        ["DB_NAME"] = _database,
        // A small pool: the reservation storms below queue for connections, so the pool panel's pending series
        // (which Npgsql publishes only once a request has waited) exists.
        ["DB_POOL_MAX"] = "8",
    };

    /// <summary>The exporter and Prometheus go first, then the base stops ExBuy.</summary>
    public override async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _sidecars.DisposeAsync();
        await base.DisposeAsync();
    }

    [Fact]
    public async Task EveryDashboardQueryReturnsDataFromARealPrometheus()
    {
        var prometheus = Tools.Require("prometheus", "apt-get install -y prometheus");
        var exporter = Tools.Require("prometheus-postgres-exporter", "apt-get install -y prometheus-postgres-exporter");

        var exporterPort = ExBuyServer.FreePort();
        var exporterUrl = $"http://127.0.0.1:{exporterPort}";
        var exporterProcess = _sidecars.Start("postgres_exporter", exporter, [$"--web.listen-address=127.0.0.1:{exporterPort}"],
            new Dictionary<string, string>
            {
                ["DATA_SOURCE_NAME"] = $"postgresql://postgres@127.0.0.1:{_cluster.Port}/postgres?sslmode=disable",
            });
        await WaitUntilAsync("postgres_exporter answering with pg_up 1", TimeSpan.FromSeconds(30), exporterProcess,
            async () => (await TryGetStringAsync(exporterUrl + "/metrics"))?.Contains("\npg_up 1\n", StringComparison.Ordinal) == true);

        var loadPort = ExBuyServer.FreePort();
        var loadUrl = $"http://127.0.0.1:{loadPort}";
        var promDir = _sidecars.TempDir("exbuy-prometheus-");
        var promPort = ExBuyServer.FreePort();
        var promUrl = $"http://127.0.0.1:{promPort}";
        var config = Path.Combine(promDir, "prometheus.yml");
        await File.WriteAllTextAsync(config, DeriveScrapeConfig(await File.ReadAllTextAsync(Repo.File("deploy/prometheus/prometheus.yml"), Ct),
            new Dictionary<string, string>
            {
                [ExBuyJob] = $"127.0.0.1:{Server.Port}",
                [PostgresJob] = $"127.0.0.1:{exporterPort}",
                // Nothing listens there yet (the load runner comes later): a target that is down must be harmless.
                [LoadJob] = $"127.0.0.1:{loadPort}",
            }), Ct);
        var promProcess = _sidecars.Start("prometheus", prometheus,
            [$"--config.file={config}", $"--storage.tsdb.path={Path.Combine(promDir, "data")}", $"--web.listen-address=127.0.0.1:{promPort}"],
            null);
        await WaitUntilAsync("Prometheus ready", TimeSpan.FromSeconds(30), promProcess,
            async () => await TryGetStringAsync(promUrl + "/-/ready") is not null);
        await WaitUntilAsync("targets exbuy and postgres up", TimeSpan.FromSeconds(60), promProcess,
            async () => (await TargetsAsync(promUrl)).Where(t => t.Job is ExBuyJob or PostgresJob).Count(t => t.Health == "up") == 2);

        // The load runner: an open-model read-only run at 20 req/s, longer than the test (killed with the sidecars), serving
        // its own metrics where the exbuy-load job scrapes, so the "Load generator" row has data when it is queried.
        var loadProcess = _sidecars.Start("exbuy-load", "dotnet",
            [LoadRunnerDll(), "run", "--scenario", "read-only", "--base-url", Server.BaseUrl, "--rate", "20", "--max-vus", "10", "--duration", "10m",
             "--warmup", "0s", "--seed", "1", "--scenarios", Repo.File("load/scenarios.json"), "--out", _sidecars.TempDir("exbuy-load-"),
             "--metrics-listen", $"127.0.0.1:{loadPort}"],
            null);
        await WaitUntilAsync("exbuy-load serving its metrics with requests counted", TimeSpan.FromSeconds(60), loadProcess,
            async () => (await TryGetStringAsync(loadUrl + "/metrics"))?.Contains("\nexbuy_load_requests_total{", StringComparison.Ordinal) == true);

        await DriveTrafficAsync();
        var trafficEnd = DateTimeOffset.UtcNow;
        // Scrapes that began after the last request (they see all of it), and at least 3 of each job in all.
        await WaitUntilAsync("a scrape of exbuy, postgres and exbuy-load after the traffic, and 3 scrapes of each", TimeSpan.FromSeconds(30), promProcess,
            async () =>
            {
                var targets = (await TargetsAsync(promUrl)).Where(t => t.Job is ExBuyJob or PostgresJob or LoadJob).ToArray();
                if (targets.Length != 3 || targets.Any(t => t.Health != "up" || t.LastScrape <= trafficEnd))
                {
                    return false;
                }
                foreach (var job in new[] { ExBuyJob, PostgresJob, LoadJob })
                {
                    var (_, values) = await QueryAsync(promUrl, $"count_over_time(up{{job=\"{job}\"}}[5m])");
                    if (values.Count == 0 || values[0].Value < 3)
                    {
                        return false;
                    }
                }
                return true;
            });

        using var dashboard = JsonDocument.Parse(await File.ReadAllTextAsync(Repo.File(Dashboard.Path), Ct));
        // What Grafana would put in: the test's job and database; every instance and route; a 1 m rate window (60 scrapes).
        var values = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["job"] = ExBuyJob,
            ["instance"] = ".+",
            ["route"] = ".+",
            ["pg_instance"] = ".+",
            ["datname"] = _database,
            ["__rate_interval"] = "1m",
            ["__interval"] = "5s",
            ["__range"] = "1m",
        };
        var failures = new List<string>();

        // The template variables' own queries (Grafana's label_values) must offer the values substituted here.
        var expectedOptions = new Dictionary<string, string>
        {
            ["job"] = ExBuyJob,
            ["instance"] = $"127.0.0.1:{Server.Port}",
            ["route"] = "/api/products/",
            ["pg_instance"] = $"127.0.0.1:{exporterPort}",
            ["datname"] = _database,
        };
        foreach (var variable in Dashboard.Variables(dashboard.RootElement))
        {
            if (!values.ContainsKey(variable.Name))
            {
                failures.Add($"variable ${variable.Name}: the test has no value for it (add one above)");
                continue;
            }
            var match = Regex.Match(variable.Query, @"^label_values\((?:(?<selector>.+),\s*)?(?<label>\w+)\)$");
            if (!match.Success)
            {
                failures.Add($"variable ${variable.Name}: not a label_values(...) query: {variable.Query}");
                continue;
            }
            var url = $"{promUrl}/api/v1/label/{match.Groups["label"].Value}/values";
            if (match.Groups["selector"].Success)
            {
                url += "?match[]=" + Uri.EscapeDataString(Dashboard.Substitute(match.Groups["selector"].Value, values));
            }
            using var answer = JsonDocument.Parse(await _http.GetStringAsync(url, Ct));
            var options = answer.RootElement.GetProperty("data").EnumerateArray().Select(e => e.GetString()!).ToArray();
            if (expectedOptions.TryGetValue(variable.Name, out var expected) && !options.Contains(expected))
            {
                failures.Add($"variable ${variable.Name} ({variable.Query}) offers [{string.Join(", ", options)}], not {expected}");
            }
            else if (options.Length == 0)
            {
                failures.Add($"variable ${variable.Name} ({variable.Query}) offers nothing");
            }
        }

        var referenced = new SortedSet<string>(StringComparer.Ordinal);
        var targets = Dashboard.Targets(dashboard.RootElement).ToArray();
        Assert.NotEmpty(targets);
        foreach (var (title, expr) in targets)
        {
            string query;
            try
            {
                query = Dashboard.Substitute(expr, values);
            }
            catch (KeyNotFoundException e)
            {
                failures.Add($"{title}: {e.Message}\n    {expr}");
                continue;
            }
            var names = Dashboard.MetricNames(query);
            if (names.Count == 0)
            {
                failures.Add($"{title}: names no metric as name{{...}} or name[...]\n    {query}");
            }
            referenced.UnionWith(names);
            var (error, samples) = await QueryAsync(promUrl, query);
            if (error is not null)
            {
                failures.Add($"{title}: Prometheus refused the query: {error}\n    {query}");
            }
            else if (samples.Count == 0)
            {
                failures.Add($"{title}: no data\n    {query}");
            }
            else if (!samples.Any(s => double.IsFinite(s.Value)))
            {
                failures.Add($"{title}: only NaN/Inf ({samples.Count} series)\n    {query}");
            }
        }

        // Every metric a panel names is exported by ExBuy or postgres_exporter, by its exact sample name
        // (http_server_request_duration_seconds_bucket, db_client_connection_count, pg_up, ...).
        var exported = SampleNames(await ScrapeAsync());
        exported.UnionWith(SampleNames(await _http.GetStringAsync(exporterUrl + "/metrics", Ct)));
        exported.UnionWith(SampleNames(await _http.GetStringAsync(loadUrl + "/metrics", Ct)));
        foreach (var name in referenced.Where(n => !exported.Contains(n)))
        {
            failures.Add($"metric {name}: named by the dashboard, exported by neither ExBuy, postgres_exporter nor exbuy-load");
        }

        Assert.True(failures.Count == 0,
            $"{failures.Count} dashboard problem(s) ({targets.Length} queries checked):\n" + string.Join("\n", failures));
    }

    /// <summary>
    /// Traffic for every panel, spread over several scrapes so rates are not zero: both list paths, details, reviews,
    /// 404s and 409s, orders, an upload, and reservation storms (versioned and pessimistic on one product) that
    /// contend, retry and queue for pool connections.
    /// </summary>
    private async Task DriveTrafficAsync()
    {
        await MixedTrafficAsync();
        for (var round = 0; round < 6; round++)
        {
            foreach (var optimize in new[] { "false", "true" })
            {
                for (var page = 1; page <= 2; page++)
                {
                    await GetAsync($"/api/products?page={page}&optimize={optimize}", HttpStatusCode.OK);
                }
                await GetAsync($"/api/products/{round + 1}?optimize={optimize}", HttpStatusCode.OK);
                await GetAsync($"/api/reviews?product_id={round + 1}&optimize={optimize}", HttpStatusCode.OK);
            }
            await GetAsync("/api/products/999999", HttpStatusCode.NotFound);
            using (var faulted = new HttpRequestMessage(HttpMethod.Get, "/api/health"))
            {
                // An injected fault for the Faults row (header faults need no admin token).
                faulted.Headers.Add("X-Fault-Error", "503");
                faulted.Headers.Add("X-Fault-Delay", "1ms");
                using var response = await Client.SendAsync(faulted, Ct);
                Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            }
            Assert.Equal(HttpStatusCode.Conflict,
                await PostAsync("/api/inventory/reserve?lock_type=optimistic", """{"product_id": 3, "quantity": 1000}"""));
            Assert.Equal(HttpStatusCode.Created,
                await PostAsync("/api/orders", $$"""{"user_id": {{round + 1}}, "items": [{"product_id": {{round + 2}}, "quantity": 1}]}"""));
            var productId = 20 + round;
            var storm = await Concurrent.RunAsync(24, async i =>
            {
                var lockType = i % 2 == 0 ? "versioned" : "pessimistic";
                using var response = await Client.PostJsonAsync($"/api/inventory/reserve?lock_type={lockType}",
                    $$"""{"product_id": {{productId}}, "quantity": 1}""");
                return response.StatusCode;
            });
            Concurrent.AssertOnly(storm, HttpStatusCode.OK, HttpStatusCode.Conflict);
            await Task.Delay(700, Ct);
        }
    }

    /// <summary>The load runner the test project builds (ReferenceOutputAssembly=false), in the test's own configuration.</summary>
    private static string LoadRunnerDll()
    {
        var configuration = typeof(DashboardTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var dll = Repo.File(Path.Combine("src", "ExBuy.Load", "bin", configuration, "net10.0", "exbuy-load.dll"));
        return File.Exists(dll) ? dll : throw new FileNotFoundException("build src/ExBuy.Load first (the test project references it for that)", dll);
    }

    /// <summary>
    /// deploy/prometheus/prometheus.yml with each job's targets replaced by the loopback address given for it and
    /// every interval at 1 s. Fails when the file's jobs are not exactly the ones given, so the two stay in step.
    /// </summary>
    public static string DeriveScrapeConfig(string deployed, IReadOnlyDictionary<string, string> targets)
    {
        var output = new StringBuilder();
        var replaced = new HashSet<string>(StringComparer.Ordinal);
        string? job = null;
        foreach (var line in deployed.Split('\n'))
        {
            var jobMatch = Regex.Match(line, @"^\s*-\s*job_name:\s*[""']?(?<job>[\w.-]+)[""']?\s*(#.*)?$");
            if (jobMatch.Success)
            {
                job = jobMatch.Groups["job"].Value;
                Assert.True(targets.ContainsKey(job), $"prometheus.yml has a job '{job}' the test does not know");
            }
            var targetsMatch = Regex.Match(line, @"^(?<prefix>\s*-?\s*targets:\s*)\[.*\]\s*(#.*)?$");
            var intervalMatch = Regex.Match(line, @"^(?<prefix>\s*scrape_(interval|timeout):\s*)\S+\s*(#.*)?$");
            if (targetsMatch.Success)
            {
                Assert.True(job is not null && replaced.Add(job), $"prometheus.yml: targets outside a job, or twice in '{job}'");
                output.Append(targetsMatch.Groups["prefix"].Value).Append("[\"").Append(targets[job!]).Append("\"]\n");
            }
            else if (intervalMatch.Success)
            {
                output.Append(intervalMatch.Groups["prefix"].Value).Append("1s\n");
            }
            else
            {
                output.Append(line).Append('\n');
            }
        }
        Assert.True(replaced.SetEquals(targets.Keys),
            $"prometheus.yml jobs with a one-line targets list: [{string.Join(", ", replaced)}]; expected [{string.Join(", ", targets.Keys)}]");
        return output.ToString();
    }

    private sealed record Target(string Job, string Health, DateTimeOffset LastScrape, string LastError);

    private async Task<Target[]> TargetsAsync(string promUrl)
    {
        var text = await TryGetStringAsync(promUrl + "/api/v1/targets");
        if (text is null)
        {
            return [];
        }
        using var doc = JsonDocument.Parse(text);
        return [.. doc.RootElement.GetProperty("data").GetProperty("activeTargets").EnumerateArray().Select(t => new Target(
            t.GetProperty("labels").GetProperty("job").GetString()!,
            t.GetProperty("health").GetString()!,
            DateTimeOffset.Parse(t.GetProperty("lastScrape").GetString()!, CultureInfo.InvariantCulture),
            t.GetProperty("lastError").GetString() ?? ""))];
    }

    /// <summary>An instant query: the error Prometheus gave, or the samples (labels, value; NaN stays NaN).</summary>
    private async Task<(string? Error, List<(string Labels, double Value)> Samples)> QueryAsync(string promUrl, string query)
    {
        using var response = await _http.GetAsync($"{promUrl}/api/v1/query?query={Uri.EscapeDataString(query)}", Ct);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        var root = doc.RootElement;
        if (root.GetProperty("status").GetString() != "success")
        {
            return (root.TryGetProperty("error", out var error) ? error.GetString() : $"HTTP {(int)response.StatusCode}", []);
        }
        var data = root.GetProperty("data");
        var samples = new List<(string, double)>();
        switch (data.GetProperty("resultType").GetString())
        {
            case "vector":
                foreach (var series in data.GetProperty("result").EnumerateArray())
                {
                    samples.Add((series.GetProperty("metric").ToString(), Number(series.GetProperty("value")[1].GetString()!)));
                }
                break;
            case "scalar":
                samples.Add(("scalar", Number(data.GetProperty("result")[1].GetString()!)));
                break;
            default:
                return ($"result type {data.GetProperty("resultType").GetString()}, not an instant vector", []);
        }
        return (null, samples);
    }

    private static double Number(string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value : double.NaN;

    /// <summary>The sample names of an exposition (histograms as their _bucket/_sum/_count series).</summary>
    private static HashSet<string> SampleNames(string exposition) =>
        [.. exposition.Split('\n')
            .Where(line => line.Length > 0 && line[0] != '#')
            .Select(line => line[..line.IndexOfAny(['{', ' '])])];

    private async Task<string?> TryGetStringAsync(string url)
    {
        try
        {
            using var response = await _http.GetAsync(url, Ct);
            return response.IsSuccessStatusCode ? await response.Content.ReadAsStringAsync(Ct) : null;
        }
        catch (HttpRequestException)
        {
            return null;
        }
        catch (TaskCanceledException) when (!Ct.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>Polls <paramref name="condition"/> until it holds; fails at once if the process it waits on exits.</summary>
    private async Task WaitUntilAsync(string what, TimeSpan limit, Sidecar process, Func<Task<bool>> condition)
    {
        var elapsed = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"{process.Name} exited with {process.ExitCode} while waiting for {what}:\n{process.Output}");
            }
            if (await condition())
            {
                return;
            }
            if (elapsed.Elapsed > limit)
            {
                throw new TimeoutException($"{what}: not within {limit.TotalSeconds:0} s. {process.Name} said:\n{process.Output}");
            }
            await Task.Delay(250, Ct);
        }
    }
}

/// <summary>What needs no running server: the Prometheus configuration's validity and the dashboard's conventions.</summary>
public sealed class DashboardConfigTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The host configuration and docker-compose.yml's (same jobs, compose service names as targets).</summary>
    [Theory]
    [InlineData("deploy/prometheus/prometheus.yml")]
    [InlineData("deploy/prometheus/prometheus.compose.yml")]
    public async Task PrometheusConfigPassesPromtoolCheckConfig(string file)
    {
        var promtool = Tools.Require("promtool", "apt-get install -y prometheus");
        var (exit, output) = await Tools.RunAsync(promtool, ["check", "config", Repo.File(file)], null, Ct);
        Assert.True(exit == 0, $"promtool check config {file} failed (exit {exit}): {output}");
    }

    [Fact]
    public async Task DashboardUsesTheProvisionedDatasourceVariablesAndRateIntervals()
    {
        var datasource = await File.ReadAllTextAsync(Repo.File("deploy/grafana/provisioning/datasources/prometheus.yml"), Ct);
        Assert.Matches(new Regex($@"(?m)^\s+uid:\s*{Dashboard.DatasourceUid}\s*$"), datasource);
        var provider = await File.ReadAllTextAsync(Repo.File("deploy/grafana/provisioning/dashboards/exbuy.yml"), Ct);
        Assert.Matches(new Regex(@"(?m)^\s+type:\s*file\s*$"), provider);

        using var dashboard = JsonDocument.Parse(await File.ReadAllTextAsync(Repo.File(Dashboard.Path), Ct));
        var root = dashboard.RootElement;
        var problems = new List<string>();
        var ids = new HashSet<int>();
        foreach (var panel in root.GetProperty("panels").EnumerateArray())
        {
            var title = panel.GetProperty("title").GetString();
            if (!ids.Add(panel.GetProperty("id").GetInt32()))
            {
                problems.Add($"{title}: duplicate panel id");
            }
            var grid = panel.GetProperty("gridPos");
            if (grid.GetProperty("x").GetInt32() + grid.GetProperty("w").GetInt32() > 24)
            {
                problems.Add($"{title}: wider than the 24-column grid");
            }
            if (panel.GetProperty("type").GetString() == "row")
            {
                continue;
            }
            if (!Dashboard.IsOurDatasource(panel))
            {
                problems.Add($"{title}: panel datasource is not {{prometheus, {Dashboard.DatasourceUid}}}");
            }
            if (!panel.TryGetProperty("targets", out var targets) || targets.GetArrayLength() == 0)
            {
                problems.Add($"{title}: no query");
                continue;
            }
            foreach (var target in targets.EnumerateArray())
            {
                var expr = target.GetProperty("expr").GetString() ?? "";
                if (!Dashboard.IsOurDatasource(target))
                {
                    problems.Add($"{title}: target datasource is not {Dashboard.DatasourceUid}");
                }
                // Range windows follow the scrape interval (or the dashboard's range for totals), never a fixed 5m.
                foreach (Match window in Regex.Matches(expr, @"\[([^\]]*)\]"))
                {
                    if (window.Groups[1].Value is not ("$__rate_interval" or "$__range"))
                    {
                        problems.Add($"{title}: range [{window.Groups[1].Value}], not [$__rate_interval] or [$__range]: {expr}");
                    }
                }
                // Multi-value and All variables expand to regexes: their matchers must be =~.
                foreach (Match matcher in Regex.Matches(expr, @"\b(\w+)\s*(=|!=)\s*""\$"))
                {
                    problems.Add($"{title}: {matcher.Groups[1].Value}{matcher.Groups[2].Value}\"$…\" must be =~: {expr}");
                }
                // Buckets only for quantiles: a rate of _bucket counts each request once per bucket it falls in.
                if (Regex.Matches(expr, @"_bucket\b").Count > Regex.Matches(expr, @"\bhistogram_quantile\(").Count)
                {
                    problems.Add($"{title}: _bucket outside histogram_quantile (use _count for rates): {expr}");
                }
            }
        }
        var variables = Dashboard.Variables(root).ToDictionary(v => v.Name);
        foreach (var name in new[] { "job", "instance", "route", "datname" })
        {
            if (!variables.ContainsKey(name))
            {
                problems.Add($"no ${name} variable");
            }
        }
        if (variables.TryGetValue("route", out var route) && !(route.Multi && route.IncludeAll))
        {
            problems.Add("$route must be multi-value with All");
        }
        foreach (var variable in root.GetProperty("templating").GetProperty("list").EnumerateArray())
        {
            if (!Dashboard.IsOurDatasource(variable))
            {
                problems.Add($"variable {variable.GetProperty("name").GetString()}: datasource is not {Dashboard.DatasourceUid}");
            }
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }
}

/// <summary>Reading deploy/grafana/dashboards/exbuy.json the way Grafana does.</summary>
public static class Dashboard
{
    public const string Path = "deploy/grafana/dashboards/exbuy.json";
    public const string DatasourceUid = "exbuy-prometheus";

    public sealed record Variable(string Name, string Query, bool Multi, bool IncludeAll);

    /// <summary>Every (panel title, PromQL expression), rows' nested panels included.</summary>
    public static IEnumerable<(string Title, string Expr)> Targets(JsonElement dashboard)
    {
        foreach (var panel in AllPanels(dashboard.GetProperty("panels")))
        {
            if (!panel.TryGetProperty("targets", out var targets))
            {
                continue;
            }
            var title = panel.GetProperty("title").GetString() ?? "";
            foreach (var target in targets.EnumerateArray())
            {
                if (target.TryGetProperty("expr", out var expr) && expr.GetString() is { Length: > 0 } text)
                {
                    var refId = target.TryGetProperty("refId", out var id) ? id.GetString() : "?";
                    yield return ($"{title} [{refId}]", text);
                }
            }
        }
    }

    private static IEnumerable<JsonElement> AllPanels(JsonElement panels)
    {
        foreach (var panel in panels.EnumerateArray())
        {
            yield return panel;
            if (panel.TryGetProperty("panels", out var nested))
            {
                foreach (var inner in AllPanels(nested))
                {
                    yield return inner;
                }
            }
        }
    }

    public static IEnumerable<Variable> Variables(JsonElement dashboard)
    {
        foreach (var v in dashboard.GetProperty("templating").GetProperty("list").EnumerateArray())
        {
            var query = v.GetProperty("query");
            yield return new Variable(
                v.GetProperty("name").GetString()!,
                query.ValueKind == JsonValueKind.Object ? query.GetProperty("query").GetString()! : query.GetString()!,
                v.TryGetProperty("multi", out var multi) && multi.GetBoolean(),
                v.TryGetProperty("includeAll", out var all) && all.GetBoolean());
        }
    }

    public static bool IsOurDatasource(JsonElement element) =>
        element.TryGetProperty("datasource", out var ds) && ds.ValueKind == JsonValueKind.Object
        && ds.TryGetProperty("type", out var type) && type.GetString() == "prometheus"
        && ds.TryGetProperty("uid", out var uid) && uid.GetString() == DatasourceUid;

    /// <summary>Grafana's <c>$name</c> and <c>${name}</c> (also <c>${name:format}</c>); an unknown variable throws.</summary>
    public static string Substitute(string expr, IReadOnlyDictionary<string, string> values) =>
        Regex.Replace(expr, @"\$\{(?<name>\w+)(?::\w+)?\}|\$(?<name>\w+)", m =>
            values.TryGetValue(m.Groups["name"].Value, out var value)
                ? value
                : throw new KeyNotFoundException($"unknown variable ${m.Groups["name"].Value}"));

    /// <summary>
    /// Metric names in a PromQL expression: identifiers right before <c>{</c> or <c>[</c>, once string literals (label
    /// values, regexes) are blanked out.
    /// </summary>
    public static SortedSet<string> MetricNames(string expr)
    {
        var code = Regex.Replace(expr, @"""(?:[^""\\]|\\.)*""|'(?:[^'\\]|\\.)*'", "\"\"");
        return new SortedSet<string>(
            Regex.Matches(code, @"(?<![\w:])([A-Za-z_:][A-Za-z0-9_:]*)\s*[\{\[]").Select(m => m.Groups[1].Value),
            StringComparer.Ordinal);
    }
}

/// <summary>The repository checkout the tests run from: the folder holding ExBuy.slnx above the test binaries.</summary>
public static class Repo
{
    private static readonly Lazy<string> RootDir = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (System.IO.File.Exists(Path.Combine(dir.FullName, "ExBuy.slnx")))
            {
                return dir.FullName;
            }
        }
        throw new DirectoryNotFoundException($"no ExBuy.slnx above {AppContext.BaseDirectory}");
    });

    public static string Root => RootDir.Value;

    public static string File(string relative) => Path.Combine(Root, relative);
}

/// <summary>A process a test starts beside ExBuy (an exporter, Prometheus), with its output kept for failure messages.</summary>
public sealed class Sidecar(string name, Process process)
{
    private readonly ConcurrentQueue<string> _output = new();

    public string Name { get; } = name;
    public Process Process { get; } = process;
    public bool HasExited => Process.HasExited;
    public int ExitCode => Process.ExitCode;

    /// <summary>The last 40 lines of stdout and stderr.</summary>
    public string Output => string.Join("\n", _output.TakeLast(40));

    internal void Capture()
    {
        Process.OutputDataReceived += (_, e) => { if (e.Data is not null) { _output.Enqueue(e.Data); } };
        Process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { _output.Enqueue(e.Data); } };
        Process.BeginOutputReadLine();
        Process.BeginErrorReadLine();
    }
}

/// <summary>The processes and temp directories of one test: disposing kills each process (by its own id) and deletes the directories.</summary>
public sealed class Sidecars : IAsyncDisposable
{
    private readonly List<Sidecar> _processes = [];
    private readonly List<string> _directories = [];

    public Sidecar Start(string name, string file, IEnumerable<string> arguments, IDictionary<string, string>? environment)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        foreach (var argument in arguments)
        {
            psi.ArgumentList.Add(argument);
        }
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("PG_EXPORTER_", StringComparison.Ordinal)
            || k.StartsWith("DATA_SOURCE_", StringComparison.Ordinal)).ToArray())
        {
            psi.Environment.Remove(key);
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[key] = value;
        }
        var sidecar = new Sidecar(name, Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}"));
        _processes.Add(sidecar);
        sidecar.Capture();
        return sidecar;
    }

    public string TempDir(string prefix)
    {
        var dir = Path.Combine(Path.GetTempPath(), prefix + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        _directories.Add(dir);
        return dir;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var sidecar in Enumerable.Reverse(_processes))
        {
            try
            {
                if (!sidecar.Process.HasExited)
                {
                    sidecar.Process.Kill(entireProcessTree: true);
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    await sidecar.Process.WaitForExitAsync(timeout.Token);
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }
            catch (OperationCanceledException)
            {
                // Killed but not reaped in 10 s: nothing more to do from here.
            }
            sidecar.Process.Dispose();
        }
        _processes.Clear();
        foreach (var dir in _directories)
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        _directories.Clear();
    }
}
