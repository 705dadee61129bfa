namespace ExBuy.Api.Data;

/// <summary>
/// Timestamps are kept at millisecond precision (the contract's wire format, e.g. 2026-11-23T10:15:30.123Z), so what a
/// POST returns is exactly what a later GET reads back on either engine.
/// </summary>
public static class Clock
{
    public static DateTime UtcNow() => Truncate(DateTime.UtcNow);

    public static DateTime Truncate(DateTime t) =>
        new(t.Ticks - t.Ticks % TimeSpan.TicksPerMillisecond, DateTimeKind.Utc);
}
