using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ExBuy.Api.Tests.Observability;

namespace ExBuy.Api.Tests.Deploy;

/// <summary>
/// docker-compose.yml, checked statically by the real docker-compose (1.29 validates with no container engine): it is
/// valid for every profile, with and without .env.example, and its resolved configuration has the services, ports,
/// volumes, health checks and start order the README describes.
/// </summary>
public sealed class ComposeTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string> ProfileSets() => new(["", .. Compose.ProfileServices.Keys, string.Join(',', Compose.ProfileServices.Keys)]);

    private static string[] Split(string profiles) => profiles.Split(',', StringSplitOptions.RemoveEmptyEntries);

    [Theory]
    [MemberData(nameof(ProfileSets))]
    public async Task ConfigValidatesWithDefaultsAndWithTheEnvExample(string profiles)
    {
        using var empty = Compose.EmptyEnvFile();
        foreach (var envFile in new[] { empty.Path, Repo.File(EnvExample.Path) })
        {
            var (exit, stdout, stderr) = await Compose.RunAsync(envFile, Split(profiles), ["config", "-q"], Ct);
            Assert.True(exit == 0, $"docker-compose --env-file {envFile} {profiles} config -q failed (exit {exit}): {stderr}");
            Assert.True(stdout.Length == 0, $"docker-compose config -q printed: {stdout}");
            Assert.DoesNotContain("is not set", stderr, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task EachProfileAddsExactlyItsServices()
    {
        using var empty = Compose.EmptyEnvFile();
        var (exit, stdout, stderr) = await Compose.RunAsync(empty.Path, [], ["config", "--profiles"], Ct);
        Assert.True(exit == 0, stderr);
        Assert.Equal(Compose.ProfileServices.Keys.Order(StringComparer.Ordinal),
            stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Order(StringComparer.Ordinal));

        var services = (await Compose.ConfigAsync(empty.Path, [], Ct))["services"]!.AsObject();
        var byProfile = services.GroupBy(s => s.Value!["profiles"] is JsonArray p ? string.Join(',', p.Select(x => (string)x!)) : "")
            .ToDictionary(g => g.Key, g => g.Select(s => s.Key).Order(StringComparer.Ordinal).ToArray());
        Assert.Equal(Compose.DefaultServices.Order(StringComparer.Ordinal), byProfile[""]);
        foreach (var (profile, expected) in Compose.ProfileServices)
        {
            Assert.Equal(expected.Order(StringComparer.Ordinal), byProfile.GetValueOrDefault(profile, []));
        }
        Assert.Equal(Compose.ProfileServices.Count + 1, byProfile.Count);
    }

    [Fact]
    public async Task PortsArePublishedOnLoopbackByDefault()
    {
        using var empty = Compose.EmptyEnvFile();
        var services = (await Compose.ConfigAsync(empty.Path, Compose.ProfileServices.Keys, Ct))["services"]!.AsObject();
        var published = services.ToDictionary(s => s.Key,
            s => s.Value!["ports"] is JsonArray ports ? string.Join(' ', ports.Select(p => PortText(p!))) : "");

        Assert.Equal(new Dictionary<string, string>
        {
            ["db"] = "127.0.0.1:5432:5432/tcp",
            ["migrate"] = "",
            ["web"] = "127.0.0.1:8000:8000/tcp",
            ["web-sync"] = "127.0.0.1:8001:8000/tcp",
            ["web-workers"] = "127.0.0.1:8002:8000/tcp",
            ["web-jit"] = "127.0.0.1:8003:8000/tcp",
            ["prometheus"] = "127.0.0.1:9090:9090/tcp",
            ["postgres-exporter"] = "127.0.0.1:9187:9187/tcp",
            ["grafana"] = "127.0.0.1:3000:3000/tcp",
            ["load"] = "",
            ["k6"] = "",
            ["db-standby"] = "",
            ["pgbouncer"] = "",
            ["web-1"] = "",
            ["web-2"] = "",
            ["haproxy"] = "127.0.0.1:8080:8080/tcp 127.0.0.1:8404:8404/tcp",
        }, published);
    }

    /// <summary>"127.0.0.1:8000:8000/tcp" from the short form (1.29) or the long form (v2).</summary>
    private static string PortText(JsonNode port) => port is JsonValue
        ? (string)port!
        : $"{port["host_ip"]}:{port["published"]}:{port["target"]}/{port["protocol"]?.ToString() ?? "tcp"}";

    [Fact]
    public async Task StateIsInNamedVolumes()
    {
        using var empty = Compose.EmptyEnvFile();
        var config = await Compose.ConfigAsync(empty.Path, Compose.ProfileServices.Keys, Ct);
        Assert.Equal(["grafana-data", "pgdata", "pgdata-standby", "prometheus-data", "uploads"],
            config["volumes"]!.AsObject().Select(v => v.Key).Order(StringComparer.Ordinal));

        var services = config["services"]!.AsObject();
        Assert.Contains("pgdata:/var/lib/postgresql/data", Mounts(services["db"]!));
        Assert.Contains("pgdata-standby:/var/lib/postgresql/data", Mounts(services["db-standby"]!));
        foreach (var web in Compose.ExBuyServices.Where(s => s != "migrate"))
        {
            Assert.Contains("uploads:/app/data/uploads", Mounts(services[web]!));
        }
        Assert.Contains("prometheus-data:/prometheus", Mounts(services["prometheus"]!));
        Assert.Contains("grafana-data:/var/lib/grafana", Mounts(services["grafana"]!));
    }

    /// <summary>The services' mounts as "source:target" (a bind mount's source relative to the repository).</summary>
    private static string[] Mounts(JsonNode service) => service["volumes"] is JsonArray volumes
        ? [.. volumes.Select(v => v is JsonValue
            ? string.Join(':', ((string)v!).Split(':').Take(2)).Replace(Repo.Root + "/", "./", StringComparison.Ordinal)
            : $"{((string)v!["source"]!).Replace(Repo.Root + "/", "./", StringComparison.Ordinal)}:{(string)v["target"]!}")]
        : [];

    [Fact]
    public async Task BindMountsNameFilesOfTheRepository()
    {
        using var empty = Compose.EmptyEnvFile();
        var services = (await Compose.ConfigAsync(empty.Path, Compose.ProfileServices.Keys, Ct))["services"]!.AsObject();
        var binds = services.SelectMany(s => Mounts(s.Value!)).Where(m => m.StartsWith("./", StringComparison.Ordinal)).ToList();
        Assert.Contains("./deploy/prometheus/prometheus.compose.yml:/etc/prometheus/prometheus.yml", binds);
        Assert.Contains("./deploy/grafana/dashboards:/var/lib/grafana/dashboards/exbuy", binds);
        Assert.Contains("./deploy/scale-out/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg", binds);
        Assert.Contains("./deploy/scale-out/primary-init.sh:/docker-entrypoint-initdb.d/scale-out-primary.sh", binds);
        Assert.Contains("./deploy/scale-out:/etc/postgresql/scale-out", binds);
        Assert.Contains("./deploy/scale-out:/etc/pgbouncer/scale-out", binds);
        foreach (var source in binds.Select(b => b.Split(':')[0]).Where(s => s != "./results"))
        {
            Assert.True(File.Exists(Repo.File(source)) || Directory.Exists(Repo.File(source)), $"{Compose.File} mounts {source}, which does not exist");
        }
        // Grafana's dashboard provider reads the folder the dashboards are mounted at.
        var provider = await File.ReadAllTextAsync(Repo.File("deploy/grafana/provisioning/dashboards/exbuy.yml"), Ct);
        Assert.Matches(new Regex(@"(?m)^\s+path:\s*/var/lib/grafana/dashboards/exbuy\s*$"), provider);
    }

    [Fact]
    public async Task HealthChecksGateTheStartOrder()
    {
        using var empty = Compose.EmptyEnvFile();
        var services = (await Compose.ConfigAsync(empty.Path, Compose.ProfileServices.Keys, Ct))["services"]!.AsObject();

        var db = services["db"]!["healthcheck"]!["test"]!.AsArray().Select(t => (string)t!).ToArray();
        Assert.Equal("CMD-SHELL", db[0]);
        Assert.StartsWith("pg_isready", db[1], StringComparison.Ordinal);

        foreach (var name in Compose.ExBuyServices.Where(s => s != "migrate"))
        {
            var web = services[name]!;
            Assert.Equal(Dockerfile.Load().Api.HealthCheck, web["healthcheck"]!["test"]!.AsArray().Select(t => (string)t!).Skip(1));
            Assert.Equal("CMD", (string)web["healthcheck"]!["test"]![0]!);
            Assert.Equal("service_healthy", (string)web["depends_on"]!["db"]!["condition"]!);
            Assert.Equal("service_completed_successfully", (string)web["depends_on"]!["migrate"]!["condition"]!);
            Assert.Equal("false", (string)web["environment"]!["DB_MIGRATE"]!);
            Assert.Equal("none", (string)web["environment"]!["SEED_ON_EMPTY"]!);
        }

        var migrate = services["migrate"]!;
        Assert.Equal("service_healthy", (string)migrate["depends_on"]!["db"]!["condition"]!);
        Assert.Equal("no", (string)migrate["restart"]!);
        Assert.Equal(["seed", "--preset", "medium", "--if-empty"], migrate["command"]!.AsArray().Select(c => (string)c!));

        Assert.Equal("service_healthy", (string)services["load"]!["depends_on"]!["web"]!["condition"]!);
        Assert.Equal("service_healthy", (string)services["postgres-exporter"]!["depends_on"]!["db"]!["condition"]!);

        // Scale-out: the standby clones a healthy primary; the replicas wait for the standby and PgBouncer too; HAProxy
        // for both replicas. Each has a health check of its own.
        Assert.Equal("service_healthy", (string)services["db-standby"]!["depends_on"]!["db"]!["condition"]!);
        Assert.Equal("service_healthy", (string)services["pgbouncer"]!["depends_on"]!["db"]!["condition"]!);
        foreach (var replica in Compose.ScaleOutReplicas)
        {
            Assert.Equal("service_healthy", (string)services[replica]!["depends_on"]!["db-standby"]!["condition"]!);
            Assert.Equal("service_healthy", (string)services[replica]!["depends_on"]!["pgbouncer"]!["condition"]!);
            Assert.Equal("service_healthy", (string)services["haproxy"]!["depends_on"]![replica]!["condition"]!);
        }
        foreach (var name in new[] { "db-standby", "pgbouncer", "haproxy" })
        {
            var test = services[name]!["healthcheck"]?["test"]?.AsArray().Select(t => (string)t!).ToArray();
            Assert.True(test is { Length: > 1 } && test[0] is "CMD" or "CMD-SHELL", $"{name} has no health check command");
        }
        Assert.Contains("pg_isready", string.Join(' ', services["db-standby"]!["healthcheck"]!["test"]!.AsArray().Select(t => (string)t!)),
            StringComparison.Ordinal);
        Assert.Equal(["CMD", "pg_isready", "-h", "127.0.0.1", "-p", "6432"],
            services["pgbouncer"]!["healthcheck"]!["test"]!.AsArray().Select(t => (string)t!));
    }

    [Fact]
    public async Task TheScaleOutReplicasDifferFromWebByTheirTopologySettingsOnly()
    {
        using var empty = Compose.EmptyEnvFile();
        var services = (await Compose.ConfigAsync(empty.Path, Compose.ProfileServices.Keys, Ct))["services"]!.AsObject();
        var web = Environment(services["web"]!);
        var expected = new Dictionary<string, string>
        {
            ["DB_HOST"] = "pgbouncer",
            ["DB_PORT"] = "6432",
            ["DB_PGBOUNCER"] = "true",
            ["DB_READ_HOSTS"] = "db-standby:5432",
            ["SHUTDOWN_DELAY"] = "3s",
        };
        foreach (var replica in Compose.ScaleOutReplicas)
        {
            Assert.Equal(expected, Difference(Environment(services[replica]!), web));
            Assert.Contains("uploads:/app/data/uploads", Mounts(services[replica]!));
        }
        // The drain fits in Docker's stop grace (10 s by default): SHUTDOWN_TIMEOUT includes SHUTDOWN_DELAY.
        Assert.Equal("8s", web["SHUTDOWN_TIMEOUT"]);
        Assert.Equal("0", web["SHUTDOWN_DELAY"]);

        // PgBouncer and HAProxy point at the compose services, on the ports those listen on.
        var bouncer = Environment(services["pgbouncer"]!);
        Assert.Equal(("db", "5432", "6432"), (bouncer["PG_PRIMARY_HOST"], bouncer["PG_PRIMARY_PORT"], bouncer["PGBOUNCER_PORT"]));
        var haproxy = Environment(services["haproxy"]!);
        Assert.Equal(["web-1:8000", "web-2:8000"], new[] { haproxy["EXBUY_SERVER_1"], haproxy["EXBUY_SERVER_2"] });
        Assert.Equal(":8080", haproxy["EXBUY_BIND"]);
        Assert.Equal(":8404", haproxy["HAPROXY_STATS_BIND"]);
        var standby = Environment(services["db-standby"]!);
        Assert.Equal("db", standby["PRIMARY_HOST"]);
    }

    [Fact]
    public async Task TheScaleOutServicesGetEveryVariableTheirConfigurationFilesName()
    {
        // haproxy.cfg is expanded by HAProxy from its environment, pgbouncer.ini and userlist.txt by render-config.sh:
        // a name missing from the service's environment would stop it at start.
        using var empty = Compose.EmptyEnvFile();
        var services = (await Compose.ConfigAsync(empty.Path, ["scale-out"], Ct))["services"]!.AsObject();
        foreach (var (service, files) in new[]
        {
            ("haproxy", new[] { "deploy/scale-out/haproxy.cfg" }),
            ("pgbouncer", new[] { "deploy/scale-out/pgbouncer.ini", "deploy/scale-out/userlist.txt" }),
        })
        {
            var environment = Environment(services[service]!);
            foreach (var file in files)
            {
                var names = ScaleOut.ScaleOutFiles.Placeholders(file);
                Assert.NotEmpty(names);
                var missing = names.Where(n => !environment.ContainsKey(n)).ToList();
                Assert.True(missing.Count == 0, $"{Compose.File}: {service} does not set {string.Join(", ", missing)}, which {file} needs");
            }
        }
    }

    [Fact]
    public async Task TheVariantsDifferFromWebByTheirServerSettingsOnly()
    {
        using var empty = Compose.EmptyEnvFile();
        var services = (await Compose.ConfigAsync(empty.Path, Compose.ProfileServices.Keys, Ct))["services"]!.AsObject();
        var web = Environment(services["web"]!);
        Assert.Equal(new Dictionary<string, string> { ["SERVER_MODE"] = "sync", ["THREADS"] = "8" }, Difference(Environment(services["web-sync"]!), web));
        Assert.Equal(new Dictionary<string, string> { ["WORKERS"] = "2" }, Difference(Environment(services["web-workers"]!), web));
        Assert.Empty(Difference(Environment(services["web-jit"]!), web));
        Assert.Equal("Jit", (string)services["web-jit"]!["build"]!["args"]!["PUBLISH_PROFILE"]!);
        Assert.Equal("ReadyToRun", (string)services["web"]!["build"]!["args"]!["PUBLISH_PROFILE"]!);
        foreach (var profile in new[] { "ReadyToRun", "Jit" })
        {
            Assert.True(File.Exists(Repo.File($"src/ExBuy.Api/Properties/PublishProfiles/{profile}.pubxml")), $"no publish profile {profile}");
        }

        // The load runner drives web and serves its metrics where the compose Prometheus scrapes them.
        var load = services["load"]!["command"]!.AsArray().Select(c => (string)c!).ToList();
        Assert.Equal("http://web:8000", load[load.IndexOf("--base-url") + 1]);
        Assert.Equal("0.0.0.0:9464", load[load.IndexOf("--metrics-listen") + 1]);
        Assert.Equal("mixed", load[load.IndexOf("--scenario") + 1]);
        Assert.Equal(["run", "k6/mixed.js"], services["k6"]!["command"]!.AsArray().Select(c => (string)c!));
    }

    private static Dictionary<string, string> Environment(JsonNode service) =>
        service["environment"]!.AsObject().ToDictionary(e => e.Key, e => e.Value?.ToString() ?? "");

    private static Dictionary<string, string> Difference(Dictionary<string, string> variant, Dictionary<string, string> web)
    {
        Assert.Empty(web.Keys.Except(variant.Keys));
        return variant.Where(e => !web.TryGetValue(e.Key, out var v) || v != e.Value).ToDictionary(e => e.Key, e => e.Value);
    }

    [Fact]
    public async Task ComposePrometheusScrapesTheComposeServicesUnderTheHostConfigsJobNames()
    {
        using var empty = Compose.EmptyEnvFile();
        var services = (await Compose.ConfigAsync(empty.Path, Compose.ProfileServices.Keys, Ct))["services"]!.AsObject();
        var host = Jobs(await File.ReadAllTextAsync(Repo.File("deploy/prometheus/prometheus.yml"), Ct));
        var compose = Jobs(await File.ReadAllTextAsync(Repo.File("deploy/prometheus/prometheus.compose.yml"), Ct));

        Assert.Equal(host.Keys.Order(StringComparer.Ordinal), compose.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(["web:8000", "web-sync:8000", "web-workers:8000", "web-jit:8000"], compose["exbuy"]);
        Assert.Equal(["postgres-exporter:9187"], compose["postgres"]);
        Assert.Equal(["load:9464"], compose["exbuy-load"]);
        foreach (var target in compose.Values.SelectMany(t => t))
        {
            Assert.True(services.ContainsKey(target.Split(':')[0]), $"prometheus.compose.yml scrapes {target}: no such compose service");
        }

        // Grafana's provisioned datasource reaches the compose Prometheus by its service name.
        var datasource = await File.ReadAllTextAsync(Repo.File("deploy/grafana/provisioning/datasources/prometheus.yml"), Ct);
        Assert.Matches(new Regex(@"(?m)^\s+url:\s*http://prometheus:9090\s*$"), datasource);
        Assert.Contains("9090/tcp", services["prometheus"]!["ports"]![0]!.ToJsonString(), StringComparison.Ordinal);
    }

    /// <summary>job_name → its one-line targets list (the layout both files keep; see DashboardTests).</summary>
    private static Dictionary<string, string[]> Jobs(string yaml)
    {
        var jobs = new Dictionary<string, string[]>();
        string? job = null;
        foreach (var line in yaml.Split('\n'))
        {
            if (Regex.Match(line, @"^\s*-\s*job_name:\s*(\S+)") is { Success: true } j)
            {
                job = j.Groups[1].Value;
            }
            else if (job is not null && Regex.Match(line, @"^\s*-\s*targets:\s*\[(.*)\]") is { Success: true } t)
            {
                jobs[job] = [.. t.Groups[1].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                    .Select(x => x.Trim('"'))];
            }
        }
        return jobs;
    }
}
