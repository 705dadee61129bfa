using System.ComponentModel;
using System.Globalization;
using System.Text.RegularExpressions;
using Spectre.Console.Cli;

namespace ExBuy.Load;

/// <summary>The options of `exbuy-load run`, as typed (strings: every one is validated by <see cref="Options.Validate"/>).</summary>
public class RunSettings : CommandSettings
{
    [CommandOption("--scenario <NAME>")] [Description("scenario of the scenarios file (mixed, read-heavy, write-heavy, read-only, contention, optimize)")]
    public string? Scenario { get; set; }
    [CommandOption("--base-url <URL>")] [Description("target; BASE_URL as fallback; default http://127.0.0.1:8000")]
    public string? BaseUrl { get; set; }
    [CommandOption("--duration <DURATION>")] [Description("hold time, e.g. 60s, 2m, 1m30s (default 30s)")]
    public string? Duration { get; set; }
    [CommandOption("--vus <N>")] [Description("virtual users of the closed model (default 10)")]
    public string? Vus { get; set; }
    [CommandOption("--ramp-up <DURATION>")] [Description("ramp 0 → vus (or 0 → rate) before the hold (default 0s)")]
    public string? RampUp { get; set; }
    [CommandOption("--ramp-down <DURATION>")] [Description("ramp vus (or rate) → 0 after the hold (default 0s)")]
    public string? RampDown { get; set; }
    [CommandOption("--warmup <DURATION>")] [Description("warm-up before the measured run, excluded from results (default 5s)")]
    public string? Warmup { get; set; }
    [CommandOption("--seed <N>")] [Description("seed of every random draw (default: drawn and recorded)")]
    public string? Seed { get; set; }
    [CommandOption("--lock-type <TYPE>")] [Description("optimistic | pessimistic | versioned | random (overrides the scenario's; LOCK_TYPE as fallback)")]
    public string? LockType { get; set; }
    [CommandOption("--rate <N>")] [Description("open model: requests per second at a constant arrival rate")]
    public string? Rate { get; set; }
    [CommandOption("--max-vus <N>")] [Description("open model: in-flight cap (default 200); arrivals past it are dropped")]
    public string? MaxVus { get; set; }
    [CommandOption("--threshold <EXPR>")] [Description("p95<200ms, errors<1%, detail:p99<50ms, rps>100 (repeatable)")]
    public string[]? Threshold { get; set; }
    [CommandOption("--scenarios <FILE>")] [Description("scenarios file (default: load/scenarios.json found upwards from the working directory, then from the executable)")]
    public string? ScenariosFile { get; set; }
    [CommandOption("--out <DIR>")] [Description("results directory (default ./results)")]
    public string? Out { get; set; }
    [CommandOption("--timeout <DURATION>")] [Description("per-request timeout (default 30s)")]
    public string? Timeout { get; set; }
    [CommandOption("--metrics-listen <HOST:PORT>")] [Description("serve the runner's own Prometheus metrics (exbuy_load_*) on http://HOST:PORT/metrics during the run, e.g. 127.0.0.1:9464 (off by default; a bare port listens on 127.0.0.1)")]
    public string? MetricsListen { get; set; }
    [CommandOption("--faults <FILE>")] [Description("fault timeline (JSON: steps, or a seeded random timeline) applied to the target through its admin API during the measured phase; see load/faults/")]
    public string? Faults { get; set; }
    [CommandOption("--label <TEXT>")] [Description("a name for this run (e.g. the server variant), kept in the result and shown by compare")]
    public string? Label { get; set; }
    [CommandOption("--admin-token <TOKEN>")] [Description("bearer token of the target's admin API (with --faults); ADMIN_TOKEN as fallback, the variable the server reads")]
    public string? AdminToken { get; set; }
    [CommandOption("--shard <I/N>")] [Description("run shard I of N generators (1 <= I <= N <= 64) of one run: --rate divided by N; --vus and --max-vus split evenly (the first V mod N shards get one more; at least one max-vus slot each); the same --seed in every shard (required); its correctness verdict is deferred to `merge` of the N results")]
    public string? Shard { get; set; }
    [CommandOption("--start-at <TIME>")] [Description("set up at once, then wait until TIME (Unix seconds or an ISO-8601 UTC instant, e.g. 2026-01-01T12:00:00Z) to start the warm-up; set-up ending after TIME is an error (exit 1)")]
    public string? StartAt { get; set; }
}

