namespace ExBuy.Api.Faults;

/// <summary>
/// A rule as /api/admin/faults reads and writes it (contract: Faults and latency): <c>{route, delay_ms, db_delay_ms,
/// error_status, percent, until}</c>, plus the per-kind percentages an environment rule may have
/// (<c>delay_percent</c>, <c>db_delay_percent</c>, <c>error_percent</c>; <c>percent</c> is null when they differ) and
/// where the rule came from (<c>source</c>). A GET's output can be PUT back as it is.
/// </summary>
public sealed record FaultRuleDto(
    string? Route,
    double? DelayMs,
    double? DbDelayMs,
    int? ErrorStatus,
    double? Percent,
    DateTime? Until,
    double? DelayPercent,
    double? DbDelayPercent,
    double? ErrorPercent,
    string Source)
{
    public static FaultRuleDto From(FaultRule r)
    {
        double?[] used =
        [
            r.Delay is null ? null : r.DelayPercent,
            r.DbDelay is null ? null : r.DbDelayPercent,
            r.ErrorStatus is null ? null : r.ErrorPercent,
        ];
        var distinct = used.Where(p => p is not null).Distinct().ToArray();
        return new FaultRuleDto(
            r.Route,
            r.Delay?.TotalMilliseconds,
            r.DbDelay?.TotalMilliseconds,
            r.ErrorStatus,
            distinct.Length == 1 ? distinct[0] : null,
            r.Expires?.UtcDateTime,
            used[0],
            used[1],
            used[2],
            r.Source);
    }
}

/// <summary>PUT /api/admin/faults/seed: restart the fault generator's sequence from this seed.</summary>
public sealed record FaultSeedDto(int? Seed);
