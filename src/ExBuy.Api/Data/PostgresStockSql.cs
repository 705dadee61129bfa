using Microsoft.EntityFrameworkCore;
using Npgsql;
using NpgsqlTypes;

namespace ExBuy.Api.Data;

/// <summary>
/// PostgreSQL's stock SQL: arrays bound as typed parameters and read with <c>unnest</c> (one round trip whatever the
/// number of rows). Multi-row writers lock their products with <c>SELECT … ORDER BY id FOR NO KEY UPDATE</c> (LockRows
/// runs above the sort, so rows are locked in ascending id order). NO KEY UPDATE is the lock an UPDATE of non-key
/// columns takes anyway; unlike FOR UPDATE it does not block the foreign-key checks (FOR KEY SHARE) of concurrent
/// inserts that reference the product (reviews, other orders' items).
/// </summary>
public sealed class PostgresStockSql : IStockSql
{
    public static readonly PostgresStockSql Instance = new();

    /// <summary>
    /// One row of the placement statement: kind 0 = a locked product (a = id, b = stock, name, price), 1 = an inserted
    /// order (a = id, b = its index in the request), 2 = an inserted item (a = id, b = order id, c = product id).
    /// </summary>
    private sealed record PlacementRow(int Kind, long A, long B, long? C, string? Name, decimal? Price);

    /// <summary>
    /// The whole placement in one statement, in autocommit (a single statement is atomic): data-modifying CTEs lock
    /// the products in id order, check every condition of <see cref="OrderBatch.CanPlace"/> on the locked rows, and
    /// only when all hold decrement the stock and insert the orders and their items. BEGIN + lock + decrement + two
    /// inserts + COMMIT was six round trips. The locked rows come back either way, so a refusal still says which
    /// line failed. Every write CTE depends on <c>ok</c>, an aggregate over all of <c>locked</c>, so all locks are
    /// taken, in id order, before any row is written. Orders are inserted in request order and get ascending ids
    /// (identity), so <c>row_number() OVER (ORDER BY id)</c> maps each back to its place in the request; the items'
    /// foreign keys to those orders are checked at the end of the statement, when the orders exist.
    /// </summary>
    private const string PlaceSql =
        """
        WITH demand AS (
            SELECT d.id, d.q FROM unnest(@ids, @demand) AS d(id, q)
        ), locked AS (
            SELECT p.id, p.name, p.price, p.stock
            FROM products AS p
            WHERE p.id = ANY(@ids) AND p.deleted_at IS NULL
            ORDER BY p.id
            FOR NO KEY UPDATE
        ), lines AS (
            SELECT l.o, l.n, l.product_id, l.q, k.price
            FROM unnest(@line_order, @line_product, @line_qty) WITH ORDINALITY AS l(o, product_id, q, n)
            JOIN locked AS k ON k.id = l.product_id
        ), totals AS (
            SELECT o.n - 1 AS o, o.user_id, coalesce(sum(l.q * l.price), 0) AS total
            FROM unnest(@user_ids) WITH ORDINALITY AS o(user_id, n)
            LEFT JOIN lines AS l ON l.o = o.n - 1
            GROUP BY o.n, o.user_id
        ), ok AS (
            SELECT (SELECT count(*) FROM locked) = cardinality(@ids)
                AND NOT EXISTS (SELECT 1 FROM demand AS d JOIN locked AS k ON k.id = d.id WHERE k.stock < d.q)
                AND (SELECT max(t.total) FROM totals AS t) <= 9999999999.99 AS ok
        ), decremented AS (
            UPDATE products AS p
            SET stock = p.stock - d.q, version = p.version + 1, updated_at = @now
            FROM demand AS d, ok
            WHERE ok.ok AND p.id = d.id AND p.stock >= d.q
            RETURNING p.id
        ), inserted AS (
            INSERT INTO orders (user_id, status, total_price, created_at, updated_at)
            SELECT t.user_id, @status, t.total, @now, @now
            FROM totals AS t, ok
            WHERE ok.ok
            ORDER BY t.o
            RETURNING id
        ), numbered AS (
            SELECT i.id, row_number() OVER (ORDER BY i.id) - 1 AS o FROM inserted AS i
        ), items AS (
            INSERT INTO order_items (order_id, product_id, quantity, unit_price)
            SELECT nb.id, l.product_id, l.q, l.price
            FROM lines AS l JOIN numbered AS nb ON nb.o = l.o
            ORDER BY l.n
            RETURNING id, order_id, product_id
        )
        SELECT 0 AS kind, k.id AS a, k.stock::bigint AS b, NULL::bigint AS c, k.name, k.price FROM locked AS k
        UNION ALL SELECT 1, nb.id, nb.o, NULL, NULL, NULL FROM numbered AS nb
        UNION ALL SELECT 2, it.id, it.order_id, it.product_id, NULL, NULL FROM items AS it
        UNION ALL SELECT 3, count(*), 0, NULL, NULL, NULL FROM decremented
        """;

