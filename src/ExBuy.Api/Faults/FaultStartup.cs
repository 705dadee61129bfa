using ExBuy.Api.Observability;

namespace ExBuy.Api.Faults;

/// <summary>Start-up checks and lines of fault injection, once the endpoints are mapped.</summary>
public static class FaultStartup
{
    /// <summary>
    /// Each FAULT_ROUTES entry must name at least one endpoint (a typo would otherwise inject nothing, silently); says
    /// which rules and switches are on. Returns false after one line on stderr naming the variable.
    /// </summary>
    public static bool CheckRoutes(IServiceProvider services)
    {
        var options = services.GetRequiredService<FaultOptions>();
        var routes = services.GetRequiredService<FaultRoutes>();
        foreach (var route in options.Rules.Select(r => r.Route).OfType<string>())
        {
            if (routes.Check(route) is { } problem)
            {
                Console.Error.WriteLine($"FAULT_ROUTES: {problem}");
                return false;
            }
        }
        foreach (var rule in options.Rules)
        {
            StartupLines.Info(services, $"Fault rule from the environment: {Describe(rule)}.");
        }
        if (options.AdminEnabled)
        {
            StartupLines.Info(services, "Fault admin API on: GET|PUT|DELETE /api/admin/faults with Authorization: Bearer <ADMIN_TOKEN>.");
        }
        return true;
    }

    public static string Describe(FaultRule rule)
    {
        var parts = new List<string>(3);
        if (rule.Delay is { } d)
        {
            parts.Add($"delay {FaultValues.Format(d)}{Pct(rule.DelayPercent)}");
        }
        if (rule.DbDelay is { } db)
        {
            parts.Add($"db_delay {FaultValues.Format(db)}{Pct(rule.DbDelayPercent)}");
        }
        if (rule.ErrorStatus is { } e)
        {
            parts.Add($"error {e}{Pct(rule.ErrorPercent)}");
        }
        return $"{string.Join(", ", parts)} on {rule.Route ?? "every /api route"}";

        static string Pct(double p) => p >= 100 ? "" : $" at {p.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)}%";
    }
}
