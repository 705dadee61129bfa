using ExBuy.Api.Common;
using ExBuy.Api.Data.Entities;

namespace ExBuy.Api.Orders;

public sealed record OrderDto(
    long Id,
    long UserId,
    string Status,
    decimal TotalPrice,
    DateTime CreatedAt,
    DateTime UpdatedAt,
    IReadOnlyList<OrderItemDto> Items);

/// <summary>OrderItem; <c>subtotal = quantity * unit_price</c>.</summary>
public sealed record OrderItemDto(long Id, long ProductId, string ProductName, int Quantity, decimal UnitPrice, decimal Subtotal);

/// <summary>POST /api/orders body and each element of a bulk request.</summary>
public sealed record CreateOrderRequest(long? UserId, List<OrderItemRequest?>? Items)
{
    public const int MaxItems = 50;
    public const int MaxQuantity = 1000;

    public ValidationErrors Validate()
    {
        var errors = new ValidationErrors();
        Validate(errors, "");
        return errors;
    }

    /// <summary>Adds errors keyed <c>{prefix}user_id</c>, <c>{prefix}items[i].quantity</c>, ... (contract: Orders).</summary>
    internal void Validate(ValidationErrors errors, string prefix)
    {
        switch (UserId)
        {
            case null:
                errors.Add(prefix + "user_id", Messages.Required);
                break;
            case < 1:
                errors.Add(prefix + "user_id", Messages.AtLeast(1));
                break;
        }
        switch (Items)
        {
            case null:
                errors.Add(prefix + "items", Messages.Required);
                return;
            case { Count: 0 }:
                errors.Add(prefix + "items", "At least one item is required.");
                return;
            case { Count: > MaxItems }:
                errors.Add(prefix + "items", $"Ensure this field has no more than {MaxItems} items (it has {Items.Count}).");
                return;
        }
        var seen = new HashSet<long>();
        for (var i = 0; i < Items.Count; i++)
        {
            var key = $"{prefix}items[{i}]";
            if (Items[i] is not { } item)
            {
                errors.Add(key, Messages.NotNull);
                continue;
            }
            switch (item.ProductId)
            {
                case null:
                    errors.Add(key + ".product_id", Messages.Required);
                    break;
                case < 1:
                    errors.Add(key + ".product_id", Messages.AtLeast(1));
                    break;
                case { } id when !seen.Add(id):
                    errors.Add(key + ".product_id", $"Product {id} appears more than once in this order.");
                    break;
            }
            switch (item.Quantity)
            {
                case null:
                    errors.Add(key + ".quantity", Messages.Required);
                    break;
                case < 1 or > MaxQuantity:
                    errors.Add(key + ".quantity", Messages.Between(1, MaxQuantity));
                    break;
            }
        }
    }

    /// <summary>The validated order (call after <see cref="Validate()"/> found nothing).</summary>
    internal OrderLines ToLines() =>
        new(UserId!.Value, Items!.Select(i => new OrderLine(i!.ProductId!.Value, i.Quantity!.Value)).ToArray());
}

public sealed record OrderItemRequest(long? ProductId, int? Quantity);

/// <summary>A validated order: who, and which products in which quantities (product ids distinct).</summary>
internal sealed record OrderLines(long UserId, OrderLine[] Lines);

internal readonly record struct OrderLine(long ProductId, int Quantity);

/// <summary>PATCH /api/orders/{id} body.</summary>
public sealed record UpdateOrderStatusRequest(string? Status)
{
    public ValidationErrors Validate()
    {
        var errors = new ValidationErrors();
        if (Status is null)
        {
            errors.Add("status", Messages.Required);
        }
        else if (!OrderStatus.IsKnown(Status))
        {
            errors.Add("status", $"\"{Status}\" is not a valid choice: use one of {string.Join(", ", OrderStatus.All)}.");
        }
        return errors;
    }
}

/// <summary>POST /api/orders/bulk body: 1..100 orders, all-or-nothing.</summary>
public sealed record BulkOrdersRequest(List<CreateOrderRequest?>? Orders)
{
    public const int MaxOrders = 100;

    /// <summary>Errors keyed <c>orders</c>, <c>orders[i]</c>, <c>orders[i].items[j].quantity</c>, ...</summary>
    public ValidationErrors Validate()
    {
        var errors = new ValidationErrors();
        switch (Orders)
        {
            case null:
                errors.Add("orders", Messages.Required);
                return errors;
            case { Count: 0 }:
                errors.Add("orders", "At least one order is required.");
                return errors;
            case { Count: > MaxOrders }:
                errors.Add("orders", $"Ensure this field has no more than {MaxOrders} orders (it has {Orders.Count}).");
                return errors;
        }
        for (var i = 0; i < Orders.Count; i++)
        {
            if (Orders[i] is { } order)
            {
                order.Validate(errors, $"orders[{i}].");
            }
            else
            {
                errors.Add($"orders[{i}]", Messages.NotNull);
            }
        }
        return errors;
    }
}

public sealed record BulkOrdersResponse(int Created, IReadOnlyList<OrderDto> Orders);
