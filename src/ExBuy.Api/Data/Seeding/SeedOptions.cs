namespace ExBuy.Api.Data.Seeding;

/// <summary>How rows reach the database: PostgreSQL binary COPY, or batched multi-row INSERTs (the first version, kept for comparison).</summary>
public enum SeedMethod
{
    Copy,
    Insert,
}

/// <summary>
/// What to load. Counts follow the original's <c>seed_data --products --orders --reviews --batch-size</c>; the same
/// <see cref="RandomSeed"/> gives the same rows on either engine whatever the method or batch size.
/// <see cref="Method"/> null means the engine's fastest (copy on PostgreSQL, insert on SQLite). <see cref="IfEmpty"/>
/// turns the refusal of a non-empty database into "nothing to do", so a deployment can run the same seed on every start.
/// </summary>
public sealed record SeedOptions(
    int Products,
    int Orders,
    int Reviews,
    int BatchSize = SeedOptions.DefaultBatchSize,
    int RandomSeed = SeedOptions.DefaultRandomSeed,
    bool Reset = false,
    SeedMethod? Method = null,
    bool IfEmpty = false)
{
    public const int DefaultBatchSize = 5000;
    public const int DefaultRandomSeed = 42;

    /// <summary>Keeps every derived count (order items ≤ 5 per order) inside int and the in-memory plan inside a few GB.</summary>
    public const int MaxCount = 100_000_000;

    public const int MaxBatchSize = 1_000_000;

    /// <summary>Throws <see cref="SeedException"/> with one line naming the bad value.</summary>
    public void Validate()
    {
        CheckCount("--products", Products);
        CheckCount("--orders", Orders);
        CheckCount("--reviews", Reviews);
        if (BatchSize is < 1 or > MaxBatchSize)
        {
            throw new SeedException($"--batch-size {BatchSize} is out of range: use 1..{MaxBatchSize}.");
        }
        if (RandomSeed < 0)
        {
            throw new SeedException($"--random-seed {RandomSeed} is negative: use 0..{int.MaxValue}.");
        }
        if (Reset && IfEmpty)
        {
            throw new SeedException("--reset and --if-empty contradict each other: --reset replaces existing rows, --if-empty keeps them.");
        }
        if (Products == 0 && Orders > 0)
        {
            throw new SeedException($"--orders {Orders} needs products to order: set --products to at least 1.");
        }
        if (Products == 0 && Reviews > 0)
        {
            throw new SeedException($"--reviews {Reviews} needs products to review: set --products to at least 1.");
        }
    }

    private static void CheckCount(string flag, int value)
    {
        if (value is < 0 or > MaxCount)
        {
            throw new SeedException($"{flag} {value} is out of range: use 0..{MaxCount}.");
        }
    }
}

public static class SeedPresets
{
    public const string Default = "medium";

    public static readonly string[] Names = ["small", "medium", "large"];

    /// <summary>small is the start-up default; medium is the original's default (10K/50K/100K); large is its "대규모" run.</summary>
    public static SeedOptions Resolve(string name) => name.Trim().ToLowerInvariant() switch
    {
        "small" => new SeedOptions(1_000, 5_000, 10_000),
        "medium" => new SeedOptions(10_000, 50_000, 100_000),
        "large" => new SeedOptions(100_000, 500_000, 1_000_000),
        _ => throw new SeedException($"unknown preset '{name}': use small, medium or large."),
    };
}
