using System.Numerics;

namespace ExBuy.Api.Data.Seeding;

/// <summary>
/// xoshiro256** seeded through SplitMix64: a small generator whose output is fixed by its algorithm (System.Random's
/// seeded sequence is an implementation detail). Every row gets its own generator derived from
/// (random seed, table, row index), so the data does not depend on batch size, method, engine or thread scheduling.
/// </summary>
internal struct SeedRandom
{
    private ulong _s0;
    private ulong _s1;
    private ulong _s2;
    private ulong _s3;

    private SeedRandom(ulong seed)
    {
        _s0 = SplitMix(ref seed);
        _s1 = SplitMix(ref seed);
        _s2 = SplitMix(ref seed);
        _s3 = SplitMix(ref seed);
    }

    public static SeedRandom For(int randomSeed, SeedStream stream, long index) =>
        new(Finalize((ulong)(uint)randomSeed * 0x9E3779B97F4A7C15UL ^ ((ulong)stream << 56))
            ^ Finalize((ulong)index + 0xD1B54A32D192ED03UL));

    public ulong NextUInt64()
    {
        var result = BitOperations.RotateLeft(_s1 * 5, 7) * 9;
        var t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = BitOperations.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>0 ≤ result &lt; n (multiply-high; the bias for n &lt; 2^32 is below 2^-32).</summary>
    public int Next(int n) => (int)Math.BigMul(NextUInt64(), (ulong)n, out _);

    public long NextInt64(long n) => n <= 0 ? 0 : (long)Math.BigMul(NextUInt64(), (ulong)n, out _);

    public int Next(int minInclusive, int maxInclusive) => minInclusive + Next(maxInclusive - minInclusive + 1);

    /// <summary>[0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Standard normal (Box–Muller).</summary>
    public double NextNormal()
    {
        var u1 = 1.0 - NextDouble();
        var u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>Index into cumulative percent thresholds (e.g. [35, 60, 80, 92, 100]).</summary>
    public int Pick(ReadOnlySpan<byte> cumulativePercent)
    {
        var roll = Next(100);
        for (var i = 0; i < cumulativePercent.Length; i++)
        {
            if (roll < cumulativePercent[i])
            {
                return i;
            }
        }
        return cumulativePercent.Length - 1;
    }

    private static ulong SplitMix(ref ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        return Finalize(x);
    }

    private static ulong Finalize(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

internal enum SeedStream : byte
{
    Products = 1,
    Popularity = 2,
    Orders = 3,
    Reviews = 4,
}
