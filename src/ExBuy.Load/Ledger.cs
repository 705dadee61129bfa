using System.Collections.Concurrent;

namespace ExBuy.Load;

/// <summary>
/// Successful stock effects per product, kept lock-free (one slot per tracked product): what the run ordered, reserved and
/// got back by cancelling, and the writes whose outcome is unknown (timeouts, transport errors, 5xx).
/// </summary>
public sealed class Ledger
{
    private readonly Dictionary<long, int> _index;
    private readonly long[] _ordered, _reserved, _cancelled, _unknown;
    public readonly ConcurrentQueue<string> Violations = new();
    public long OrdersPlaced;          // orders the target answered 201 for (bulk: every order)
    public long OrdersPlacedTotal;     // the same, warm-up included (never reset)
    public long UnknownWrites;

    public Ledger(IEnumerable<long> productIds)
    {
        ProductIds = productIds.Distinct().ToArray();
        _index = new Dictionary<long, int>(ProductIds.Count);
        for (var i = 0; i < ProductIds.Count; i++) _index[ProductIds[i]] = i;
        _ordered = new long[ProductIds.Count];
        _reserved = new long[ProductIds.Count];
        _cancelled = new long[ProductIds.Count];
        _unknown = new long[ProductIds.Count];
    }

    public IReadOnlyList<long> ProductIds { get; }
    public bool Tracks(long productId) => _index.ContainsKey(productId);

    public void Ordered(long product, long quantity) { if (_index.TryGetValue(product, out var i)) Interlocked.Add(ref _ordered[i], quantity); }
    public void Reserved(long product, long quantity) { if (_index.TryGetValue(product, out var i)) Interlocked.Add(ref _reserved[i], quantity); }
    public void Cancelled(long product, long quantity) { if (_index.TryGetValue(product, out var i)) Interlocked.Add(ref _cancelled[i], quantity); }
    public void Unknown(long product) { if (_index.TryGetValue(product, out var i)) Interlocked.Increment(ref _unknown[i]); }
    public void Violation(string what) { if (Violations.Count < 1000) Violations.Enqueue(what); }

    /// <summary>After warm-up (runs without --shard or --start-at): effects start from zero; unknown marks stay (such a write may still land).</summary>
    public void ResetEffects()
    {
        Array.Clear(_ordered); Array.Clear(_reserved); Array.Clear(_cancelled);
        Interlocked.Exchange(ref OrdersPlaced, 0);
        while (Violations.TryDequeue(out _)) { }
    }

    public (long Ordered, long Reserved, long Cancelled, long Unknown) Of(long product)
    {
        var i = _index[product];
        return (Interlocked.Read(ref _ordered[i]), Interlocked.Read(ref _reserved[i]), Interlocked.Read(ref _cancelled[i]), Interlocked.Read(ref _unknown[i]));
    }
}

public sealed record ProductCheck(long ProductId, long Start, long? End, long Ordered, long Reserved, long Cancelled, long Unknown, string State, string? Detail);

/// <summary>The correctness verdict of a run with writes.</summary>
/// <remarks><see cref="Deferred"/>: a shard's report: the stock of shared products is verified by `merge` of every shard, so only what one
/// shard can know alone is checked here (negative stock, order totals); <see cref="Verified"/> is then 0.</remarks>
public sealed record CorrectnessReport(bool Checked, bool Ok, int Products, int Verified, int Unverifiable, IReadOnlyList<ProductCheck> Violations,
    IReadOnlyList<ProductCheck> UnverifiableProducts, IReadOnlyList<string> OtherViolations, string Note, bool Deferred = false)
{
    public static readonly string ExclusivityNote = "the check is valid only when nothing else writes to the target during the run";

    public static CorrectnessReport NotChecked(string why) => new(false, true, 0, 0, 0, [], [], [], why);

    /// <summary>
    /// A shard's verdict: the other shards write to the same products, so start − ordered − reserved + cancelled = end cannot hold for
    /// one shard's ledger; only a negative stock and the ledger's own violations (order totals, negative remaining_stock) are reported here.
    /// </summary>
    public static CorrectnessReport DeferredToMerge(Ledger ledger, IReadOnlyDictionary<long, long> start, IReadOnlyDictionary<long, long?> end, string note)
    {
        var violations = new List<ProductCheck>();
        foreach (var id in ledger.ProductIds)
        {
            if (!start.TryGetValue(id, out var s)) continue;
            var (o, r, c, u) = ledger.Of(id);
            if (end.TryGetValue(id, out var e) && e is < 0) violations.Add(new(id, s, e, o, r, c, u, "violation", $"stock is negative ({e})"));
        }
        var others = ledger.Violations.ToList();
        return new CorrectnessReport(true, violations.Count == 0 && others.Count == 0, start.Count, 0, 0, violations, [], others, note, Deferred: true);
    }

    public static CorrectnessReport Evaluate(Ledger ledger, IReadOnlyDictionary<long, long> start, IReadOnlyDictionary<long, long?> end)
    {
        var violations = new List<ProductCheck>();
        var unverifiable = new List<ProductCheck>();
        var verified = 0;
        foreach (var id in ledger.ProductIds)
        {
            if (!start.TryGetValue(id, out var s)) continue;
            var (o, r, c, u) = ledger.Of(id);
            end.TryGetValue(id, out var e);
            if (e is < 0)
            {
                violations.Add(new(id, s, e, o, r, c, u, "violation", $"stock is negative ({e})"));
                continue;
            }
            if (u > 0)
            {
                unverifiable.Add(new(id, s, e, o, r, c, u, "unverifiable", $"{u} write(s) with unknown outcome"));
                continue;
            }
            if (e is null)
            {
                unverifiable.Add(new(id, s, e, o, r, c, u, "unverifiable", "could not read its stock after the run"));
                continue;
            }
            var expected = s - o - r + c;
            if (expected != e)
            {
                var diff = e.Value - expected;
                violations.Add(new(id, s, e, o, r, c, u, "violation",
                    $"expected {s} - {o} - {r} + {c} = {expected}, found {e} ({(diff < 0 ? $"{-diff} unit(s) lost" : $"{diff} unit(s) invented")})"));
            }
            else verified++;
        }
        var others = ledger.Violations.ToList();
        return new CorrectnessReport(true, violations.Count == 0 && others.Count == 0, start.Count, verified, unverifiable.Count, violations, unverifiable, others, ExclusivityNote);
    }
}