/// <summary>
/// `--shard i/n`: this process's share of a run driven by n generators. VUs (closed model) or VU slots (open model) are numbered
/// across the shards: shard i's first is <see cref="VuOffset"/>, so the shards together draw the streams one process would.
/// </summary>
public sealed record ShardPlan(int Index, int Count, int VuOffset, int? TotalVus, double? TotalRate, int? TotalMaxVus)
{
    public override string ToString() => $"{Index}/{Count}";

    /// <summary>Shard <paramref name="i"/>'s part of <paramref name="total"/> split over <paramref name="n"/>: the first total mod n get one more.</summary>
    public static int Share(int total, int i, int n) => total / n + (i <= total % n ? 1 : 0);
}

public sealed class OptionException(string message) : Exception(message);

/// <summary>Validated options of a run.</summary>
public sealed record RunOptions
{
    public required string ScenarioName { get; init; }
    public required ScenarioFile File { get; init; }
    public ScenarioDef Scenario => File.Scenarios[ScenarioName];
    public required Uri BaseUrl { get; init; }
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(30);
    public int Vus { get; init; } = 10;
    public TimeSpan RampUp { get; init; }
    public TimeSpan RampDown { get; init; }
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(5);
    public long Seed { get; init; }
    public bool SeedGiven { get; init; }
    public required string LockType { get; init; }
    public double? Rate { get; init; }
    public int MaxVus { get; init; } = 200;
    public IReadOnlyList<Threshold> Thresholds { get; init; } = [];
    public required string OutDir { get; init; }
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>--metrics-listen, normalized host:port; null = off.</summary>
    public string? MetricsListen { get; init; }
    /// <summary>--faults, read and checked (a random timeline already generated); null = off.</summary>
    public FaultTimeline? Faults { get; init; }
    /// <summary>--label: a name for the run (compare-servers passes the variant's).</summary>
    public string? Label { get; init; }
    /// <summary>--admin-token or ADMIN_TOKEN; set whenever <see cref="Faults"/> is.</summary>
    public string? AdminToken { get; init; }
    /// <summary>--shard; null = the whole run in this process. <see cref="Vus"/>, <see cref="Rate"/> and <see cref="MaxVus"/> are this shard's share.</summary>
    public ShardPlan? Shard { get; init; }
    /// <summary>--start-at: the warm-up starts at this instant, after set-up.</summary>
    public DateTimeOffset? StartAt { get; init; }
    /// <summary>The start stock is read at set-up (before the warm-up) and the ledger counts from there: with --shard or --start-at,
    /// so that every shard's snapshot precedes every shard's writes.</summary>
    public bool SnapshotAtSetUp => Shard is not null || StartAt is not null;
    /// <summary>The measured phase: ramp-up + hold + ramp-down (the time axis of the series and of fault timelines).</summary>
    public TimeSpan MeasuredLength => RampUp + Duration + RampDown;
    /// <summary>Extra request headers (tests use them to talk to fakes); not an option.</summary>
    public bool OpenModel => Rate is not null;
}

public static partial class Options
{
    public static readonly string[] LockTypes = ["optimistic", "pessimistic", "versioned", "random"];

    [GeneratedRegex(@"^(?:(\d+(?:\.\d+)?)(ms|us|µs|s|m|h))+$")]
    private static partial Regex DurationRegex();
    [GeneratedRegex(@"(\d+(?:\.\d+)?)(ms|us|µs|s|m|h)")]
    private static partial Regex DurationPartRegex();

