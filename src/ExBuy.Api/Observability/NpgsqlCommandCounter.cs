using System.Diagnostics.Metrics;

namespace ExBuy.Api.Observability;

/// <summary>
/// The per-request SQL accounting (<see cref="RequestStats"/>: X-Query-Count, Server-Timing's db time) on PostgreSQL,
/// taken where Npgsql reports each command it starts and ends (its "Npgsql" meter,
/// <c>db.client.operation.npgsql.executing</c> +1 / -1), instead of through an EF command interceptor: with an interceptor
/// registered EF builds event data for every command event (about 1 KB and several µs a request in
/// bench/compare.sh's product detail). It also counts raw Npgsql commands on the shared data source. SQLite keeps an
/// interceptor (<see cref="SqliteCommandEvents"/>).
/// <para>One listener per process (meters are process-wide; a listener per host would count every command once per
/// host); the count goes to the current request, found through the HttpContext's async-local flow.</para>
/// </summary>
public static class NpgsqlCommandCounter
{
    private const string MeterName = "Npgsql";
    private const string InstrumentName = "db.client.operation.npgsql.executing";
    private static readonly HttpContextAccessor Accessor = new();
    private static readonly Lock Gate = new();
    private static MeterListener? _listener;

    public static void EnsureStarted()
    {
        lock (Gate)
        {
            if (_listener is not null)
            {
                return;
            }
            var listener = new MeterListener
            {
                InstrumentPublished = static (instrument, l) =>
                {
                    if (instrument.Meter.Name == MeterName && instrument.Name == InstrumentName)
                    {
                        l.EnableMeasurementEvents(instrument);
                    }
                },
            };
            listener.SetMeasurementEventCallback<int>(static (_, value, _, _) => Count(value));
            listener.SetMeasurementEventCallback<long>(static (_, value, _, _) => Count(value));
            listener.Start();
            _listener = listener;
        }
    }

    /// <summary>+1 when a command starts, -1 when it ends.</summary>
    private static void Count(long delta)
    {
        if (Accessor.HttpContext?.Features.Get<RequestStats>() is not { } stats)
        {
            return;
        }
        if (delta > 0)
        {
            stats.CommandStarted();
        }
        else
        {
            stats.CommandEnded();
        }
    }
}
