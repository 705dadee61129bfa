using System.Diagnostics;
using System.Text.RegularExpressions;
using ExBuy.Api.Tests.Infrastructure;
using ExBuy.Api.Tests.Observability;
using Npgsql;

namespace ExBuy.Api.Tests.ScaleOut;

/// <summary>
/// The files of deploy/scale-out/ and the tools that run them: found on PATH (or /usr/sbin, where Debian puts haproxy
/// and pgbouncer), else skipped with the install command — a failure under CI=true, as for PostgreSQL.
/// </summary>
public static partial class ScaleOutFiles
{
    public const string Dir = "deploy/scale-out";
    public const string HaproxyCfg = Dir + "/haproxy.cfg";
    public const string PgBouncerIni = Dir + "/pgbouncer.ini";
    public const string UserList = Dir + "/userlist.txt";
    public const string Render = Dir + "/render-config.sh";

    public static string Text(string file) => File.ReadAllText(Repo.File(file));

    /// <summary>The <c>${NAME}</c>s of a file outside its comment lines (first non-blank character ';' or '#').</summary>
    public static SortedSet<string> Placeholders(string file) => new(
        File.ReadLines(Repo.File(file)).Where(l => !CommentLine().IsMatch(l))
            .SelectMany(l => Placeholder().Matches(l).Select(m => m.Groups["name"].Value)), StringComparer.Ordinal);

    /// <summary>A tool of the scale-out topology: its path, or a skip (locally) / failure (CI=true) naming the install command.</summary>
    public static string RequireTool(string name)
    {
        var found = Tools.Find(name) ?? new[] { "/usr/sbin", "/usr/local/sbin", "/sbin" }.Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
        return found ?? Tools.Require(name, $"apt-get install -y {name}");
    }

    /// <summary>A setting of pgbouncer.ini's [pgbouncer] section, as shipped.</summary>
    public static string IniValue(string key) =>
        IniLine(key).Match(Text(PgBouncerIni)) is { Success: true } m ? m.Groups["value"].Value.Trim()
            : throw new InvalidOperationException($"{PgBouncerIni} has no '{key} =' line");

    /// <summary>Runs render-config.sh on a template with exactly <paramref name="variables"/> set (nothing inherited that it names).</summary>
    public static Task<(int Exit, string Stdout, string Stderr)> RenderAsync(string template, IDictionary<string, string> variables, CancellationToken ct) =>
        Tools.RunSeparatelyAsync("sh", [Repo.File(Render), Repo.File(template)], null, ct, psi =>
        {
            foreach (var name in Placeholders(template))
            {
                psi.Environment.Remove(name);
            }
            foreach (var (key, value) in variables)
            {
                psi.Environment[key] = value;
            }
        });

    /// <summary>As root, the processes of the topology run as 'nobody' (PostgreSQL and PgBouncer refuse root).</summary>
    public static bool IsRoot => Environment.UserName == "root";

    /// <summary>Makes a directory (and what is in it) the unprivileged user's when the tests run as root.</summary>
    public static async Task GiveToNobodyAsync(string dir, CancellationToken ct)
    {
        if (IsRoot)
        {
            var (exit, output) = await Tools.RunAsync("chown", ["-R", "nobody", dir], null, ct);
            Assert.True(exit == 0, $"chown -R nobody {dir}: {output}");
        }
    }

    /// <summary>The command line that runs <paramref name="tool"/> as 'nobody' when root (runuser), else as it is.</summary>
    public static (string File, string[] Arguments) AsUnprivileged(string tool, params string[] arguments) =>
        IsRoot ? ("runuser", new[] { "-u", "nobody", "--", tool }.Concat(arguments).ToArray()) : (tool, arguments);

    /// <summary>Waits (bounded) until something accepts TCP connections on 127.0.0.1:<paramref name="port"/>.</summary>
    public static async Task WaitForPortAsync(int port, Sidecar process, TimeSpan limit, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < limit)
        {
            if (process.HasExited)
            {
                Assert.Fail($"{process.Name} exited ({process.ExitCode}) before listening on {port}: {process.Output}");
            }
            try
            {
                using var client = new System.Net.Sockets.TcpClient();
                await client.ConnectAsync("127.0.0.1", port, ct);
                return;
            }
            catch (System.Net.Sockets.SocketException)
            {
                await Task.Delay(100, ct);
            }
        }
        Assert.Fail($"{process.Name} did not listen on 127.0.0.1:{port} within {limit.TotalSeconds:F0} s: {process.Output}");
    }

    [GeneratedRegex(@"\$\{(?<name>[A-Za-z_][A-Za-z0-9_]*)\}")]
    private static partial Regex Placeholder();

    [GeneratedRegex(@"^\s*[;#]")]
    private static partial Regex CommentLine();

    private static Regex IniLine(string key) => new($@"(?m)^\s*{Regex.Escape(key)}\s*=(?<value>[^\r\n]*)$");
}

