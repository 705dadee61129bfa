using ExBuy.Api.Data;
using ExBuy.Api.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace ExBuy.Api.Stats;

public static class StatsQueries
{
    /// <summary>
    /// #11 as one aggregate query: order_items ⋈ orders (not cancelled) ⋈ products (live), grouped by product, ordered
    /// by units_sold DESC, product_id ASC, limited in SQL. order_count counts the product's orders: (order_id,
    /// product_id) is unique (ux_order_items_order_id_product_id), so each order contributes one row per product and
    /// COUNT(*) equals COUNT(DISTINCT order_id) without the per-group sort DISTINCT costs. Revenue sums
    /// quantity × unit_price in SQL (numeric on PostgreSQL, integer cents on SQLite).
    /// </summary>
    public static IQueryable<TopProductDto> TopProducts(ExBuyDb db, int limit) =>
        db.OrderItems
            .Where(i => i.Order!.Status != OrderStatus.Cancelled && i.Product!.DeletedAt == null)
            .GroupBy(i => new { i.ProductId, i.Product!.Name })
            .Select(g => new
            {
                g.Key.ProductId,
                g.Key.Name,
                UnitsSold = g.Sum(i => (long)i.Quantity),
                Revenue = g.Sum(i => i.Quantity * i.UnitPrice),
                OrderCount = g.LongCount(),
            })
            .OrderByDescending(p => p.UnitsSold)
            .ThenBy(p => p.ProductId)
            .Take(limit)
            .Select(p => new TopProductDto(p.ProductId, p.Name, p.UnitsSold, p.Revenue, p.OrderCount));
}
