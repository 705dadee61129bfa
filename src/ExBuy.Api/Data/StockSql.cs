using System.Data.Common;
using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using NpgsqlTypes;

namespace ExBuy.Api.Data;

/// <summary>
/// The hand-written, engine-specific SQL of orders, cancellation and reservations, kept in one place (CONVENTIONS §7:
/// provider differences stay in Data/). Everything runs through the DbContext so X-Query-Count sees it.
/// <list type="bullet">
/// <item>Set-based: one statement per step whatever the number of rows — PostgreSQL binds arrays and reads them with
/// <c>unnest</c> (TechEmpower RawDbNpgsql style), SQLite binds one JSON text and reads it with <c>json_each</c> (one
/// parameter instead of thousands, which SQLite would bind one by one).</item>
/// <item>Money: SQLite stores integer cents (<see cref="MoneyCentsConverter"/>) and raw SQL sees cents; PostgreSQL
/// stores numeric(12,2). Both engines hand prices back as cents here and this file converts, so callers see decimals.</item>
/// <item>Locking: every stock change is a conditional update (<c>stock &gt;= q</c>), so stock cannot go below 0 even
/// without the CHECK constraint, and bumps <c>version</c> and <c>updated_at</c>, so the versioned reservation's
/// compare-and-swap sees every other writer. On PostgreSQL, multi-row writers first lock their product rows with
/// <c>SELECT ... ORDER BY id FOR NO KEY UPDATE</c> (LockRows runs above the sort, so rows are locked in ascending id
/// order): two transactions over the same products wait for each other instead of deadlocking. NO KEY UPDATE is the
/// lock an UPDATE of non-key columns takes anyway; unlike FOR UPDATE it does not block the foreign-key checks
/// (FOR KEY SHARE) of concurrent inserts that reference the product (reviews, other orders' items). On SQLite every write
/// transaction holds the database write lock from its start (EF's BeginTransaction is Microsoft.Data.Sqlite's
/// <c>BEGIN IMMEDIATE</c>), so writers are serialised and a deferred read→write upgrade can never fail with
/// SQLITE_BUSY; waiting writers retry until the connection's busy timeout.</item>
/// </list>
/// Result records are read by column name, and the snake_case naming convention applies to them too (UserId is read
/// from <c>user_id</c>), so every column is aliased in snake_case. Results are always read with ToListAsync:
/// anything that composes (FirstOrDefault adds LIMIT) would wrap an UPDATE/INSERT in a subquery.
/// </summary>
public static class StockSql
{
    /// <summary>A product row locked for this transaction (live products only).</summary>
    public sealed record LockedProduct(long Id, string Name, decimal Price, int Stock);

    /// <summary>An inserted order item and the (order, product) it belongs to.</summary>
    public sealed record InsertedItem(long Id, long OrderId, long ProductId);

    public sealed record ProductRow(long Id, string Name, long Cents, int Stock);

    public sealed record OrderRow(long Id, long UserId, long Cents);

    /// <summary>
    /// Locks the live products among <paramref name="sortedIds"/> in ascending id order and returns them (deleted or
    /// unknown ids are simply absent). Must run inside the caller's transaction.
    /// </summary>
    public static async Task<List<LockedProduct>> LockProductsAsync(ExBuyDb db, long[] sortedIds, CancellationToken ct)
    {
        List<ProductRow> rows;
        if (db.IsPostgres)
        {
            rows = await db.Database.SqlQueryRaw<ProductRow>(
                """
                SELECT id, name, (price * 100)::bigint AS cents, stock
                FROM products
                WHERE id = ANY(@ids) AND deleted_at IS NULL
                ORDER BY id
                FOR NO KEY UPDATE
                """,
                PgArray("ids", sortedIds, NpgsqlDbType.Bigint)).ToListAsync(ct);
        }
        else
        {
            rows = await db.Database.SqlQueryRaw<ProductRow>(
                """
                SELECT id, name, price AS cents, stock
                FROM products
                WHERE id IN (SELECT value FROM json_each(@ids)) AND deleted_at IS NULL
                ORDER BY id
                """,
                new SqliteParameter("@ids", JsonArray(sortedIds))).ToListAsync(ct);
        }
        return rows.ConvertAll(r => new LockedProduct(r.Id, r.Name, Money.FromCents(r.Cents), r.Stock));
    }

