namespace ExBuy.Api.Data;

/// <summary>
/// The one home of the money storage rule: PostgreSQL stores <c>numeric(12,2)</c>, SQLite integer cents (its EF provider
/// cannot compare, order or sum <c>decimal</c> in SQL). Everything that converts between the two goes through here.
/// </summary>
public static class Money
{
    /// <summary>Largest value of numeric(12,2).</summary>
    public const decimal Max = 9_999_999_999.99m;

    public static long ToCents(decimal money) => (long)decimal.Round(money * 100m, MidpointRounding.AwayFromZero);

    /// <summary>Exact, with scale 2 as numeric(12,2) hands it back (built from the integer, no division).</summary>
    public static decimal FromCents(long cents)
    {
        var magnitude = cents < 0 ? (ulong)-cents : (ulong)cents;
        return new decimal((int)(magnitude & 0xFFFF_FFFF), (int)(magnitude >> 32), 0, cents < 0, 2);
    }
}
