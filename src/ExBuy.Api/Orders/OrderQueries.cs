using ExBuy.Api.Data;
using Microsoft.EntityFrameworkCore;

namespace ExBuy.Api.Orders;

/// <summary>
/// GET /api/orders/{id} (contract #7, <i>optimize</i>): the naive path here, the optimized one in
/// <see cref="OrderDetailQuery"/>; same output.
/// Items are ordered by item id on both; <c>product_name</c> shows soft-deleted products too (orders keep showing them).
/// </summary>
public static class OrderQueries
{
    /// <summary>
    /// The naive ORM path: the order tracked, then its items loaded lazily, then each item's product one by one — the
    /// classic N+1, 2 + items queries. (No lazy-loading proxies in this app: explicit loading through the change
    /// tracker issues exactly the queries a lazy navigation would.)
    /// </summary>
    public static async Task<OrderDto?> LoadNaiveAsync(ExBuyDb db, long id, CancellationToken ct)
    {
        var order = await db.Orders.AsTracking().FirstOrDefaultAsync(o => o.Id == id, ct);
        if (order is null)
        {
            return null;
        }
        await db.Entry(order).Collection(o => o.Items).LoadAsync(ct);
        var items = new List<OrderItemDto>(order.Items.Count);
        foreach (var item in order.Items.OrderBy(i => i.Id))
        {
            await db.Entry(item).Reference(i => i.Product).LoadAsync(ct);
            items.Add(Item(item.Id, item.ProductId, item.Product!.Name, item.Quantity, item.UnitPrice));
        }
        return new OrderDto(order.Id, order.UserId, order.Status, order.TotalPrice, order.CreatedAt, order.UpdatedAt, items);
    }

    /// <summary>Subtotal is computed here, not in SQL, so both engines and both paths produce the same decimal.</summary>
    internal static OrderItemDto Item(long id, long productId, string name, int quantity, decimal unitPrice) =>
        new(id, productId, name, quantity, unitPrice, quantity * unitPrice);
}