    /// <summary>
    /// Takes <paramref name="quantities"/>[k] from product <paramref name="ids"/>[k] (ids distinct), each only where
    /// the stock suffices. Returns the number of products decremented: anything less than ids.Length means the
    /// caller must roll back.
    /// </summary>
    public static Task<int> DecrementAsync(ExBuyDb db, long[] ids, int[] quantities, DateTime now, CancellationToken ct)
    {
        if (db.IsPostgres)
        {
            return db.Database.ExecuteSqlRawAsync(
                """
                UPDATE products AS p
                SET stock = p.stock - v.q, version = p.version + 1, updated_at = @now
                FROM unnest(@ids, @quantities) AS v(id, q)
                WHERE p.id = v.id AND p.deleted_at IS NULL AND p.stock >= v.q
                """,
                [PgArray("ids", ids, NpgsqlDbType.Bigint), PgArray("quantities", quantities, NpgsqlDbType.Integer),
                    PgNow(now)], ct);
        }
        var json = new StringBuilder(ids.Length * 12).Append('[');
        for (var k = 0; k < ids.Length; k++)
        {
            json.Append(k == 0 ? "[" : ",[").Append(Inv(ids[k])).Append(',').Append(Inv(quantities[k])).Append(']');
        }
        return db.Database.ExecuteSqlRawAsync(
            """
            UPDATE products AS p
            SET stock = p.stock - v.q, version = p.version + 1, updated_at = @now
            FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS q FROM json_each(@lines)) AS v
            WHERE p.id = v.id AND p.deleted_at IS NULL AND p.stock >= v.q
            """,
            [new SqliteParameter("@lines", json.Append(']').ToString()), new SqliteParameter("@now", now)], ct);
    }

    /// <summary>
    /// Inserts pending orders in one statement and returns their ids in request order. Ids are assigned in insertion
    /// order (identity/AUTOINCREMENT) and rows are inserted in request order (ORDER BY ordinality), so the ascending ids
    /// map back to the request; the returned user ids and totals double-check that mapping.
    /// </summary>
    public static async Task<long[]> InsertOrdersAsync(
        ExBuyDb db, long[] userIds, decimal[] totals, string status, DateTime now, CancellationToken ct)
    {
        List<OrderRow> rows;
        if (db.IsPostgres)
        {
            rows = await db.Database.SqlQueryRaw<OrderRow>(
                """
                INSERT INTO orders (user_id, status, total_price, created_at, updated_at)
                SELECT v.user_id, @status, v.total, @now, @now
                FROM unnest(@user_ids, @totals) WITH ORDINALITY AS v(user_id, total, n)
                ORDER BY v.n
                RETURNING id, user_id, (total_price * 100)::bigint AS cents
                """,
                PgArray("user_ids", userIds, NpgsqlDbType.Bigint), PgArray("totals", totals, NpgsqlDbType.Numeric),
                new NpgsqlParameter<string>("status", NpgsqlDbType.Varchar) { TypedValue = status }, PgNow(now))
                .ToListAsync(ct);
        }
        else
        {
            var json = new StringBuilder(userIds.Length * 16).Append('[');
            for (var k = 0; k < userIds.Length; k++)
            {
                json.Append(k == 0 ? "[" : ",[").Append(Inv(userIds[k])).Append(',').Append(Inv(Money.ToCents(totals[k]))).Append(']');
            }
            rows = await db.Database.SqlQueryRaw<OrderRow>(
                """
                INSERT INTO orders (user_id, status, total_price, created_at, updated_at)
                SELECT json_extract(j.value, '$[0]'), @status, json_extract(j.value, '$[1]'), @now, @now
                FROM json_each(@orders) AS j
                ORDER BY j.key
                RETURNING id, user_id, total_price AS cents
                """,
                new SqliteParameter("@orders", json.Append(']').ToString()), new SqliteParameter("@status", status),
                new SqliteParameter("@now", now)).ToListAsync(ct);
        }
        rows.Sort((a, b) => a.Id.CompareTo(b.Id));
        if (rows.Count != userIds.Length)
        {
            throw new InvalidOperationException($"Inserted {rows.Count} orders, expected {userIds.Length}.");
        }
        var ids = new long[rows.Count];
        for (var k = 0; k < rows.Count; k++)
        {
            if (rows[k].UserId != userIds[k] || rows[k].Cents != Money.ToCents(totals[k]))
            {
                throw new InvalidOperationException("Inserted orders did not come back in insertion order.");
            }
            ids[k] = rows[k].Id;
        }
        return ids;
    }

