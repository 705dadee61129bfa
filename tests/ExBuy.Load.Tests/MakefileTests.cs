using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ExBuy.Load.Tests;

/// <summary>
/// The repository's Makefile, run by the real make against a real ExBuy: EXBUY and LOAD point at the built dlls (no
/// rebuild), databases, results and PostgreSQL state live in temp directories, never in the repository.
/// </summary>
[Collection("runs")]
public partial class MakefileTests(ExBuyProcess exbuy) : IClassFixture<ExBuyProcess>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private static readonly string Root = TestSupport.RepoRoot();

    /// <summary>Variables of the Makefile (and of the app) a developer's environment could hold: unset, so the defaults apply.</summary>
    private static readonly string[] Inherited =
    [
        "MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES", "BASE_URL", "SCENARIO", "MAX_VU", "DURATION", "RAMP_UP", "RAMP_DOWN", "RATE",
        "WARMUP", "ARGS", "RESULTS_DIR", "RESULTS", "LAST", "BENCH_SCENARIOS", "DOCKER", "EXBUY", "LOAD", "K6", "PG_STATE", "COMPOSE",
        "LOCK_TYPE", "ADMIN_TOKEN", "ASPNETCORE_URLS", "SEED_ON_EMPTY",
    ];

    [GeneratedRegex(@"^([a-z0-9][a-z0-9-]*)[ \t]*:(?!=)", RegexOptions.Multiline)]
    private static partial Regex DeclaredTarget();

    [GeneratedRegex(@"^  ([a-z0-9][a-z0-9-]*) {2,}(\S.*)$", RegexOptions.Multiline)]
    private static partial Regex HelpLine();

    /// <summary>Every target the Makefile declares (a rule line `name:` at the start of a line), in file order.</summary>
    private static List<string> Targets() =>
        DeclaredTarget().Matches(File.ReadAllText(Path.Combine(Root, "Makefile"))).Select(m => m.Groups[1].Value).Distinct().ToList();

    private static string ApiCommand => $"dotnet {ExBuyProcess.Dll}";
    private static string LoadCommand => $"dotnet {Path.Combine(AppContext.BaseDirectory, "exbuy-load.dll")}";

    /// <summary>
    /// <c>make -C &lt;repo&gt; args…</c> with the built dlls as EXBUY and LOAD (unless <paramref name="defaults"/>), the
    /// Makefile's variables and DB_* cleared from the inherited environment, then <paramref name="environment"/> applied.
    /// </summary>
    private static async Task<(int Exit, string Stdout, string Stderr)> Make(IEnumerable<string> args, IReadOnlyDictionary<string, string?>? environment = null,
        bool defaults = false, string? make = null)
    {
        var env = Inherited.Concat(Environment.GetEnvironmentVariables().Keys.Cast<string>().Where(k => k.StartsWith("DB_", StringComparison.Ordinal)))
            .ToDictionary(k => k, _ => (string?)null);
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>()) env[key] = value;
        List<string> all = ["-C", Root, .. args];
        if (!defaults) all.AddRange([$"EXBUY={ApiCommand}", $"LOAD={LoadCommand}"]);
        return await RequiredTool.RunAsync(make ?? RequiredTool.Require("make", "apt-get install -y make"), all, Bound,
            TestContext.Current.CancellationToken, environment: env);
    }

    private static Dictionary<string, string?> Sqlite(string file) => new() { ["DB_ENGINE"] = "sqlite", ["DB_PATH"] = file };

    [Fact]
    public async Task Help_is_the_default_goal_and_lists_every_declared_target_once_with_a_description()
    {
        var (exit, help, stderr) = await Make(["help"]);
        Assert.True(exit == 0, stderr);
        var lines = HelpLine().Matches(help).Select(m => (Name: m.Groups[1].Value, Description: m.Groups[2].Value.Trim())).ToList();
        var declared = Targets();
        Assert.Equal(declared.Order(StringComparer.Ordinal), lines.Select(l => l.Name).Order(StringComparer.Ordinal));
        Assert.Equal(lines.Count, lines.Select(l => l.Name).Distinct().Count());
        Assert.All(lines, l => Assert.True(l.Description.Length > 5, $"{l.Name}: no description"));
        foreach (var target in (string[])["quickstart", "seed-small", "test-mixed", "test-optimize", "k6-mixed", "benchmark", "compare-results",
            "show-history", "check-health", "status", "pg-up", "pg-down", "pg-env", "up-variants", "clean"])
            Assert.Contains(target, declared);

        var (defaultExit, defaultGoal, _) = await Make([]);
        Assert.Equal(0, defaultExit);
        Assert.Equal(help, defaultGoal);

        // Every target is phony (make's database shows .PHONY with its lists expanded).
        var (_, database, _) = await Make(["-pnq", "help"]);
        var phony = database.Split('\n').First(l => l.StartsWith(".PHONY:", StringComparison.Ordinal))[".PHONY:".Length..]
            .Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Empty(declared.Except(phony));
    }

    [Fact]
    public async Task A_dry_run_of_every_target_parses_with_the_defaults()
    {
        foreach (var target in Targets())
        {
            var (exit, stdout, stderr) = await Make(["-n", target], defaults: true);
            Assert.True(exit == 0, $"make -n {target}: {stdout}\n{stderr}");
        }
        var (dockerExit, docker, dockerErr) = await Make(["-n", "quickstart", "DOCKER=1"], defaults: true);
        Assert.True(dockerExit == 0, dockerErr);
        Assert.Contains("up -d --build", docker);

        // The load variables reach exbuy-load as its options (MAX_VU → --vus; RATE → the open model).
        var (_, run, _) = await Make(["-n", "test-mixed", "MAX_VU=300", "DURATION=10m", "RAMP_UP=1m", "RAMP_DOWN=30s"], defaults: true);
        Assert.Contains("run --base-url http://127.0.0.1:8000 --vus 300 --duration 10m --ramp-up 1m --ramp-down 30s", run);
        Assert.Contains("--scenario mixed", run);
        var (_, open, _) = await Make(["-n", "load", "SCENARIO=read-only", "RATE=200", "MAX_VU=80"], defaults: true);
        Assert.Contains("--rate 200 --max-vus 80", open);
        Assert.Contains("--scenario read-only", open);
    }

    [Fact]
    public async Task Check_health_passes_against_a_running_ExBuy_and_fails_with_one_line_against_a_closed_port()
    {
        var (exit, stdout, stderr) = await Make(["check-health", $"BASE_URL={exbuy.BaseUrl}"]);
        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains("answered 200", stdout);

        var closed = $"http://127.0.0.1:{TestSupport.FreePort()}";
        (exit, stdout, stderr) = await Make(["check-health", $"BASE_URL={closed}"]);
        Assert.NotEqual(0, exit);
        Assert.Contains($"check-health: {closed} is not healthy (start it: make run)", stderr);
    }

    [Fact]
    public async Task Migrate_seed_small_and_reset_act_on_the_SQLite_file_DB_PATH_names()
    {
        var file = Path.Combine(TestSupport.TempDir("make-db"), "exbuy.db");
        var (exit, stdout, stderr) = await Make(["migrate"], Sqlite(file));
        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains("applied", stdout);
        Assert.Equal((0, 0, 0), await Counts(file));

        (exit, stdout, stderr) = await Make(["seed-small"], Sqlite(file));
        Assert.True(exit == 0, stdout + stderr);
        Assert.Equal((1000, 5000, 10000), await Counts(file));
        // Run again it replaces the data (the preset's counts, not twice them).
        (exit, _, stderr) = await Make(["seed-small"], Sqlite(file));
        Assert.True(exit == 0, stderr);
        Assert.Equal((1000, 5000, 10000), await Counts(file));

        (exit, stdout, stderr) = await Make(["reset"], Sqlite(file));
        Assert.True(exit == 0, stdout + stderr);
        Assert.Equal((0, 0, 0), await Counts(file));
    }

    private static async Task<(long Products, long Orders, long Reviews)> Counts(string file)
    {
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={file};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        async Task<long> Count(string table)
        {
            await using var command = connection.CreateCommand();
            command.CommandText = $"SELECT count(*) FROM {table}";
            return (long)(await command.ExecuteScalarAsync())!;
        }
        return (await Count("products"), await Count("orders"), await Count("reviews"));
    }

    [Fact]
    public async Task A_short_mixed_run_is_correct_and_benchmark_status_history_and_compare_read_what_was_written()
    {
        var results = TestSupport.TempDir("make-results");
        string[] common = [$"BASE_URL={exbuy.BaseUrl}", $"RESULTS_DIR={results}", "RAMP_UP=0s", "RAMP_DOWN=0s", "WARMUP=1s"];
        var (exit, stdout, stderr) = await Make(["test-mixed", "DURATION=5s", "MAX_VU=4", .. common]);
        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains("correctness: OK", stdout);
        Assert.Contains("verdict: pass", stdout);
        var mixed = Assert.Single(Directory.GetFiles(results, "mixed-*.json"));
        var mixedId = await RunId(mixed);

        // benchmark: warm-up, the scenarios in turn, then compare of exactly those runs.
        (exit, stdout, stderr) = await Make(["benchmark", "BENCH_SCENARIOS=read-only optimize", "DURATION=2s", "MAX_VU=2", .. common]);
        Assert.True(exit == 0, stdout + stderr);
        var readOnlyId = await RunId(Assert.Single(Directory.GetFiles(results, "read-only-*.json")));
        var optimizeId = await RunId(Assert.Single(Directory.GetFiles(results, "optimize-*.json")));
        Assert.Matches($@"\| run id \| {Regex.Escape(readOnlyId)} \| {Regex.Escape(optimizeId)} \|", stdout);

        (exit, stdout, stderr) = await Make(["show-history", $"RESULTS_DIR={results}"]);
        Assert.True(exit == 0, stderr);
        var order = new[] { mixedId, readOnlyId, optimizeId }.Select(id => stdout.IndexOf(id, StringComparison.Ordinal)).ToList();
        Assert.True(order[0] >= 0 && order[0] < order[1] && order[1] < order[2], stdout);
        Assert.Contains("3 run(s) from", stdout);
        (exit, stdout, _) = await Make(["show-history", $"RESULTS_DIR={results}", "LAST=1"]);
        Assert.Equal(0, exit);
        Assert.DoesNotContain(readOnlyId, stdout);
        Assert.Contains(optimizeId, stdout);

        // The last two runs by default, deltas against the older one; or the runs given.
        (exit, stdout, stderr) = await Make(["compare-results", $"RESULTS_DIR={results}"]);
        Assert.True(exit == 0, stdout + stderr);
        Assert.Matches($@"\| run id \| {Regex.Escape(readOnlyId)} \| {Regex.Escape(optimizeId)} \|", stdout);
        (exit, stdout, stderr) = await Make(["compare-results", $"RESULTS_DIR={results}", $"RESULTS={optimizeId} {mixed}"]);
        Assert.True(exit == 0, stdout + stderr);
        Assert.Matches($@"\| run id \| {Regex.Escape(optimizeId)} \| {Regex.Escape(mixedId)} \|", stdout);

        (exit, stdout, stderr) = await Make(["status", $"BASE_URL={exbuy.BaseUrl}"]);
        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains("answered 200", stdout);
        Assert.Contains("db_engine sqlite, server_mode async", stdout);
        Assert.Matches(@"data: +1000 products, \d+ reviews", stdout);
    }

    private static async Task<string> RunId(string resultFile) =>
        JsonNode.Parse(await File.ReadAllTextAsync(resultFile, TestContext.Current.CancellationToken))!["run_id"]!.GetValue<string>();

    [Fact]
    public async Task Docker_and_k6_targets_name_the_missing_tool_and_the_alternative()
    {
        // A PATH with bash (make's SHELL) and nothing else: no docker, no docker-compose, no k6.
        var bin = TestSupport.TempDir("make-path");
        File.CreateSymbolicLink(Path.Combine(bin, "bash"), RequiredTool.Require("bash", "apt-get install -y bash"));
        var make = RequiredTool.Require("make", "apt-get install -y make");
        var path = new Dictionary<string, string?> { ["PATH"] = bin };
        foreach (string[] args in (string[][])[["up"], ["down"], ["logs"], ["ps"], ["up-monitoring"], ["up-variants"], ["quickstart", "DOCKER=1"]])
        {
            var (exit, stdout, stderr) = await Make(args, path, make: make);
            Assert.NotEqual(0, exit);
            Assert.Contains("Docker Compose is not installed (neither 'docker compose' nor 'docker-compose' is on PATH): "
                + "see https://docs.docker.com/compose/install/ — or run without Docker: make quickstart", stderr);
            Assert.DoesNotContain("Docker Compose", stdout);
        }
        foreach (var scenario in (string[])["mixed", "read-heavy", "write-heavy", "read-only", "contention", "optimize"])
        {
            var (exit, _, stderr) = await Make([$"k6-{scenario}"], path, make: make);
            Assert.NotEqual(0, exit);
            Assert.Contains($"k6 is not installed: see https://k6.io/docs/get-started/installation/ — or use make test-{scenario} (exbuy-load)", stderr);
        }
        var (k6Exit, _, k6Err) = await Make(["k6", "SCENARIO=write-heavy"], path, make: make);
        Assert.NotEqual(0, k6Exit);
        Assert.Contains("k6 is not installed", k6Err);
        Assert.Contains("make test-write-heavy", k6Err);
    }

    [Fact]
    public async Task Pg_up_keeps_a_PostgreSQL_between_commands_that_pg_env_points_migrate_at_and_pg_down_removes()
    {
        var pgBin = Environment.GetEnvironmentVariable("PG_BIN") is { Length: > 0 } given ? given
            : Directory.Exists("/usr/lib/postgresql") ? Directory.GetDirectories("/usr/lib/postgresql").Order().Select(d => Path.Combine(d, "bin")).LastOrDefault() : null;
        if (pgBin is null || !File.Exists(Path.Combine(pgBin, "pg_ctl"))) RequiredTool.Missing("PostgreSQL server binaries not found: apt-get install -y postgresql");
        var state = Path.Combine(TestSupport.TempDir("make-pg"), "pgstate");
        var pg = new Dictionary<string, string?> { ["PG_STATE"] = state };
        try
        {
            var (exit, stdout, stderr) = await Make(["pg-up"], pg);
            Assert.True(exit == 0, stdout + stderr);
            Assert.Contains("up on 127.0.0.1:", stdout);
            (exit, stdout, _) = await Make(["pg-up"], pg);
            Assert.Equal(0, exit);
            Assert.Contains("already up", stdout);

            (exit, stdout, stderr) = await Make(["-s", "pg-env"], pg);
            Assert.True(exit == 0, stderr);
            var line = stdout.Trim();
            Assert.StartsWith("export DB_ENGINE=postgres DB_HOST=127.0.0.1 DB_PORT=", line);
            var env = line["export ".Length..].Split(' ').Select(kv => kv.Split('=', 2)).ToDictionary(kv => kv[0], kv => (string?)kv[1].Trim('\''));
            var dataDir = File.ReadAllLines(Path.Combine(state, "cluster.env")).Single(l => l.StartsWith("PG_DIR=", StringComparison.Ordinal))["PG_DIR=".Length..];
            Assert.True(Directory.Exists(dataDir));

            (exit, stdout, stderr) = await Make(["migrate"], env);
            Assert.True(exit == 0, stdout + stderr);
            Assert.Contains("applied", stdout);
            Assert.Contains($"postgres@127.0.0.1:{env["DB_PORT"]}/exbuy", stdout);

            (exit, stdout, stderr) = await Make(["pg-down"], pg);
            Assert.True(exit == 0, stdout + stderr);
            Assert.False(Directory.Exists(dataDir));
            Assert.False(Directory.Exists(state));
            (exit, _, stderr) = await Make(["pg-env"], pg);
            Assert.NotEqual(0, exit);
            Assert.Contains("start one with make pg-up", stderr);
        }
        finally
        {
            await Make(["pg-down"], pg);
        }
    }
}