    /// <summary>60s, 500ms, 2m, 1m30s, 1h; a bare number is seconds.</summary>
    public static bool TryParseDuration(string? text, out TimeSpan value)
    {
        value = default;
        if (string.IsNullOrWhiteSpace(text)) return false;
        text = text.Trim();
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var secs))
        {
            if (secs < 0 || double.IsNaN(secs) || secs > 86400 * 7) return false;
            value = TimeSpan.FromSeconds(secs);
            return true;
        }
        if (!DurationRegex().IsMatch(text)) return false;
        double ms = 0;
        foreach (Match m in DurationPartRegex().Matches(text))
        {
            var n = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            ms += m.Groups[2].Value switch { "us" or "µs" => n / 1000, "ms" => n, "s" => n * 1000, "m" => n * 60_000, _ => n * 3_600_000 };
        }
        if (ms > 86400_000.0 * 7) return false;
        value = TimeSpan.FromMilliseconds(ms);
        return true;
    }

    /// <summary>Unix seconds (fractions allowed) or an ISO-8601 instant with Z or an offset (a local time without one is refused: ambiguous across machines).</summary>
    public static DateTimeOffset? ParseInstant(string text)
    {
        text = text.Trim();
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var unix))
            return unix is > 0 and < 253_402_300_799 ? DateTimeOffset.FromUnixTimeMilliseconds((long)Math.Round(unix * 1000)) : null;
        if (!Regex.IsMatch(text, @"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$", RegexOptions.IgnoreCase)) return null;
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal, out var t) ? t.ToUniversalTime() : null;
    }

    public static string FormatDuration(TimeSpan t) =>
        t.TotalSeconds >= 1 && t.Milliseconds == 0 ? $"{(long)t.TotalSeconds}s" : $"{t.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture)}ms";

    /// <summary>Checks every option; the <see cref="OptionException"/> message names the option.</summary>
    public static RunOptions Validate(RunSettings s, string workingDirectory, Func<string, string?> env, string? executableDirectory = null)
    {
        TimeSpan Dur(string? text, string option, TimeSpan dflt, bool allowZero)
        {
            if (text is null) return dflt;
            if (!TryParseDuration(text, out var d)) throw new OptionException($"{option}: '{text}' is not a duration (examples: 60s, 500ms, 2m, 1m30s)");
            if (!allowZero && d <= TimeSpan.Zero) throw new OptionException($"{option}: must be greater than 0 (got '{text}')");
            return d;
        }
        int Int(string? text, string option, int dflt, int min, int max)
        {
            if (text is null) return dflt;
            if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) || v < min || v > max)
                throw new OptionException($"{option}: '{text}' must be an integer in {min}..{max}");
            return v;
        }

        var fileOpt = s.ScenariosFile;
        string path;
        if (fileOpt is not null)
        {
            path = System.IO.Path.GetFullPath(fileOpt, workingDirectory);
            if (!File.Exists(path)) throw new OptionException($"--scenarios: file not found: {path}");
        }
        else
        {
            path = ScenarioFile.Find(workingDirectory, executableDirectory ?? AppContext.BaseDirectory)
                   ?? throw new OptionException("--scenarios: load/scenarios.json not found upwards from the working directory nor from the executable; pass --scenarios FILE");
        }
        ScenarioFile file;
        try { file = ScenarioFile.Load(path); }
        catch (FormatException e) { throw new OptionException($"--scenarios: {e.Message}"); }

        if (string.IsNullOrWhiteSpace(s.Scenario)) throw new OptionException($"--scenario: required; one of {string.Join(", ", file.Scenarios.Keys)}");
        if (!file.Scenarios.ContainsKey(s.Scenario)) throw new OptionException($"--scenario: unknown scenario '{s.Scenario}'; one of {string.Join(", ", file.Scenarios.Keys)}");
        var scenario = file.Scenarios[s.Scenario];

        var urlText = s.BaseUrl ?? env("BASE_URL") ?? "http://127.0.0.1:8000";
        var urlOption = s.BaseUrl is not null ? "--base-url" : env("BASE_URL") is not null ? "BASE_URL" : "--base-url";
        if (!Uri.TryCreate(urlText.TrimEnd('/'), UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https") || !string.IsNullOrEmpty(url.Query))
            throw new OptionException($"{urlOption}: '{urlText}' is not an absolute http(s) URL without a query");

        var duration = Dur(s.Duration, "--duration", TimeSpan.FromSeconds(30), allowZero: false);
        var vus = Int(s.Vus, "--vus", 10, 1, 10_000);
        var rampUp = Dur(s.RampUp, "--ramp-up", TimeSpan.Zero, allowZero: true);
        var rampDown = Dur(s.RampDown, "--ramp-down", TimeSpan.Zero, allowZero: true);
        var warmup = Dur(s.Warmup, "--warmup", TimeSpan.FromSeconds(5), allowZero: true);
        var timeout = Dur(s.Timeout, "--timeout", TimeSpan.FromSeconds(30), allowZero: false);
        if (timeout > TimeSpan.FromSeconds(60)) throw new OptionException($"--timeout: at most 60s (the histograms' range), got '{s.Timeout}'");

        long seed; var seedGiven = s.Seed is not null;
        if (s.Seed is null) seed = Random.Shared.NextInt64(1, int.MaxValue);
        else if (!long.TryParse(s.Seed, NumberStyles.Integer, CultureInfo.InvariantCulture, out seed)) throw new OptionException($"--seed: '{s.Seed}' is not an integer");

        var lockText = s.LockType ?? env("LOCK_TYPE");
        var lockOption = s.LockType is not null ? "--lock-type" : "LOCK_TYPE";
        if (lockText is not null && !LockTypes.Contains(lockText)) throw new OptionException($"{lockOption}: '{lockText}' is not one of {string.Join(", ", LockTypes)}");

        double? rate = null;
        if (s.Rate is not null)
        {
            if (!double.TryParse(s.Rate, NumberStyles.Float, CultureInfo.InvariantCulture, out var r) || !(r > 0) || r > 1_000_000)
                throw new OptionException($"--rate: '{s.Rate}' must be a number of requests per second > 0");
            rate = r;
            if (s.Vus is not null) throw new OptionException("--vus: not with --rate (the open model's cap is --max-vus)");
        }
        else if (s.MaxVus is not null) throw new OptionException("--max-vus: only with --rate (open model)");
        var maxVus = Int(s.MaxVus, "--max-vus", 200, 1, 10_000);

        var thresholds = new List<Threshold>();
        foreach (var t in s.Threshold ?? [])
        {
            try { thresholds.Add(Threshold.ParseCli(t)); }
            catch (FormatException e) { throw new OptionException($"--threshold: '{t}': {e.Message}"); }
        }
        foreach (var (metric, exprs) in scenario.Thresholds)
            foreach (var e in exprs)
            {
                try { thresholds.Add(Threshold.ParseK6(metric, e)); }
                catch (FormatException ex) { throw new OptionException($"--scenarios: scenarios.{scenario.Name}.thresholds.{metric} '{e}': {ex.Message}"); }
            }

        foreach (var t in thresholds.Where(t => t.Operation is not null))
        {
            var opName = t.Operation!.Split('[')[0];
            if (!scenario.Weights.Any(w => w.Key == opName))
                throw new OptionException($"{(t.Source == "cli" ? "--threshold" : "--scenarios")}: '{t.Text}': operation '{opName}' is not in scenario {scenario.Name} ({string.Join(", ", scenario.Weights.Select(w => w.Key))})");
        }

        var outDir = System.IO.Path.GetFullPath(s.Out ?? "results", workingDirectory);
        if (File.Exists(outDir)) throw new OptionException($"--out: '{outDir}' is a file, not a directory");
        for (var parent = Directory.GetParent(outDir); parent is not null && !parent.Exists; parent = parent.Parent)
            if (File.Exists(parent.FullName)) throw new OptionException($"--out: '{parent.FullName}' is a file, not a directory");

        FaultTimeline? faults = null;
        string? adminToken = null;
        if (s.Faults is not null)
        {
            var faultsPath = System.IO.Path.GetFullPath(s.Faults, workingDirectory);
            if (!File.Exists(faultsPath)) throw new OptionException($"--faults: file not found: {faultsPath}");
            try { faults = FaultTimeline.Load(faultsPath, rampUp + duration + rampDown, seed); }
            catch (FormatException e) { throw new OptionException($"--faults: {faultsPath}: {e.Message}"); }
            adminToken = string.IsNullOrWhiteSpace(s.AdminToken) ? env("ADMIN_TOKEN") : s.AdminToken;
            if (string.IsNullOrWhiteSpace(adminToken))
                throw new OptionException("--admin-token: required with --faults (or export ADMIN_TOKEN, the variable the server reads)");
            adminToken = adminToken.Trim();
        }
        else if (s.AdminToken is not null) throw new OptionException("--admin-token: only with --faults");

        ShardPlan? shard = null;
        if (s.Shard is not null)
        {
            var m = Regex.Match(s.Shard.Trim(), @"^(\d{1,3})/(\d{1,3})$");
            int i = 0, n = 0;
            if (!m.Success || !int.TryParse(m.Groups[1].Value, CultureInfo.InvariantCulture, out i) || !int.TryParse(m.Groups[2].Value, CultureInfo.InvariantCulture, out n)
                || i < 1 || i > n || n > 64)
                throw new OptionException($"--shard: '{s.Shard}' must be i/n with 1 <= i <= n <= 64 (e.g. 1/2 and 2/2 for two generators)");
            if (!seedGiven) throw new OptionException("--shard: give every shard the same --seed (the products every shard samples and the VUs' random streams derive from it)");
            if (rate is null)
            {
                var mine = ShardPlan.Share(vus, i, n);
                if (mine == 0)
                    throw new OptionException($"--shard: shard {i}/{n} would get 0 of the {vus} VUs (each shard needs at least one): lower n to at most {vus} or raise --vus");
                shard = new ShardPlan(i, n, Enumerable.Range(1, i - 1).Sum(k => ShardPlan.Share(vus, k, n)), vus, null, null);
                vus = mine;
            }
            else
            {
                // Every shard keeps at least one slot, so with --max-vus below n the shards together allow n in flight.
                int Slots(int k) => Math.Max(1, ShardPlan.Share(maxVus, k, n));
                shard = new ShardPlan(i, n, Enumerable.Range(1, i - 1).Sum(Slots), null, rate, maxVus);
                rate /= n;
                maxVus = Slots(i);
            }
        }
        DateTimeOffset? startAt = null;
        if (s.StartAt is not null)
        {
            startAt = ParseInstant(s.StartAt)
                ?? throw new OptionException($"--start-at: '{s.StartAt}' is not a Unix time in seconds (e.g. 1767268800) nor an ISO-8601 UTC instant (e.g. 2026-01-01T12:00:00Z)");
            if (startAt > DateTimeOffset.UtcNow.AddDays(1)) throw new OptionException($"--start-at: '{s.StartAt}' is more than 24 h ahead ({startAt:yyyy-MM-dd'T'HH:mm:ss'Z'})");
        }

        return new RunOptions
        {
            Shard = shard, StartAt = startAt,
            ScenarioName = scenario.Name, File = file, BaseUrl = url, Duration = duration, Vus = vus, RampUp = rampUp, RampDown = rampDown,
            Warmup = warmup, Seed = seed, SeedGiven = seedGiven, LockType = lockText ?? scenario.LockType, Rate = rate, MaxVus = maxVus,
            Thresholds = thresholds, OutDir = outDir, Timeout = timeout,
            MetricsListen = s.MetricsListen is null ? null : LoadMetrics.ParseListen(s.MetricsListen),
            Faults = faults, AdminToken = adminToken,
            Label = s.Label is null ? null : s.Label.Trim().Length is > 0 and <= 100 ? s.Label.Trim() : throw new OptionException($"--label: '{s.Label}' must be 1..100 characters"),
        };
    }
}
