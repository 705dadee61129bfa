using System.Diagnostics.Metrics;
using ExBuy.Api.Observability;

namespace ExBuy.Api.Faults;

/// <summary>
/// The active fault rules of this process: the environment's rules at start-up, replaced or cleared at run time by
/// <c>/api/admin/faults</c>. An immutable array swapped atomically: a request reads it once (one volatile read, nothing
/// locked) and sees either the old set or the new one, never a mix.
/// <para>Rules are tried in order and the first live rule whose route pattern matches wins (put a specific route before a
/// catch-all). A rule whose <c>until</c> has passed no longer matches and is dropped from the set by the next request
/// or GET that sees it.</para>
/// <para>Per process by design: with several workers or replicas each has its own set (the admin API answers for the
/// process that received the call; /api/info's worker_pid says which).</para>
/// <para><c>exbuy_fault_rules_active</c> (a gauge of its own meter, named ExBuy, disposed with the set) counts the live
/// rules, so a dashboard shows when a fault was switched on.</para>
/// </summary>
public sealed class FaultRuleSet : IDisposable
{
    private FaultRule[] _rules;
    private readonly Meter _meter = new(ExBuyMetrics.MeterName);

    public FaultRuleSet(FaultOptions options)
    {
        _rules = [.. options.Rules];
        _meter.CreateObservableUpDownCounter("exbuy.fault.rules.active", () => Live(DateTimeOffset.UtcNow).Length, "{rule}",
            "Fault rules in force (environment rules at start-up, then what /api/admin/faults set)");
    }

    public void Dispose() => _meter.Dispose();

    /// <summary>The set as it is now (possibly with lapsed rules not yet dropped).</summary>
    public FaultRule[] Current => Volatile.Read(ref _rules);

    public void Replace(FaultRule[] rules) => Volatile.Write(ref _rules, rules);

    public void Clear() => Replace([]);

    /// <summary>The first live rule matching <paramref name="route"/> (a normalised route template or path), or null.</summary>
    public FaultRule? Match(string route, DateTimeOffset now)
    {
        var rules = Current;
        var lapsed = false;
        FaultRule? found = null;
        foreach (var rule in rules)
        {
            if (!rule.IsLive(now))
            {
                lapsed = true;
                continue;
            }
            if (rule.Matches(route))
            {
                found = rule;
                break;
            }
        }
        if (lapsed)
        {
            DropLapsed(rules, now);
        }
        return found;
    }

    /// <summary>The live rules, after dropping the lapsed ones.</summary>
    public FaultRule[] Live(DateTimeOffset now)
    {
        var rules = Current;
        return Array.Exists(rules, r => !r.IsLive(now)) ? DropLapsed(rules, now) : rules;
    }

    private FaultRule[] DropLapsed(FaultRule[] seen, DateTimeOffset now)
    {
        var live = Array.FindAll(seen, r => r.IsLive(now));
        // Only if nobody replaced the set meanwhile: a PUT between our read and this write wins.
        var before = Interlocked.CompareExchange(ref _rules, live, seen);
        return ReferenceEquals(before, seen) ? live : Array.FindAll(before, r => r.IsLive(now));
    }
}
