using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace ExBuy.Api.Data;

/// <summary>
/// SQLite's stock SQL. Every write transaction holds the database write lock from its start (EF's BeginTransaction is
/// Microsoft.Data.Sqlite's <c>BEGIN IMMEDIATE</c>), so writers are serialised, a deferred read→write upgrade can never
/// fail with SQLITE_BUSY, and waiting writers retry until the connection's busy timeout. Round trips are in-process
/// calls here, so an order is a short transaction of one statement per step. Arrays are bound as one JSON text and read
/// with <c>json_each</c> (one parameter instead of thousands, which SQLite would bind one by one). Raw SQL sees money as
/// integer cents (<see cref="Money"/>).
/// </summary>
public sealed class SqliteStockSql : IStockSql
{
    public static readonly SqliteStockSql Instance = new();

    /// <summary>Result rows are read by column name under the snake_case convention, so every column is aliased.</summary>
    private sealed record ProductRow(long Id, string Name, long Cents, int Stock);

    private sealed record OrderRow(long Id, long UserId, long Cents);

    private sealed record ItemRow(long Id, long OrderId, long ProductId);

    public async Task<Placement> PlaceOrdersAsync(ExBuyDb db, OrderBatch batch, string status, DateTime now, CancellationToken ct)
    {
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var rows = await db.Database.SqlQueryRaw<ProductRow>(
            """
            SELECT id, name, price AS cents, stock
            FROM products
            WHERE id IN (SELECT value FROM json_each(@ids)) AND deleted_at IS NULL
            ORDER BY id
            """,
            new SqliteParameter("@ids", SqlText.Array(batch.ProductIds)))
            .ToListAsync(ct);
        var products = rows.ToDictionary(r => r.Id, r => new LockedProduct(r.Id, r.Name, Money.FromCents(r.Cents), r.Stock));
        if (!batch.CanPlace(products))
        {
            return new Placement(products, null, null);
        }

        var ids = batch.ProductIds;
        var decremented = await db.Database.ExecuteSqlRawAsync(
            """
            UPDATE products AS p
            SET stock = p.stock - v.q, version = p.version + 1, updated_at = @now
            FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS q FROM json_each(@lines)) AS v
            WHERE p.id = v.id AND p.deleted_at IS NULL AND p.stock >= v.q
            """,
            [new SqliteParameter("@lines", SqlText.Rows(ids.Length, 2, (r, c) => c == 0 ? ids[r] : batch.Demand[r])),
                new SqliteParameter("@now", now)], ct);
        if (decremented != ids.Length)
        {
            // The write lock has been held since the read above, so nothing can have changed the stock.
            throw new InvalidOperationException($"Decremented {decremented} of {ids.Length} products under the write lock.");
        }

        var totals = batch.Totals(products);
        var orders = await db.Database.SqlQueryRaw<OrderRow>(
            """
            INSERT INTO orders (user_id, status, total_price, created_at, updated_at)
            SELECT json_extract(j.value, '$[0]'), @status, json_extract(j.value, '$[1]'), @now, @now
            FROM json_each(@orders) AS j
            ORDER BY j.key
            RETURNING id, user_id, total_price AS cents
            """,
            new SqliteParameter("@orders",
                SqlText.Rows(batch.UserIds.Length, 2, (r, c) => c == 0 ? batch.UserIds[r] : Money.ToCents(totals[r]))),
            new SqliteParameter("@status", status), new SqliteParameter("@now", now)).ToListAsync(ct);
        // Ids are assigned in insertion order and rows are inserted in request order (ORDER BY j.key), so ascending
        // ids map back to the request; user ids and totals double-check that mapping.
        orders.Sort((a, b) => a.Id.CompareTo(b.Id));
        if (orders.Count != batch.UserIds.Length
            || orders.Where((o, k) => o.UserId != batch.UserIds[k] || o.Cents != Money.ToCents(totals[k])).Any())
        {
            throw new InvalidOperationException("Inserted orders did not come back in insertion order.");
        }
        var orderIds = orders.ConvertAll(o => o.Id).ToArray();

        var items = await db.Database.SqlQueryRaw<ItemRow>(
            """
            INSERT INTO order_items (order_id, product_id, quantity, unit_price)
            SELECT json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'), json_extract(j.value, '$[2]'),
                json_extract(j.value, '$[3]')
            FROM json_each(@items) AS j
            ORDER BY j.key
            RETURNING id, order_id, product_id
            """,
            new SqliteParameter("@items", SqlText.Rows(batch.LineProduct.Length, 4, (r, c) => c switch
            {
                0 => orderIds[batch.LineOrder[r]],
                1 => batch.LineProduct[r],
                2 => batch.LineQuantity[r],
                _ => Money.ToCents(products[batch.LineProduct[r]].Price),
            }))).ToListAsync(ct);
        await tx.CommitAsync(ct);
        return new Placement(products, orderIds, items.ToDictionary(i => (i.OrderId, i.ProductId), i => i.Id));
    }

    public Task RestockAsync(ExBuyDb db, long orderId, DateTime now, CancellationToken ct) =>
        db.Database.ExecuteSqlRawAsync(
            SharedStockSql.Restock,
            [new SqliteParameter("@order_id", orderId), new SqliteParameter("@now", now)], ct);

    public async Task<int?> ReserveAtomicAsync(ExBuyDb db, long productId, int quantity, DateTime now, CancellationToken ct)
    {
        var remaining = await db.Database.SqlQueryRaw<int>(
            SharedStockSql.ReserveAtomic,
            new SqliteParameter("@q", quantity), new SqliteParameter("@now", now),
            new SqliteParameter("@id", productId)).ToListAsync(ct);
        return remaining.Count == 1 ? remaining[0] : null;
    }

    /// <summary>No row locks in SQLite: the caller's transaction already holds the database write lock (BEGIN IMMEDIATE).</summary>
    public async Task<int?> LockStockAsync(ExBuyDb db, long productId, CancellationToken ct)
    {
        var stock = await db.Database.SqlQueryRaw<int>(
            "SELECT stock FROM products WHERE id = @id AND deleted_at IS NULL",
            new SqliteParameter("@id", productId)).ToListAsync(ct);
        return stock.Count == 1 ? stock[0] : null;
    }
}