/// <summary>
/// deploy/scale-out/ read as configuration: the settings docs/SCALE-OUT.md promises are the ones shipped, the
/// templates render (and refuse to render half-filled), and the PostgreSQL files make a primary, a hot standby cloned
/// with pg_basebackup -R, a synchronous variant and a standby that takes over after promotion (on real clusters).
/// </summary>
public sealed class ScaleOutConfigTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void HaproxyBalancesRoundRobinChecksReadinessAndRetriesOnAnotherReplica()
    {
        var cfg = ScaleOutFiles.Text(ScaleOutFiles.HaproxyCfg);
        var lines = cfg.Split('\n').Select(l => Regex.Replace(l, @"\s+", " ").Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        foreach (var expected in new[]
        {
            "balance roundrobin",
            "option httpchk GET /api/health/ready",
            "http-check expect status 200",
            "default-server check inter 500ms fall 2 rise 2",
            "retries 3",
            "option redispatch 1",
            "retry-on conn-failure empty-response",
            "server web1 \"${EXBUY_SERVER_1}\"",
            "server web2 \"${EXBUY_SERVER_2}\"",
            "bind \"${EXBUY_BIND}\"",
            "stats socket \"${HAPROXY_SOCKET}\" mode 600 level admin",
            "stats uri /stats",
            "timeout connect 2s",
            "timeout check 2s",
        })
        {
            Assert.Contains(expected, lines);
        }
        // The server timeout outlasts the replicas' longest answer (DB_STATEMENT_TIMEOUT 30 s + 5 s on the client).
        var server = lines.Single(l => l.StartsWith("timeout server ", StringComparison.Ordinal));
        Assert.True(int.Parse(Regex.Match(server, @"(\d+)s$").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) > 35, server);
        // A server marked down keeps its sessions: draining lets in-flight requests finish.
        Assert.DoesNotContain("shutdown-sessions", cfg, StringComparison.Ordinal);
        Assert.Equal(["EXBUY_BIND", "EXBUY_SERVER_1", "EXBUY_SERVER_2", "HAPROXY_SOCKET", "HAPROXY_STATS_BIND"],
            ScaleOutFiles.Placeholders(ScaleOutFiles.HaproxyCfg));
    }

    [Fact]
    public void PgBouncerPoolsTransactionsWithStatedSizesAndRefusesTheOptionsParameter()
    {
        Assert.Equal("transaction", ScaleOutFiles.IniValue("pool_mode"));
        var sizes = new[] { "max_client_conn", "default_pool_size", "min_pool_size", "reserve_pool_size", "max_db_connections" }
            .ToDictionary(k => k, k => int.Parse(ScaleOutFiles.IniValue(k), System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(sizes["default_pool_size"] + sizes["reserve_pool_size"] <= sizes["max_db_connections"] || sizes["max_db_connections"] == 0,
            "max_db_connections must leave room for the reserve");
        // Two replicas at compose's DB_POOL_MAX (64) fit as clients.
        Assert.True(sizes["max_client_conn"] >= 2 * 64, $"max_client_conn {sizes["max_client_conn"]} < 128");
        Assert.Equal("", ScaleOutFiles.IniValue("unix_socket_dir"));
        Assert.Equal("scram-sha-256", ScaleOutFiles.IniValue("auth_type"));
        // `options` must fail loudly without DB_PGBOUNCER=true (ignoring it would drop statement_timeout silently).
        Assert.DoesNotContain("options", ScaleOutFiles.IniValue("ignore_startup_parameters").Split(',', StringSplitOptions.TrimEntries));
        // ExBuy's own pool gives up first (DB_POOL_TIMEOUT 5 s), so the request answers 503 with its own message.
        Assert.True(int.Parse(ScaleOutFiles.IniValue("query_wait_timeout"), System.Globalization.CultureInfo.InvariantCulture) > 5);
        Assert.Equal(["PGBOUNCER_LISTEN_ADDR", "PGBOUNCER_PORT", "PGBOUNCER_USER", "PGBOUNCER_USERLIST", "PG_PRIMARY_HOST", "PG_PRIMARY_PORT"],
            ScaleOutFiles.Placeholders(ScaleOutFiles.PgBouncerIni));
    }

    [Fact]
    public async Task RenderConfigFillsEveryPlaceholderAndRefusesAnUnsetOne()
    {
        var variables = new Dictionary<string, string>
        {
            ["PG_PRIMARY_HOST"] = "127.0.0.1", ["PG_PRIMARY_PORT"] = "15432", ["PGBOUNCER_LISTEN_ADDR"] = "127.0.0.1", ["PGBOUNCER_PORT"] = "16432",
            ["PGBOUNCER_USERLIST"] = "/tmp/userlist.txt", ["PGBOUNCER_USER"] = "postgres",
        };
        var (exit, stdout, stderr) = await ScaleOutFiles.RenderAsync(ScaleOutFiles.PgBouncerIni, variables, Ct);
        Assert.True(exit == 0, stderr);
        var body = string.Join('\n', stdout.Split('\n').Where(l => !l.TrimStart().StartsWith(';')));
        Assert.DoesNotContain("${", body, StringComparison.Ordinal);
        Assert.Contains("* = host=127.0.0.1 port=15432", body, StringComparison.Ordinal);
        Assert.Matches(@"(?m)^listen_port = 16432$", body);
        // Comments are copied as they are.
        Assert.Equal(ScaleOutFiles.Text(ScaleOutFiles.PgBouncerIni).Split('\n').Count(l => l.StartsWith(';')), stdout.Split('\n').Count(l => l.StartsWith(';')));

        variables.Remove("PG_PRIMARY_PORT");
        variables.Remove("PGBOUNCER_USER");
        (exit, _, stderr) = await ScaleOutFiles.RenderAsync(ScaleOutFiles.PgBouncerIni, variables, Ct);
        Assert.Equal(1, exit);
        Assert.Contains("PG_PRIMARY_PORT", stderr, StringComparison.Ordinal);
        Assert.Contains("PGBOUNCER_USER", stderr, StringComparison.Ordinal);
        Assert.Contains("unset", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void PostgresFilesMakeAPrimaryAStandbyAndASynchronousVariantThatAgreeOnTheStandbysName()
    {
        static Dictionary<string, string> Settings(string file) => File.ReadLines(Repo.File($"{ScaleOutFiles.Dir}/{file}"))
            .Select(l => Regex.Match(l, @"^\s*(?<key>[a-z_]+)\s*=\s*(?<value>.*?)\s*$")).Where(m => m.Success)
            .ToDictionary(m => m.Groups["key"].Value, m => m.Groups["value"].Value.Trim('\''));
        var primary = Settings("postgresql.primary.conf");
        var standby = Settings("postgresql.standby.conf");
        var synchronous = Settings("postgresql.synchronous.conf");
        Assert.Equal("replica", primary["wal_level"]);
        Assert.Equal("on", primary["synchronous_commit"]);
        Assert.Equal("", primary["synchronous_standby_names"]);
        Assert.Equal("on", standby["hot_standby"]);
        Assert.Equal("on", standby["hot_standby_feedback"]);
        // A promoted standby never waits for a standby of its own.
        Assert.Equal("", standby["synchronous_standby_names"]);
        Assert.Equal("FIRST 1 (standby)", synchronous["synchronous_standby_names"]);
        Assert.Equal("standby", standby["cluster_name"]);
        // The bench and the compose standby clone with application_name=standby, the name synchronous_standby_names uses.
        Assert.Contains("application_name=standby", File.ReadAllText(Repo.File("bench/lib/topology.sh")), StringComparison.Ordinal);
        Assert.Contains("application_name=standby", ScaleOutFiles.Text($"{ScaleOutFiles.Dir}/standby-entrypoint.sh"), StringComparison.Ordinal);
    }

    [Fact]
    public void TheBenchIsBoundedValidatesItsKnobsAndListensOnLoopbackOnly()
    {
        var script = File.ReadAllText(Repo.File("bench/scale-out.sh"));
        var lib = File.ReadAllText(Repo.File("bench/lib/topology.sh"));
        foreach (var knob in new[] { "DURATION", "WARMUP", "DRILL_DURATION", "VUS", "POOL", "PROBE_CLIENTS", "PROMOTE_AFTER", "SEED" })
        {
            Assert.Matches(new Regex($@"(?m)^in_range {knob} ""\${knob}"" \d+ \d+$"), script);
        }
        Assert.Contains("QUICK", script, StringComparison.Ordinal);
        Assert.Contains("require_tools", script, StringComparison.Ordinal);
        Assert.Contains("haproxy pgbouncer", script, StringComparison.Ordinal);
        // Cleanup on exit: the replicas and proxies (bench_cleanup), then the clusters.
        Assert.Contains("trap 'bench_cleanup; topo_cleanup' EXIT", lib, StringComparison.Ordinal);
        Assert.DoesNotContain("0.0.0.0", script + lib, StringComparison.Ordinal);
        Assert.Contains("PGBOUNCER_LISTEN_ADDR=127.0.0.1", lib, StringComparison.Ordinal);
        Assert.Contains("listen_addresses=127.0.0.1", lib, StringComparison.Ordinal);
    }

    /// <summary>
    /// The PostgreSQL files on real clusters, as bench/lib/topology.sh uses them: a primary with postgresql.primary.conf,
    /// a standby cloned with pg_basebackup -R that streams and serves reads, synchronous once postgresql.synchronous.conf
    /// is included, and after the primary's crash and pg_ctl promote a primary that takes writes at once (it waits for
    /// no standby) and has every row the old primary committed.
    /// </summary>
    [Fact]
    public async Task APrimaryAndItsStandbyReplicateSynchronouslyAndTheStandbyTakesOverAfterPromotion()
    {
        await using var pair = new ShippedFilesPair();
        await pair.StartAsync(Ct);
        await pair.MakeSynchronousAsync(Ct);

        await using (var primary = await pair.OpenAsync(pair.PrimaryPort, Ct))
        {
            await Execute(primary, "CREATE TABLE acknowledged (id bigint PRIMARY KEY)");
            for (var i = 1; i <= 200; i++)
            {
                await Execute(primary, $"INSERT INTO acknowledged VALUES ({i})");
            }
        }
        // Synchronous: each commit above returned after the standby flushed it; a hot standby serves reads.
        await using (var standby = await pair.OpenAsync(pair.StandbyPort, Ct))
        {
            Assert.True(await Scalar<bool>(standby, "SELECT pg_is_in_recovery()"));
        }

        await pair.RunPgAsync("pg_ctl", ["-D", pair.DataDir("primary"), "-m", "immediate", "-w", "-t", "60", "stop"], Ct);
        await pair.RunPgAsync("pg_ctl", ["-D", pair.DataDir("standby"), "-w", "-t", "60", "promote"], Ct);

        await using var promoted = await pair.OpenAsync(pair.StandbyPort, Ct);
        Assert.False(await Scalar<bool>(promoted, "SELECT pg_is_in_recovery()"));
        Assert.Equal(200L, await Scalar<long>(promoted, "SELECT count(*) FROM acknowledged"));
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        bounded.CancelAfter(TimeSpan.FromSeconds(10)); // a commit waiting for a standby would hang here
        await using var insert = new NpgsqlCommand("INSERT INTO acknowledged VALUES (201)", promoted);
        await insert.ExecuteNonQueryAsync(bounded.Token);
    }

    private static async Task Execute(NpgsqlConnection connection, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, connection);
        await cmd.ExecuteNonQueryAsync(Ct);
    }

    private static async Task<T> Scalar<T>(NpgsqlConnection connection, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, connection);
        return (T)Convert.ChangeType((await cmd.ExecuteScalarAsync(Ct))!, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }
}

/// <summary>A primary and its standby made from deploy/scale-out/'s PostgreSQL files, in a temp dir removed on dispose.</summary>
public sealed class ShippedFilesPair : IAsyncDisposable
{
    private readonly Sidecars _dirs = new();
    private readonly List<string> _started = [];
    private string _root = "";
    private string _bin = "";

    public int PrimaryPort { get; private set; }
    public int StandbyPort { get; private set; }

    public string DataDir(string name) => Path.Combine(_root, name, "data");

    public async Task StartAsync(CancellationToken ct)
    {
        _bin = FindPgBin();
        _root = _dirs.TempDir("exbuy-replication-");
        Directory.CreateDirectory(Path.Combine(_root, "primary"));
        Directory.CreateDirectory(Path.Combine(_root, "standby"));
        await ScaleOutFiles.GiveToNobodyAsync(_root, ct);
        PrimaryPort = ExBuyServer.FreePort();
        StandbyPort = ExBuyServer.FreePort();

        await RunPgAsync("initdb", ["-D", DataDir("primary"), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"], ct);
        await IncludeAsync("primary", "postgresql.primary.conf", ct);
        await StartClusterAsync("primary", PrimaryPort, ct);

        await RunPgAsync("pg_basebackup", ["-D", DataDir("standby"), "-X", "stream", "-C", "-S", "standby", "-R", "-c", "fast",
            "-d", $"host=127.0.0.1 port={PrimaryPort} user=postgres application_name=standby"], ct);
        await IncludeAsync("standby", "postgresql.standby.conf", ct);
        await StartClusterAsync("standby", StandbyPort, ct);
        await WaitAsync(PrimaryPort, "SELECT count(*) = 1 FROM pg_stat_replication WHERE application_name = 'standby' AND state = 'streaming'",
            "the standby to stream", ct);
    }

    public async Task MakeSynchronousAsync(CancellationToken ct)
    {
        await IncludeAsync("primary", "postgresql.synchronous.conf", ct);
        await RunPgAsync("pg_ctl", ["-D", DataDir("primary"), "reload"], ct);
        await WaitAsync(PrimaryPort, "SELECT count(*) = 1 FROM pg_stat_replication WHERE application_name = 'standby' AND sync_state = 'sync'",
            "the standby to become synchronous", ct);
    }

    public async Task<NpgsqlConnection> OpenAsync(int port, CancellationToken ct)
    {
        var connection = new NpgsqlConnection($"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres;Pooling=false");
        await connection.OpenAsync(ct);
        return connection;
    }

    public async Task RunPgAsync(string tool, string[] arguments, CancellationToken ct)
    {
        var (file, args) = ScaleOutFiles.AsUnprivileged(Path.Combine(_bin, tool), arguments);
        var (exit, output) = await Tools.RunAsync(file, args, null, ct, psi => psi.WorkingDirectory = Path.GetTempPath());
        Assert.True(exit == 0, $"{tool} {string.Join(' ', arguments)} failed ({exit}): {output}");
    }

    private async Task IncludeAsync(string name, string file, CancellationToken ct)
    {
        var data = DataDir(name);
        File.Copy(Repo.File($"{ScaleOutFiles.Dir}/{file}"), Path.Combine(data, file), overwrite: true);
        await File.AppendAllTextAsync(Path.Combine(data, "postgresql.conf"), $"\ninclude '{file}'\n", ct);
        await ScaleOutFiles.GiveToNobodyAsync(data, ct);
    }

    private async Task StartClusterAsync(string name, int port, CancellationToken ct)
    {
        var dir = Path.Combine(_root, name);
        await RunPgAsync("pg_ctl", ["-D", DataDir(name), "-l", Path.Combine(dir, "server.log"), "-w", "-t", "60",
            "-o", $"-p {port} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=32MB", "start"], ct);
        _started.Add(name);
    }

    private async Task WaitAsync(int port, string condition, string what, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        await using var connection = await OpenAsync(port, ct);
        while (clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            await using var cmd = new NpgsqlCommand(condition, connection);
            if ((bool)(await cmd.ExecuteScalarAsync(ct))!)
            {
                return;
            }
            await Task.Delay(100, ct);
        }
        Assert.Fail($"waited 30 s for {what}");
    }

    private static string FindPgBin()
    {
        var env = Environment.GetEnvironmentVariable("PG_BIN");
        var dirs = new List<string>();
        if (!string.IsNullOrEmpty(env))
        {
            dirs.Add(env);
        }
        if (Directory.Exists("/usr/lib/postgresql"))
        {
            dirs.AddRange(Directory.GetDirectories("/usr/lib/postgresql").OrderByDescending(d => d, StringComparer.Ordinal).Select(d => Path.Combine(d, "bin")));
        }
        var found = dirs.FirstOrDefault(d => File.Exists(Path.Combine(d, "pg_basebackup")) && File.Exists(Path.Combine(d, "pg_ctl")));
        if (found is not null)
        {
            return found;
        }
        const string Reason = "PostgreSQL server binaries with pg_basebackup not found (PG_BIN, /usr/lib/postgresql/*/bin): apt-get install -y postgresql";
        if (PostgresCluster.InCi)
        {
            throw new InvalidOperationException("CI=true requires every test to run: " + Reason);
        }
        Assert.Skip(Reason);
        return "";
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var name in Enumerable.Reverse(_started))
        {
            try
            {
                var (file, args) = ScaleOutFiles.AsUnprivileged(Path.Combine(_bin, "pg_ctl"), "-D", DataDir(name), "-m", "immediate", "-w", "stop");
                await Tools.RunAsync(file, args, null, CancellationToken.None);
            }
            catch (Exception)
            {
                // Stopped already (the test crashed it), or gone: the directory goes either way.
            }
        }
        await _dirs.DisposeAsync();
    }
}
