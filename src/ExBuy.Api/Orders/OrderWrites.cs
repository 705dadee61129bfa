using System.Text;
using ExBuy.Api.Common;
using ExBuy.Api.Data;
using ExBuy.Api.Data.Entities;
using ExBuy.Api.Observability;
using Microsoft.EntityFrameworkCore;

namespace ExBuy.Api.Orders;

/// <summary>What placing orders or changing a status came to; the handler turns it into 201/200, 400, 404 or 409.</summary>
public abstract record OrderOutcome
{
    public sealed record Done(IReadOnlyList<OrderDto> Orders) : OrderOutcome;

    /// <summary>400: unknown/deleted products (or an unrepresentable total), keyed by the item's field path.</summary>
    public sealed record Invalid(ValidationErrors Errors) : OrderOutcome;

    public sealed record Conflict(string Detail) : OrderOutcome;

    public sealed record Missing : OrderOutcome;
}

/// <summary>
/// Order creation (one order or a bulk batch: the same set-based path) and status transitions (contract: Orders).
/// Every write is one transaction; nothing is written on any failure.
/// </summary>
public static class OrderWrites
{
    /// <summary>Route templates, as ASP.NET Core's http_route label spells them (metrics join on it).</summary>
    public const string CreateRoute = "/api/orders/";

    public const string BulkRoute = "/api/orders/bulk";

    /// <summary>
    /// Places <paramref name="orders"/> all-or-nothing, in a constant number of statements whatever the batch size
    /// (on PostgreSQL one): lock the products (ascending id), check, decrement the stock aggregated per product across
    /// the batch, insert the orders, insert the items (<see cref="IStockSql.PlaceOrdersAsync"/>). unit_price is the
    /// locked row's price, so it is the price at that moment. When nothing was written, the products as they were
    /// locked say why: unknown or deleted products (400), an unrepresentable total (400) or short stock (409).
    /// </summary>
    /// <param name="bulk">Error keys and messages name <c>orders[i]</c> when true.</param>
    internal static async Task<OrderOutcome> PlaceAsync(ExBuyDb db, OrderLines[] orders, bool bulk, CancellationToken ct)
    {
        var lines = orders.SelectMany((o, i) => o.Lines.Select(l => (Order: i, Line: l))).ToArray();
        var batch = new OrderBatch(
            [.. orders.Select(o => o.UserId)], [.. lines.Select(x => x.Order)],
            [.. lines.Select(x => x.Line.ProductId)], [.. lines.Select(x => x.Line.Quantity)]);
        var now = Clock.UtcNow();
        var placement = await db.Stock.PlaceOrdersAsync(db, batch, OrderStatus.Pending, now, ct);
        var products = placement.Products;
        var totals = batch.Totals(products);
        var route = bulk ? BulkRoute : CreateRoute;
        if (!placement.Written)
        {
            var refusal = Refusal(orders, batch, products, totals, bulk);
            if (refusal is OrderOutcome.Conflict)
            {
                // Placement locks the product rows, then checks: the pessimistic technique.
                ExBuyMetrics.StockConflict(route, Inventory.Reservations.Pessimistic, "insufficient");
            }
            return refusal;
        }
        ExBuyMetrics.OrdersCommitted(route, orders.Length, batch.LineQuantity.Sum(q => (long)q));

        var result = new OrderDto[orders.Length];
        for (var i = 0; i < orders.Length; i++)
        {
            var orderId = placement.OrderIds![i];
            var items = orders[i].Lines
                .Select(line =>
                {
                    var product = products[line.ProductId];
                    return OrderQueries.Item(placement.ItemIds![(orderId, line.ProductId)], line.ProductId, product.Name,
                        line.Quantity, product.Price);
                })
                .OrderBy(item => item.Id) // as GET /api/orders/{id} lists them
                .ToArray();
            result[i] = new OrderDto(orderId, orders[i].UserId, OrderStatus.Pending, totals[i], now, now, items);
        }
        return new OrderOutcome.Done(result);
    }

