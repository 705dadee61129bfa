using System.Text;
using ExBuy.Api.Common;
using ExBuy.Api.Data;
using ExBuy.Api.Data.Entities;
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
    /// <summary>
    /// Places <paramref name="orders"/> all-or-nothing in one transaction, in a constant number of statements whatever
    /// the batch size: lock the products (ascending id), check, decrement the stock aggregated per product across the
    /// batch, insert the orders, insert the items. unit_price is the locked row's price, so it is the price at that
    /// moment; money stays decimal (<see cref="StockSql"/> converts to cents for SQLite).
    /// </summary>
    /// <param name="bulk">Error keys and messages name <c>orders[i]</c> when true.</param>
    internal static async Task<OrderOutcome> PlaceAsync(ExBuyDb db, OrderLines[] orders, bool bulk, CancellationToken ct)
    {
        var demand = new Dictionary<long, int>();
        foreach (var order in orders)
        {
            foreach (var line in order.Lines)
            {
                demand[line.ProductId] = demand.GetValueOrDefault(line.ProductId) + line.Quantity;
            }
        }
        var ids = demand.Keys.ToArray();
        Array.Sort(ids);

        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var products = (await StockSql.LockProductsAsync(db, ids, ct)).ToDictionary(p => p.Id);

        var errors = new ValidationErrors();
        var totals = new decimal[orders.Length];
        for (var i = 0; i < orders.Length; i++)
        {
            var prefix = bulk ? $"orders[{i}]." : "";
            for (var j = 0; j < orders[i].Lines.Length; j++)
            {
                var line = orders[i].Lines[j];
                if (products.TryGetValue(line.ProductId, out var product))
                {
                    totals[i] += line.Quantity * product.Price;
                }
                else
                {
                    errors.Add($"{prefix}items[{j}].product_id", $"Product {line.ProductId} does not exist.");
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

        var shortages = Shortages(orders, ids, demand, products, bulk);
        if (shortages is not null)
        {
            return new OrderOutcome.Conflict(shortages);
        }

        var now = Clock.UtcNow();
        var decremented = await StockSql.DecrementAsync(db, ids, [.. ids.Select(id => demand[id])], now, ct);
        if (decremented != ids.Length)
        {
            // Unreachable while the rows are locked; the conditional update is the last guard before the CHECK.
            return new OrderOutcome.Conflict("Stock changed concurrently; nothing was written, retry.");
        }

        var orderIds = await StockSql.InsertOrdersAsync(
            db, [.. orders.Select(o => o.UserId)], totals, OrderStatus.Pending, now, ct);

        var lineCount = orders.Sum(o => o.Lines.Length);
        var itemOrderIds = new long[lineCount];
        var itemProductIds = new long[lineCount];
        var itemQuantities = new int[lineCount];
        var itemPrices = new decimal[lineCount];
        var k = 0;
        for (var i = 0; i < orders.Length; i++)
        {
            foreach (var line in orders[i].Lines)
            {
                itemOrderIds[k] = orderIds[i];
                itemProductIds[k] = line.ProductId;
                itemQuantities[k] = line.Quantity;
                itemPrices[k] = products[line.ProductId].Price;
                k++;
            }
        }
        var inserted = await StockSql.InsertItemsAsync(db, itemOrderIds, itemProductIds, itemQuantities, itemPrices, ct);
        await tx.CommitAsync(ct);

        var itemIds = inserted.ToDictionary(x => (x.OrderId, x.ProductId), x => x.Id);
        var result = new OrderDto[orders.Length];
        for (var i = 0; i < orders.Length; i++)
        {
            var items = orders[i].Lines
                .Select(line =>
                {
                    var product = products[line.ProductId];
                    return OrderQueries.Item(itemIds[(orderIds[i], line.ProductId)], line.ProductId, product.Name,
                        line.Quantity, product.Price);
                })
                .OrderBy(item => item.Id) // as GET /api/orders/{id} lists them
                .ToArray();
            result[i] = new OrderDto(orderIds[i], orders[i].UserId, OrderStatus.Pending, totals[i], now, now, items);
        }
        return new OrderOutcome.Done(result);
    }

    /// <summary>The 409 detail naming every product the batch wants more of than is in stock, or null.</summary>
    private static string? Shortages(OrderLines[] orders, long[] ids, Dictionary<long, int> demand,
        Dictionary<long, StockSql.LockedProduct> products, bool bulk)
    {
        StringBuilder? detail = null;
        foreach (var id in ids)
        {
            var stock = products[id].Stock;
            if (demand[id] <= stock)
            {
                continue;
            }
            detail = detail is null ? new StringBuilder("Insufficient stock: ") : detail.Append("; ");
            if (!bulk)
            {
                detail.Append($"product {id} has {stock}, the order needs {demand[id]}");
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
            detail.Append($"product {id} has {stock}, the batch needs {demand[id]} (runs out at orders[{at}])");
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
    public static async Task<OrderOutcome> ChangeStatusAsync(ExBuyDb db, long id, string to, CancellationToken ct)
    {
        var order = await OrderQueries.LoadOptimizedAsync(db, id, ct);
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
                        await StockSql.RestockAsync(db, id, now, ct);
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