    public async Task<Placement> PlaceOrdersAsync(ExBuyDb db, OrderBatch batch, string status, DateTime now, CancellationToken ct)
    {
        var rows = await db.Database.SqlQueryRaw<PlacementRow>(PlaceSql,
            Array("ids", batch.ProductIds, NpgsqlDbType.Bigint), Array("demand", batch.Demand, NpgsqlDbType.Integer),
            Array("line_order", batch.LineOrder, NpgsqlDbType.Integer),
            Array("line_product", batch.LineProduct, NpgsqlDbType.Bigint),
            Array("line_qty", batch.LineQuantity, NpgsqlDbType.Integer),
            Array("user_ids", batch.UserIds, NpgsqlDbType.Bigint),
            new NpgsqlParameter<string>("status", NpgsqlDbType.Varchar) { TypedValue = status }, Now(now))
            .ToListAsync(ct);

        var products = new Dictionary<long, LockedProduct>();
        var orderIds = new long[batch.UserIds.Length];
        var items = new Dictionary<(long OrderId, long ProductId), long>();
        var ordered = 0;
        var decremented = 0L;
        foreach (var row in rows)
        {
            switch (row.Kind)
            {
                case 0:
                    products[row.A] = new LockedProduct(row.A, row.Name!, row.Price!.Value, (int)row.B);
                    break;
                case 1:
                    orderIds[row.B] = row.A;
                    ordered++;
                    break;
                case 2:
                    items[(row.B, row.C!.Value)] = row.A;
                    break;
                default:
                    decremented = row.A;
                    break;
            }
        }
        if (ordered == 0)
        {
            return new Placement(products, null, null);
        }
        if (ordered != orderIds.Length || items.Count != batch.LineProduct.Length || decremented != batch.ProductIds.Length)
        {
            // The statement writes all of it or nothing; a partial count would mean the SQL above is wrong.
            throw new InvalidOperationException(
                $"Order placement wrote {ordered} orders, {items.Count} items, {decremented} stock rows for a batch of "
                + $"{orderIds.Length}, {batch.LineProduct.Length}, {batch.ProductIds.Length}.");
        }
        return new Placement(products, orderIds, items);
    }

    /// <summary>Locks the order's products in ascending id order first, like order placement, so a cancel and a new
    /// order cannot deadlock.</summary>
    public async Task RestockAsync(ExBuyDb db, long orderId, DateTime now, CancellationToken ct)
    {
        await db.Database.SqlQueryRaw<long>(
            """
            SELECT p.id FROM products AS p
            WHERE p.id IN (SELECT i.product_id FROM order_items AS i WHERE i.order_id = @order_id)
            ORDER BY p.id
            FOR NO KEY UPDATE
            """,
            OrderId(orderId)).ToListAsync(ct);
        await db.Database.ExecuteSqlRawAsync(
            SharedStockSql.Restock,
            [OrderId(orderId), Now(now)], ct);
    }

    public async Task<int?> ReserveAtomicAsync(ExBuyDb db, long productId, int quantity, DateTime now, CancellationToken ct)
    {
        var remaining = await db.Database.SqlQueryRaw<int>(
            SharedStockSql.ReserveAtomic,
            new NpgsqlParameter<int>("q", NpgsqlDbType.Integer) { TypedValue = quantity }, Now(now), Id(productId))
            .ToListAsync(ct);
        return remaining.Count == 1 ? remaining[0] : null;
    }

    public async Task<int?> LockStockAsync(ExBuyDb db, long productId, CancellationToken ct)
    {
        var stock = await db.Database.SqlQueryRaw<int>(
            "SELECT stock FROM products WHERE id = @id AND deleted_at IS NULL FOR UPDATE", Id(productId)).ToListAsync(ct);
        return stock.Count == 1 ? stock[0] : null;
    }

    private static NpgsqlParameter Array<T>(string name, T[] values, NpgsqlDbType elementType) =>
        new NpgsqlParameter<T[]>(name, NpgsqlDbType.Array | elementType) { TypedValue = values };

    private static NpgsqlParameter Now(DateTime now) =>
        new NpgsqlParameter<DateTime>("now", NpgsqlDbType.TimestampTz) { TypedValue = now };

    private static NpgsqlParameter Id(long id) => new NpgsqlParameter<long>("id", NpgsqlDbType.Bigint) { TypedValue = id };

    private static NpgsqlParameter OrderId(long id) =>
        new NpgsqlParameter<long>("order_id", NpgsqlDbType.Bigint) { TypedValue = id };
}
