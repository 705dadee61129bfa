using System.Globalization;

namespace ExBuy.Api.Faults;

/// <summary>
/// One fault rule: where it applies and what it injects. The same model serves the per-process rules (environment), the
/// per-request rule (X-Fault-* headers) and the rules set at run time (<c>/api/admin/faults</c>).
/// <list type="bullet">
/// <item><see cref="Route"/>: null = every <c>/api/*</c> route; a route template as in the endpoint table
/// (<c>/api/products/{id}</c>; constraints such as <c>{id:long:min(1)}</c> are ignored when matching); or a prefix
/// ending in <c>*</c> (<c>/api/orders*</c>).</item>
/// <item><see cref="Delay"/>: application delay before the handler; <see cref="DbDelay"/>: delay inside the database on
/// the request's pooled connection; <see cref="ErrorStatus"/>: 400..599 answered without running the handler.</item>
/// <item>Each kind with its percentage (0..100, default 100) and the rule with an optional expiry.</item>
/// <item><see cref="Source"/>: where it came from (<c>environment</c>, <c>admin</c>, <c>header</c>), shown by GET /api/admin/faults.</item>
/// </list>
/// </summary>
public sealed record FaultRule(
    string? Route,
    TimeSpan? Delay,
    double DelayPercent,
    TimeSpan? DbDelay,
    double DbDelayPercent,
    int? ErrorStatus,
    double ErrorPercent,
    DateTimeOffset? Expires = null,
    string Source = FaultRule.FromEnvironment)
{
    public const string FromEnvironment = "environment";
    public const string FromAdmin = "admin";
    public const string FromHeaders = "header";

    public bool IsEmpty => Delay is null && DbDelay is null && ErrorStatus is null;

    public bool IsLive(DateTimeOffset now) => Expires is null || now < Expires;

    /// <summary>Whether the rule applies to a request whose route template (normalised) is <paramref name="route"/>.</summary>
    public bool Matches(string route)
    {
        if (Route is null)
        {
            return true;
        }
        return Route.EndsWith('*')
            ? route.StartsWith(Route.AsSpan(0, Route.Length - 1), StringComparison.OrdinalIgnoreCase)
            : string.Equals(route, Route, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// A route template as the endpoint table writes it: constraints and defaults dropped
    /// (<c>/api/products/{id:long:min(1)}</c> → <c>/api/products/{id}</c>), no trailing slash.
    /// </summary>
    public static string NormaliseTemplate(string template)
    {
        if (template.Contains(':') || template.Contains('='))
        {
            var sb = new System.Text.StringBuilder(template.Length);
            var depth = 0;
            var skipping = false;
            foreach (var c in template)
            {
                if (c == '{')
                {
                    depth++;
                    skipping = false;
                }
                else if (c == '}')
                {
                    depth--;
                    skipping = false;
                }
                else if (depth > 0 && (c == ':' || c == '=' || c == '?'))
                {
                    skipping = true;
                }
                if (!skipping || c == '}')
                {
                    sb.Append(c);
                }
            }
            template = sb.ToString();
        }
        return template.Length > 1 && template.EndsWith('/') ? template[..^1] : template;
    }
}

/// <summary>Parsing shared by the environment and the headers: durations, percentages, statuses.</summary>
public static class FaultValues
{
    /// <summary><c>250ms</c>, <c>2s</c>, <c>1.5s</c> or plain milliseconds (<c>100</c>); never negative.</summary>
    public static bool TryParseDuration(string? raw, out TimeSpan value)
    {
        value = default;
        if (string.IsNullOrWhiteSpace(raw))
        {
            return false;
        }
        var s = raw.Trim();
        double factor = 1;
        if (s.EndsWith("ms", StringComparison.OrdinalIgnoreCase))
        {
            s = s[..^2];
        }
        else if (s.EndsWith('s') || s.EndsWith('S'))
        {
            s = s[..^1];
            factor = 1000;
        }
        if (!double.TryParse(s.Trim(), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number)
            || double.IsNaN(number) || double.IsInfinity(number) || number * factor > TimeSpan.MaxValue.TotalMilliseconds / 2)
        {
            return false;
        }
        value = TimeSpan.FromMilliseconds(number * factor);
        return true;
    }

    public static bool TryParsePercent(string? raw, out double value) =>
        double.TryParse(raw?.Trim(), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out value)
        && value is >= 0 and <= 100;

    public static bool TryParseStatus(string? raw, out int value) =>
        int.TryParse(raw?.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out value) && value is >= 400 and <= 599;

    /// <summary>A duration as X-Fault writes it: <c>250ms</c>, <c>1.5ms</c>.</summary>
    public static string Format(TimeSpan value) =>
        value.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture) + "ms";
}