    /// <summary>Inserts order items in one statement; (order_id, product_id) is unique, so each row maps back exactly.</summary>
    public static Task<List<InsertedItem>> InsertItemsAsync(
        ExBuyDb db, long[] orderIds, long[] productIds, int[] quantities, decimal[] unitPrices, CancellationToken ct)
    {
        if (db.IsPostgres)
        {
            return db.Database.SqlQueryRaw<InsertedItem>(
                """
                INSERT INTO order_items (order_id, product_id, quantity, unit_price)
                SELECT v.order_id, v.product_id, v.quantity, v.unit_price
                FROM unnest(@order_ids, @product_ids, @quantities, @unit_prices)
                    WITH ORDINALITY AS v(order_id, product_id, quantity, unit_price, n)
                ORDER BY v.n
                RETURNING id, order_id, product_id
                """,
                PgArray("order_ids", orderIds, NpgsqlDbType.Bigint), PgArray("product_ids", productIds, NpgsqlDbType.Bigint),
                PgArray("quantities", quantities, NpgsqlDbType.Integer),
                PgArray("unit_prices", unitPrices, NpgsqlDbType.Numeric)).ToListAsync(ct);
        }
        var json = new StringBuilder(orderIds.Length * 32).Append('[');
        for (var k = 0; k < orderIds.Length; k++)
        {
            json.Append(k == 0 ? "[" : ",[").Append(Inv(orderIds[k])).Append(',').Append(Inv(productIds[k])).Append(',')
                .Append(Inv(quantities[k])).Append(',').Append(Inv(Money.ToCents(unitPrices[k]))).Append(']');
        }
        return db.Database.SqlQueryRaw<InsertedItem>(
            """
            INSERT INTO order_items (order_id, product_id, quantity, unit_price)
            SELECT json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'), json_extract(j.value, '$[2]'),
                json_extract(j.value, '$[3]')
            FROM json_each(@items) AS j
            ORDER BY j.key
            RETURNING id, order_id, product_id
            """,
            new SqliteParameter("@items", json.Append(']').ToString())).ToListAsync(ct);
    }

    /// <summary>
    /// Puts an order's quantities back into stock (cancellation), in the caller's transaction. PostgreSQL first locks
    /// the products in ascending id order, like order creation, so a cancel and a new order cannot deadlock.
    /// </summary>
    public static async Task<int> RestockAsync(ExBuyDb db, long orderId, DateTime now, CancellationToken ct)
    {
        DbParameter[] parameters;
        if (db.IsPostgres)
        {
            await db.Database.SqlQueryRaw<long>(
                """
                SELECT p.id FROM products AS p
                WHERE p.id IN (SELECT i.product_id FROM order_items AS i WHERE i.order_id = @order_id)
                ORDER BY p.id
                FOR NO KEY UPDATE
                """,
                new NpgsqlParameter<long>("order_id", NpgsqlDbType.Bigint) { TypedValue = orderId }).ToListAsync(ct);
            parameters = [new NpgsqlParameter<long>("order_id", NpgsqlDbType.Bigint) { TypedValue = orderId }, PgNow(now)];
        }
        else
        {
            parameters = [new SqliteParameter("@order_id", orderId), new SqliteParameter("@now", now)];
        }
        // The same text on both engines.
        return await db.Database.ExecuteSqlRawAsync(
            """
            UPDATE products AS p
            SET stock = p.stock + i.quantity, version = p.version + 1, updated_at = @now
            FROM order_items AS i
            WHERE i.order_id = @order_id AND p.id = i.product_id
            """,
            parameters, ct);
    }

