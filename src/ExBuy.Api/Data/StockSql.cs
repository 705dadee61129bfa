using System.Globalization;
using System.Text;

namespace ExBuy.Api.Data;

/// <summary>
/// The hand-written, engine-specific SQL of orders, cancellation and reservations: one implementation per engine
/// (<see cref="PostgresStockSql"/>, <see cref="SqliteStockSql"/>), chosen once by the <see cref="ExBuyDb"/> subclass.
/// Everything runs through the DbContext so X-Query-Count sees it. The rules both keep:
/// <list type="bullet">
/// <item>Every stock change is a conditional update (<c>stock &gt;= q</c>), so stock cannot go below 0 even without the
/// CHECK constraint, and bumps <c>version</c> and <c>updated_at</c>, so the versioned reservation's compare-and-swap sees
/// every other writer.</item>
/// <item>Writers that touch several products lock them in ascending id order, so two of them over the same products
/// wait for each other instead of deadlocking.</item>
/// <item>Set-based: one statement per step whatever the number of rows.</item>
/// </list>
/// </summary>
public interface IStockSql
{
    /// <summary>
    /// Places a batch of orders all-or-nothing: when <see cref="OrderBatch.CanPlace"/> holds for the live products
    /// as they are once locked, stock is decremented and the orders and items are inserted; otherwise nothing is
    /// written and the caller diagnoses from <see cref="Placement.Products"/>.
    /// </summary>
    Task<Placement> PlaceOrdersAsync(ExBuyDb db, OrderBatch batch, string status, DateTime now, CancellationToken ct);

    /// <summary>Puts an order's quantities back into stock (cancellation), in the caller's transaction.</summary>
    Task RestockAsync(ExBuyDb db, long orderId, DateTime now, CancellationToken ct);

    /// <summary>
    /// The optimistic reservation (the original's <c>F('stock') - q</c>): one conditional atomic update, no lock held
    /// across round trips. Returns the remaining stock, or null when nothing was updated (unknown, deleted, or not
    /// enough stock).
    /// </summary>
    Task<int?> ReserveAtomicAsync(ExBuyDb db, long productId, int quantity, DateTime now, CancellationToken ct);

    /// <summary>
    /// The pessimistic reservation's row lock, held until the caller's transaction ends. Returns the live product's
    /// stock, or null when it is unknown or deleted.
    /// </summary>
    Task<int?> LockStockAsync(ExBuyDb db, long productId, CancellationToken ct);
}

/// <summary>A live product as the order placement saw it, locked.</summary>
public sealed record LockedProduct(long Id, string Name, decimal Price, int Stock);

/// <summary>
/// What placing a batch came to: the live products it locked (unknown or deleted ids are absent) and, when it was
/// written, the new order ids in request order and the item id of each (order id, product id).
/// </summary>
public sealed record Placement(
    IReadOnlyDictionary<long, LockedProduct> Products,
    long[]? OrderIds,
    IReadOnlyDictionary<(long OrderId, long ProductId), long>? ItemIds)
{
    public bool Written => OrderIds is not null;
}

/// <summary>
/// A batch of orders in the columns the SQL binds: the distinct products in ascending id order with the quantity the
/// whole batch wants of each, one user id per order, and the lines (order index, product, quantity) in request order.
/// </summary>
public sealed class OrderBatch
{
    public OrderBatch(long[] userIds, int[] lineOrder, long[] lineProduct, int[] lineQuantity)
    {
        UserIds = userIds;
        LineOrder = lineOrder;
        LineProduct = lineProduct;
        LineQuantity = lineQuantity;
        var demand = new SortedDictionary<long, int>();
        for (var k = 0; k < lineProduct.Length; k++)
        {
            demand[lineProduct[k]] = demand.GetValueOrDefault(lineProduct[k]) + lineQuantity[k];
        }
        ProductIds = [.. demand.Keys];
        Demand = [.. demand.Values];
    }

    public long[] ProductIds { get; }

    public int[] Demand { get; }

    public long[] UserIds { get; }

    public int[] LineOrder { get; }

    public long[] LineProduct { get; }

    public int[] LineQuantity { get; }

    /// <summary>Σ quantity × price per order at the locked prices (0 for lines whose product is missing).</summary>
    public decimal[] Totals(IReadOnlyDictionary<long, LockedProduct> products)
    {
        var totals = new decimal[UserIds.Length];
        for (var k = 0; k < LineProduct.Length; k++)
        {
            if (products.TryGetValue(LineProduct[k], out var product))
            {
                totals[LineOrder[k]] += LineQuantity[k] * product.Price;
            }
        }
        return totals;
    }

    /// <summary>
    /// The batch can be written: every product is live, the stock of each covers the batch's demand, and no order's
    /// total exceeds numeric(12,2). The PostgreSQL statement evaluates the same three conditions in SQL.
    /// </summary>
    public bool CanPlace(IReadOnlyDictionary<long, LockedProduct> products)
    {
        for (var k = 0; k < ProductIds.Length; k++)
        {
            if (!products.TryGetValue(ProductIds[k], out var product) || product.Stock < Demand[k])
            {
                return false;
            }
        }
        return Totals(products).All(t => t <= Money.Max);
    }
}

/// <summary>The statements whose text is the same on both engines (only their parameters differ).</summary>
internal static class SharedStockSql
{
    /// <summary>Cancellation: the order's quantities back into stock (PostgreSQL locks the rows in id order first).</summary>
    public const string Restock =
        """
        UPDATE products AS p
        SET stock = p.stock + i.quantity, version = p.version + 1, updated_at = @now
        FROM order_items AS i
        WHERE i.order_id = @order_id AND p.id = i.product_id
        """;

    /// <summary>The optimistic reservation: one conditional atomic update.</summary>
    public const string ReserveAtomic =
        """
        UPDATE products
        SET stock = stock - @q, version = version + 1, updated_at = @now
        WHERE id = @id AND deleted_at IS NULL AND stock >= @q
        RETURNING stock
        """;
}

/// <summary>Invariant-culture integers for SQL text that carries values as JSON (SQLite's json_each).</summary>
internal static class SqlText
{
    public static string Inv(long v) => v.ToString(CultureInfo.InvariantCulture);

    /// <summary>A JSON array of integers: <c>[1,2,3]</c>.</summary>
    public static string Array(long[] values) => "[" + string.Join(',', values.Select(Inv)) + "]";

    /// <summary>A JSON array of rows, each row a JSON array of integers: <c>[[1,2],[3,4]]</c>.</summary>
    public static string Rows(int count, int width, Func<int, int, long> cell)
    {
        var sb = new StringBuilder(count * width * 8).Append('[');
        for (var r = 0; r < count; r++)
        {
            sb.Append(r == 0 ? "[" : ",[");
            for (var c = 0; c < width; c++)
            {
                sb.Append(c == 0 ? "" : ",").Append(Inv(cell(r, c)));
            }
            sb.Append(']');
        }
        return sb.Append(']').ToString();
    }
}
