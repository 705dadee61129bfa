using ExBuy.Api.Data;

namespace ExBuy.Api.Faults;

/// <summary>
/// Fault injection settings, read once at start-up: <c>FAULTS</c> (on|off, default on: off ignores the X-Fault-*
/// headers), <c>FAULT_MAX_DELAY</c> (cap of every delay, default 30 s), <c>FAULT_SEED</c> (the random draws' seed:
/// same seed + same request sequence → same faults) and the per-process rule <c>FAULT_DELAY</c>,
/// <c>FAULT_DELAY_PERCENT</c>, <c>FAULT_DB_DELAY</c>, <c>FAULT_DB_DELAY_PERCENT</c>, <c>FAULT_ERROR</c>,
/// <c>FAULT_ERROR_PERCENT</c>, limited to <c>FAULT_ROUTES</c> (comma-separated route templates or prefixes ending in
/// <c>*</c>; unset = every /api route). <c>ADMIN_TOKEN</c> turns on the runtime admin API (<c>/api/admin/faults</c>,
/// bearer token; unset = those routes answer 404); only its SHA-256 is kept. A bad value is a
/// <see cref="ConfigurationError"/> naming the variable.
/// </summary>
public sealed class FaultOptions
{
    public static readonly TimeSpan DefaultMaxDelay = TimeSpan.FromSeconds(30);

    /// <summary>Whether X-Fault-* headers are honoured (FAULTS=on).</summary>
    public bool HeadersEnabled { get; init; } = true;

    public TimeSpan MaxDelay { get; init; } = DefaultMaxDelay;

    public int? Seed { get; init; }

    /// <summary>The environment's rules: one per FAULT_ROUTES entry (or one for every route), empty when none is set.</summary>
    public IReadOnlyList<FaultRule> Rules { get; init; } = [];

    /// <summary>SHA-256 of ADMIN_TOKEN (compared in constant time), null when the admin API is off.</summary>
    public byte[]? AdminTokenHash { get; init; }

    public bool AdminEnabled => AdminTokenHash is not null;

    /// <summary>The middleware is registered only when there is something to do: headers honoured, an env rule, or rules may come at run time.</summary>
    public bool Active => HeadersEnabled || Rules.Count > 0 || AdminEnabled;

    public static FaultOptions FromConfiguration(IConfiguration c)
    {
        var enabled = DatabaseOptions.ParseBool(c, "FAULTS", true);
        var max = Duration(c, "FAULT_MAX_DELAY") ?? DefaultMaxDelay;
        if (max <= TimeSpan.Zero)
        {
            throw new ConfigurationError($"FAULT_MAX_DELAY='{c["FAULT_MAX_DELAY"]}' must be above 0 (e.g. 30s).");
        }
        int? seed = string.IsNullOrWhiteSpace(c["FAULT_SEED"]) ? null : DatabaseOptions.ParseInt(c, "FAULT_SEED", 0);
        var delay = Capped(c, "FAULT_DELAY", max);
        var dbDelay = Capped(c, "FAULT_DB_DELAY", max);
        int? error = null;
        if (!string.IsNullOrWhiteSpace(c["FAULT_ERROR"]))
        {
            error = FaultValues.TryParseStatus(c["FAULT_ERROR"], out var status)
                ? status
                : throw new ConfigurationError($"FAULT_ERROR='{c["FAULT_ERROR"]}' is not a status: use 400..599.");
        }
        var rule = new FaultRule(null, delay, Percent(c, "FAULT_DELAY_PERCENT"), dbDelay, Percent(c, "FAULT_DB_DELAY_PERCENT"),
            error, Percent(c, "FAULT_ERROR_PERCENT"));
        var routes = Routes(c);
        IReadOnlyList<FaultRule> rules = rule.IsEmpty
            ? []
            : routes is null ? [rule] : [.. routes.Select(r => rule with { Route = r })];
        var token = c["ADMIN_TOKEN"]?.Trim();
        var tokenHash = string.IsNullOrEmpty(token)
            ? null
            : System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(token));
        return new FaultOptions { HeadersEnabled = enabled, MaxDelay = max, Seed = seed, Rules = rules, AdminTokenHash = tokenHash };
    }

    private static TimeSpan? Duration(IConfiguration c, string key)
    {
        var raw = c[key];
        if (string.IsNullOrWhiteSpace(raw))
        {
            return null;
        }
        return FaultValues.TryParseDuration(raw, out var value)
            ? value
            : throw new ConfigurationError($"{key}='{raw}' is not a duration: use e.g. 250ms, 2s, 1.5s or plain milliseconds.");
    }

    private static TimeSpan? Capped(IConfiguration c, string key, TimeSpan max)
    {
        var value = Duration(c, key);
        return value > max
            ? throw new ConfigurationError($"{key}='{c[key]}' exceeds FAULT_MAX_DELAY ({FaultValues.Format(max)}).")
            : value;
    }

    private static double Percent(IConfiguration c, string key)
    {
        var raw = c[key];
        if (string.IsNullOrWhiteSpace(raw))
        {
            return 100;
        }
        return FaultValues.TryParsePercent(raw, out var value)
            ? value
            : throw new ConfigurationError($"{key}='{raw}' is not a percentage: use 0..100.");
    }

    private static string[]? Routes(IConfiguration c)
    {
        var raw = c["FAULT_ROUTES"];
        if (string.IsNullOrWhiteSpace(raw))
        {
            return null;
        }
        var routes = raw.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var route in routes)
        {
            if (!route.StartsWith('/') || route.IndexOf('*') is var star && star >= 0 && star != route.Length - 1)
            {
                throw new ConfigurationError(
                    $"FAULT_ROUTES='{raw}' has '{route}': use route templates such as /api/products/{{id}} or prefixes such as /api/orders*, comma-separated.");
            }
        }
        return [.. routes.Select(r => r.EndsWith('*') ? r : FaultRule.NormaliseTemplate(r))];
    }
}

/// <summary>
/// The one generator every draw comes from, seeded by FAULT_SEED (a random seed without it). Thread-safe (a lock:
/// draws happen only for a fault with a percentage under 100, so the uncontended lock is off the hot path); a draw is
/// taken only for a percentage strictly between 0 and 100, so the same seed and the same request sequence give the
/// same faults.
/// </summary>
public sealed class FaultRandom(int? seed)
{
    private Random _random = seed is { } s ? new Random(s) : new Random();
    private readonly Lock _gate = new();

    /// <summary>Starts the sequence again from <paramref name="seed"/> (PUT /api/admin/faults/seed).</summary>
    public void Reseed(int seed)
    {
        lock (_gate)
        {
            _random = new Random(seed);
        }
    }

    public bool Chance(double percent)
    {
        if (percent >= 100)
        {
            return true;
        }
        if (percent <= 0)
        {
            return false;
        }
        lock (_gate)
        {
            return _random.NextDouble() * 100 < percent;
        }
    }
}
