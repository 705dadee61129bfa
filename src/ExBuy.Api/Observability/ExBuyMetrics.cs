using System.Diagnostics.Metrics;

namespace ExBuy.Api.Observability;

/// <summary>
/// The <c>ExBuy</c> meter: what the framework's meters cannot know. One process-wide meter (as Npgsql's and the
/// runtime's), created once; with no listener (<c>METRICS=off</c>) every call below is a field check. Tags are route
/// templates and fixed words only, so the series stay bounded whatever the traffic.
/// </summary>
public static class ExBuyMetrics
{
    public const string MeterName = "ExBuy";

    /// <summary>
    /// Request and SQL latency buckets (seconds), 0.1 ms to 10 s: ASP.NET Core's default buckets, the Django baseline's
    /// and django-prometheus's (up to 10 s) are all subsets, so the stacks compare on the same <c>le</c>.
    /// </summary>
    public static readonly double[] LatencyBuckets =
        [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

    /// <summary>SQL commands per request: 1 is the optimized detail, 10+ an N+1 page.</summary>
    public static readonly int[] QueryBuckets = [0, 1, 2, 3, 4, 5, 8, 10, 15, 20, 30, 50, 100, 200];

    private static readonly Meter Meter = new(MeterName, typeof(ExBuyMetrics).Assembly.GetName().Version?.ToString(3));

    internal static readonly Histogram<int> QueriesPerRequest = Meter.CreateHistogram(
        "exbuy.request.queries", "{query}", "SQL commands run by one /api request (the N+1 signal), by route template and optimize flag",
        advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = QueryBuckets });

    internal static readonly Histogram<double> DbTimePerRequest = Meter.CreateHistogram(
        "exbuy.request.db.duration", "s", "Wall time one /api request spent with a SQL command running, by route template",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });

    private static readonly Counter<long> StockConflicts = Meter.CreateCounter<long>(
        "exbuy.stock.conflicts", "{conflict}", "Requests refused with 409 because stock was short or kept changing");

    private static readonly Counter<long> ReservationRetries = Meter.CreateCounter<long>(
        "exbuy.reservation.retries", "{retry}", "Versioned reservations re-read after losing a compare-and-swap");

    private static readonly Counter<long> OrdersPlaced = Meter.CreateCounter<long>(
        "exbuy.orders.placed", "{order}", "Orders committed");

    private static readonly Counter<long> UnitsPlaced = Meter.CreateCounter<long>(
        "exbuy.order.units", "{unit}", "Units (Σ quantity) in committed orders");

    private static readonly Counter<long> UploadBytes = Meter.CreateCounter<long>(
        "exbuy.upload.size", "By", "Bytes stored by POST /api/uploads");

    private static readonly Counter<long> Uploads = Meter.CreateCounter<long>(
        "exbuy.uploads", "{file}", "Files stored by POST /api/uploads");

    private static readonly Counter<long> FaultsInjected = Meter.CreateCounter<long>(
        "exbuy.faults.injected", "{fault}", "Injected faults by kind (delay, db_delay, error) and route template");

    private static readonly Counter<long> DbRoutes = Meter.CreateCounter<long>(
        "exbuy.db.routed", "{checkout}", "Database connection checkouts (one per query outside a transaction) by route (read: the "
        + "catalog reads of DB_READ_HOSTS; write: the rest) and the server that took them (host:port); only with DB_READ_HOSTS or several DB_HOST hosts");

    private static int _replicationWatched;

    /// <summary>A connection of <paramref name="route"/> (read or write) opened on <paramref name="host"/> (host:port).</summary>
    public static void DbRouted(string route, string host) => DbRoutes.Add(1, new("route", route), new("host", host));

    /// <summary>Replication lag per standby, from <see cref="Data.ReplicationMonitor"/>'s latest sample (once per process).</summary>
    internal static void WatchReplication(Data.ReplicationMonitor monitor)
    {
        if (Interlocked.Exchange(ref _replicationWatched, 1) == 1)
        {
            return;
        }
        Meter.CreateObservableGauge("exbuy.db.replication.lag", () => monitor.Standbys
                .Where(s => s.LagSeconds is not null)
                .Select(s => new Measurement<double>(s.LagSeconds!.Value, new KeyValuePair<string, object?>("standby", s.Name))),
            "s", "Replay lag of each streaming standby as the primary sees it (pg_stat_replication.replay_lag; 0 when caught up), sampled every 2 s");
        Meter.CreateObservableGauge("exbuy.db.replication.lag_bytes", () => monitor.Standbys
                .Where(s => s.LagBytes is not null)
                .Select(s => new Measurement<long>(s.LagBytes!.Value, new KeyValuePair<string, object?>("standby", s.Name))),
            "By", "WAL the primary has written that each standby has not replayed yet, sampled every 2 s");
    }

    /// <summary>
    /// Publishes every known series of the counters at 0 once a listener is attached (Prometheus practice: a counter
    /// that has not moved yet is 0, not absent, so <c>rate()</c> and the dashboard panels have data from the start).
    /// </summary>
    public static void PublishZeroSeries()
    {
        foreach (var lockType in new[] { "optimistic", "pessimistic", "versioned" })
        {
            StockConflicts.Add(0, new("endpoint", Inventory.Reservations.Route), new("lock_type", lockType), new("reason", "insufficient"));
        }
        StockConflicts.Add(0, new("endpoint", Inventory.Reservations.Route), new("lock_type", "versioned"), new("reason", "contended"));
        foreach (var endpoint in new[] { Orders.OrderWrites.CreateRoute, Orders.OrderWrites.BulkRoute })
        {
            StockConflicts.Add(0, new("endpoint", endpoint), new("lock_type", "pessimistic"), new("reason", "insufficient"));
            OrdersCommitted(endpoint, 0, 0);
        }
        ReservationRetries.Add(0, new KeyValuePair<string, object?>("lock_type", "versioned"));
        Uploads.Add(0);
        UploadBytes.Add(0);
    }

    /// <summary>A 409 for stock: <paramref name="endpoint"/> is a route template, <paramref name="lockType"/> the technique.</summary>
    public static void StockConflict(string endpoint, string lockType, string reason) =>
        StockConflicts.Add(1, new("endpoint", endpoint), new("lock_type", lockType), new("reason", reason));

    public static void ReservationRetry() => ReservationRetries.Add(1, new KeyValuePair<string, object?>("lock_type", "versioned"));

    public static void OrdersCommitted(string endpoint, int orders, long units)
    {
        var tag = new KeyValuePair<string, object?>("endpoint", endpoint);
        OrdersPlaced.Add(orders, tag);
        UnitsPlaced.Add(units, tag);
    }

    public static void UploadStored(long bytes)
    {
        Uploads.Add(1);
        UploadBytes.Add(bytes);
    }

    /// <summary>One injected fault: <paramref name="kind"/> is delay, db_delay or error; <paramref name="route"/> a route template.</summary>
    public static void FaultInjected(string kind, string route) =>
        FaultsInjected.Add(1, new("kind", kind), new("route", route));
}