    /// <summary>
    /// The optimistic reservation (contract: Inventory; the original's <c>F('stock') - q</c>): one conditional atomic
    /// update, no lock held across round trips. Returns the remaining stock, or null when nothing was updated
    /// (unknown, deleted, or not enough stock).
    /// </summary>
    public static async Task<int?> ReserveAtomicAsync(ExBuyDb db, long productId, int quantity, DateTime now, CancellationToken ct)
    {
        const string sql =
            """
            UPDATE products
            SET stock = stock - @q, version = version + 1, updated_at = @now
            WHERE id = @id AND deleted_at IS NULL AND stock >= @q
            RETURNING stock
            """;
        List<int> remaining = db.IsPostgres
            ? await db.Database.SqlQueryRaw<int>(sql,
                new NpgsqlParameter<int>("q", NpgsqlDbType.Integer) { TypedValue = quantity }, PgNow(now),
                new NpgsqlParameter<long>("id", NpgsqlDbType.Bigint) { TypedValue = productId }).ToListAsync(ct)
            : await db.Database.SqlQueryRaw<int>(sql,
                new SqliteParameter("@q", quantity), new SqliteParameter("@now", now),
                new SqliteParameter("@id", productId)).ToListAsync(ct);
        return remaining.Count == 1 ? remaining[0] : null;
    }

    /// <summary>
    /// The pessimistic reservation's row lock: on PostgreSQL <c>SELECT ... FOR UPDATE</c> (held until the caller's
    /// transaction ends); on SQLite the caller's transaction already holds the database write lock (BEGIN IMMEDIATE).
    /// Returns the live product's stock, or null when it is unknown or deleted.
    /// </summary>
    public static async Task<int?> LockStockAsync(ExBuyDb db, long productId, CancellationToken ct)
    {
        List<int> stock = db.IsPostgres
            ? await db.Database.SqlQueryRaw<int>(
                "SELECT stock FROM products WHERE id = @id AND deleted_at IS NULL FOR UPDATE",
                new NpgsqlParameter<long>("id", NpgsqlDbType.Bigint) { TypedValue = productId }).ToListAsync(ct)
            : await db.Database.SqlQueryRaw<int>(
                "SELECT stock FROM products WHERE id = @id AND deleted_at IS NULL",
                new SqliteParameter("@id", productId)).ToListAsync(ct);
        return stock.Count == 1 ? stock[0] : null;
    }

    private static NpgsqlParameter PgArray<T>(string name, T[] values, NpgsqlDbType elementType) =>
        new NpgsqlParameter<T[]>(name, NpgsqlDbType.Array | elementType) { TypedValue = values };

    private static NpgsqlParameter PgNow(DateTime now) =>
        new NpgsqlParameter<DateTime>("now", NpgsqlDbType.TimestampTz) { TypedValue = now };

    private static string JsonArray(long[] values)
    {
        var sb = new StringBuilder(values.Length * 8).Append('[');
        for (var k = 0; k < values.Length; k++)
        {
            if (k > 0)
            {
                sb.Append(',');
            }
            sb.Append(Inv(values[k]));
        }
        return sb.Append(']').ToString();
    }

    private static string Inv(long v) => v.ToString(CultureInfo.InvariantCulture);
}
