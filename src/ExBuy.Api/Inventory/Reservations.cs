using ExBuy.Api.Data;
using ExBuy.Api.Observability;
using Microsoft.EntityFrameworkCore;

namespace ExBuy.Api.Inventory;

public enum ReserveStatus
{
    Reserved,
    NotFound,
    Insufficient,
    Contended,
}

/// <param name="Stock">The remaining stock after a reservation, or the stock that was too small.</param>
public readonly record struct ReserveOutcome(ReserveStatus Status, int Stock = 0);

/// <summary>
/// The three reservation techniques of the contract (Inventory), each a genuinely different concurrency control.
/// Under any concurrency every success decrements stock exactly once and stock never goes below 0.
/// </summary>
public static class Reservations
{
    public const string Optimistic = "optimistic";
    public const string Pessimistic = "pessimistic";
    public const string Versioned = "versioned";

    public static readonly string[] LockTypes = [Optimistic, Pessimistic, Versioned];

    /// <summary>
    /// Compare-and-swap attempts before giving up with 409. A CAS only fails because another writer succeeded in
    /// between, so with at most this many concurrent writers on one product every request ends in success or
    /// "insufficient stock", never "contended".
    /// </summary>
    public const int VersionedMaxAttempts = 16;

    public const string Route = "/api/inventory/reserve";

    public static async Task<ReserveOutcome> ReserveAsync(ExBuyDb db, string lockType, long productId, int quantity, CancellationToken ct)
    {
        var outcome = await (lockType switch
        {
            Pessimistic => PessimisticAsync(db, productId, quantity, ct),
            Versioned => VersionedAsync(db, productId, quantity, ct),
            _ => OptimisticAsync(db, productId, quantity, ct),
        });
        if (outcome.Status is ReserveStatus.Insufficient or ReserveStatus.Contended)
        {
            ExBuyMetrics.StockConflict(Route, lockType, outcome.Status == ReserveStatus.Insufficient ? "insufficient" : "contended");
        }
        return outcome;
    }

    /// <summary>
    /// One conditional atomic UPDATE (<c>SET stock = stock - q WHERE id = ? AND stock &gt;= q RETURNING stock</c>): the
    /// database serialises it on the row, no lock is held across round trips. Only a miss costs a second query, to tell
    /// 404 from 409.
    /// </summary>
    public static async Task<ReserveOutcome> OptimisticAsync(ExBuyDb db, long productId, int quantity, CancellationToken ct)
    {
        if (await db.Stock.ReserveAtomicAsync(db, productId, quantity, Clock.UtcNow(), ct) is { } remaining)
        {
            return new ReserveOutcome(ReserveStatus.Reserved, remaining);
        }
        var stock = await db.Products
            .Where(p => p.Id == productId && p.DeletedAt == null)
            .Select(p => (int?)p.Stock)
            .FirstOrDefaultAsync(ct);
        return stock is null
            ? new ReserveOutcome(ReserveStatus.NotFound)
            : new ReserveOutcome(ReserveStatus.Insufficient, stock.Value);
    }

    /// <summary>
    /// Row lock held across check and update: <c>SELECT ... FOR UPDATE</c> on PostgreSQL; on SQLite the transaction's
    /// BEGIN IMMEDIATE write lock (SQLite has no row locks). Concurrent reservations of one product queue on the lock.
    /// </summary>
    public static async Task<ReserveOutcome> PessimisticAsync(ExBuyDb db, long productId, int quantity, CancellationToken ct)
    {
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var stock = await db.Stock.LockStockAsync(db, productId, ct);
        if (stock is null)
        {
            return new ReserveOutcome(ReserveStatus.NotFound);
        }
        if (stock < quantity)
        {
            return new ReserveOutcome(ReserveStatus.Insufficient, stock.Value);
        }
        var now = Clock.UtcNow();
        await db.Products
            .Where(p => p.Id == productId)
            .ExecuteUpdateAsync(s => s
                .SetProperty(p => p.Stock, p => p.Stock - quantity)
                .SetProperty(p => p.Version, p => p.Version + 1)
                .SetProperty(p => p.UpdatedAt, now), ct);
        await tx.CommitAsync(ct);
        return new ReserveOutcome(ReserveStatus.Reserved, stock.Value - quantity);
    }

    /// <summary>
    /// Read (tracked), check, decrement, bump <c>version</c>, SaveChanges: EF's concurrency token turns the UPDATE into
    /// <c>... WHERE id = @id AND version = @read</c>; a DbUpdateConcurrencyException means another writer got there
    /// first, so re-read and retry after a short jittered pause, at most <see cref="VersionedMaxAttempts"/> times.
    /// </summary>
    public static async Task<ReserveOutcome> VersionedAsync(ExBuyDb db, long productId, int quantity, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            var product = await db.Products.AsTracking()
                .FirstOrDefaultAsync(p => p.Id == productId && p.DeletedAt == null, ct);
            if (product is null)
            {
                return new ReserveOutcome(ReserveStatus.NotFound);
            }
            if (product.Stock < quantity)
            {
                return new ReserveOutcome(ReserveStatus.Insufficient, product.Stock);
            }
            product.Stock -= quantity;
            product.Version++;
            product.UpdatedAt = Clock.UtcNow();
            try
            {
                await db.SaveChangesAsync(ct);
                return new ReserveOutcome(ReserveStatus.Reserved, product.Stock);
            }
            catch (DbUpdateConcurrencyException)
            {
                db.ChangeTracker.Clear();
                if (attempt == VersionedMaxAttempts)
                {
                    return new ReserveOutcome(ReserveStatus.Contended);
                }
                ExBuyMetrics.ReservationRetry();
            }
            // Jitter spreads the losers so they do not collide again in lockstep; it grows a little with each loss.
            await Task.Delay(Random.Shared.Next(1, 2 + 2 * Math.Min(attempt, 8)), ct);
        }
    }
}
