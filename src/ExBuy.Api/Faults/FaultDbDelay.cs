using ExBuy.Api.Data;
using ExBuy.Api.Observability;
using Microsoft.EntityFrameworkCore;

namespace ExBuy.Api.Faults;

/// <summary>
/// The DB delay, really inside the database on the request's own pooled connection (the scoped <see cref="ExBuyDb"/>
/// the handler gets): the connection is opened for the rest of the request (<see cref="ExBuyDb.KeepConnectionOpenAsync"/>,
/// closed when the pooled context goes back), so it is held for the delay and then serves the handler. One class per
/// engine, chosen once at start-up (<see cref="For"/>), as the Data/ interfaces are.
/// <para>The statement is not the handler's SQL, so it must not count in X-Query-Count or Server-Timing's db time:
/// both accountings (Npgsql's meter, the SQLite interceptor) find the request's <see cref="RequestStats"/> through
/// the HttpContext's features, so <see cref="RunUncountedAsync"/> removes that feature while the delay's statements run
/// and puts it back before the handler runs.</para>
/// </summary>
public interface IFaultDbDelay
{
    Task HoldAsync(HttpContext context, ExBuyDb db, TimeSpan delay, CancellationToken ct);
}

public static class FaultDbDelay
{
    public static IFaultDbDelay For(DatabaseOptions options) =>
        options.IsPostgres ? PostgresFaultDbDelay.Instance : SqliteFaultDbDelay.Instance;

    internal static async Task RunUncountedAsync(HttpContext context, Func<Task> action)
    {
        var stats = context.Features.Get<RequestStats>();
        context.Features.Set<RequestStats>(null);
        try
        {
            await action();
        }
        finally
        {
            context.Features.Set(stats);
        }
    }
}

/// <summary>PostgreSQL: <c>SELECT pg_sleep(s)</c> on the request's connection (a backend busy, a pooled connection in use).</summary>
public sealed class PostgresFaultDbDelay : IFaultDbDelay
{
    public static readonly PostgresFaultDbDelay Instance = new();

    public Task HoldAsync(HttpContext context, ExBuyDb db, TimeSpan delay, CancellationToken ct) =>
        FaultDbDelay.RunUncountedAsync(context, async () =>
        {
            await db.KeepConnectionOpenAsync(ct);
            await db.Database.ExecuteSqlRawAsync("SELECT pg_sleep({0})", [delay.TotalSeconds], ct);
        });
}

/// <summary>
/// SQLite has no sleep function: the request's connection takes the write lock (<c>BEGIN IMMEDIATE</c>), holds it for
/// the delay, and rolls back (nothing was written). Concurrent writers wait for it (busy timeout), readers do not (WAL).
/// </summary>
public sealed class SqliteFaultDbDelay : IFaultDbDelay
{
    public static readonly SqliteFaultDbDelay Instance = new();

    public Task HoldAsync(HttpContext context, ExBuyDb db, TimeSpan delay, CancellationToken ct) =>
        FaultDbDelay.RunUncountedAsync(context, async () =>
        {
            await db.KeepConnectionOpenAsync(ct);
            await db.Database.ExecuteSqlRawAsync("BEGIN IMMEDIATE", ct);
            try
            {
                await Task.Delay(delay, ct);
            }
            finally
            {
                await db.Database.ExecuteSqlRawAsync("ROLLBACK", CancellationToken.None);
            }
        });
}