    /// <summary>Why a batch was not written, from the products as they were locked (400s before the 409).</summary>
    private static OrderOutcome Refusal(OrderLines[] orders, OrderBatch batch,
        IReadOnlyDictionary<long, LockedProduct> products, decimal[] totals, bool bulk)
    {
        var errors = new ValidationErrors();
        for (var i = 0; i < orders.Length; i++)
        {
            var prefix = bulk ? $"orders[{i}]." : "";
            for (var j = 0; j < orders[i].Lines.Length; j++)
            {
                var productId = orders[i].Lines[j].ProductId;
                if (!products.ContainsKey(productId))
                {
                    errors.Add($"{prefix}items[{j}].product_id", $"Product {productId} does not exist.");
                }
            }
            // total_price is numeric(12,2): an order worth more cannot be stored (and must not become a 500).
            if (totals[i] > Money.Max)
            {
                errors.Add(prefix + "items", $"The order total exceeds {Money.Max}.");
            }
        }
        if (!errors.IsValid)
        {
            return new OrderOutcome.Invalid(errors);
        }
        return new OrderOutcome.Conflict(Shortages(orders, batch, products, bulk)
            ?? throw new InvalidOperationException("A batch was refused although every check passes."));
    }

    /// <summary>The 409 detail naming every product the batch wants more of than is in stock, or null.</summary>
    private static string? Shortages(OrderLines[] orders, OrderBatch batch,
        IReadOnlyDictionary<long, LockedProduct> products, bool bulk)
    {
        StringBuilder? detail = null;
        for (var k = 0; k < batch.ProductIds.Length; k++)
        {
            var (id, demand) = (batch.ProductIds[k], batch.Demand[k]);
            var stock = products[id].Stock;
            if (demand <= stock)
            {
                continue;
            }
            detail = detail is null ? new StringBuilder("Insufficient stock: ") : detail.Append("; ");
            if (!bulk)
            {
                detail.Append($"product {id} has {stock}, the order needs {demand}");
                continue;
            }
            // Name the first order at which the batch runs out of this product.
            var running = 0;
            var at = 0;
            for (var i = 0; i < orders.Length; i++)
            {
                running += orders[i].Lines.Where(l => l.ProductId == id).Sum(l => l.Quantity);
                if (running > stock)
                {
                    at = i;
                    break;
                }
            }
            detail.Append($"product {id} has {stock}, the batch needs {demand} (runs out at orders[{at}])");
        }
        return detail?.Append(". Nothing was written.").ToString();
    }

    /// <summary>
    /// PATCH /api/orders/{id}: the transition itself is a conditional update (<c>... WHERE id = @id AND status =
    /// @from</c>), so of two concurrent requests on one order exactly one moves it from a given status: cancel + ship
    /// → one wins, the other re-reads the new status and gets 409; two cancels → the second sees "cancelled" and is a
    /// no-op, so stock is put back once. Cancelling restocks in the same transaction. The decision is taken on an
    /// unlocked read (the conditional update re-checks it), so no-ops and 409s never take a write lock.
    /// </summary>
    public static async Task<OrderOutcome> ChangeStatusAsync(ExBuyDb db, OrderDetailQuery detail, long id, string to, CancellationToken ct)
    {
        await db.KeepConnectionOpenAsync(ct);
        var order = await detail.RunAsync(db, id, ct);
        if (order is null)
        {
            return new OrderOutcome.Missing();
        }
        // Statuses only move forward, so a lost race can repeat at most once per status.
        for (var attempt = 0; attempt < OrderStatus.All.Length; attempt++)
        {
            if (order.Status == to)
            {
                return new OrderOutcome.Done([order]);
            }
            if (!OrderStatus.CanMove(order.Status, to))
            {
                return new OrderOutcome.Conflict($"Order {id} is {order.Status}; it cannot become {to}.");
            }
            var from = order.Status;
            var now = Clock.UtcNow();
            await using (var tx = await db.Database.BeginTransactionAsync(ct))
            {
                var moved = await db.Orders
                    .Where(o => o.Id == id && o.Status == from)
                    .ExecuteUpdateAsync(s => s.SetProperty(o => o.Status, to).SetProperty(o => o.UpdatedAt, now), ct);
                if (moved == 1)
                {
                    if (to == OrderStatus.Cancelled)
                    {
                        await db.Stock.RestockAsync(db, id, now, ct);
                    }
                    await tx.CommitAsync(ct);
                    return new OrderOutcome.Done([order with { Status = to, UpdatedAt = now }]);
                }
            }
            // A concurrent request moved it first: decide again from the status that won.
            var current = await db.Orders.Where(o => o.Id == id)
                .Select(o => new { o.Status, o.UpdatedAt })
                .FirstAsync(ct);
            order = order with { Status = current.Status, UpdatedAt = current.UpdatedAt };
        }
        return new OrderOutcome.Conflict($"Order {id} kept changing concurrently; retry.");
    }
}
