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
public sealed record CreateOrderRequest(long? UserId, List<OrderItemRequest?>? Items);

public sealed record OrderItemRequest(long? ProductId, int? Quantity);

/// <summary>PATCH /api/orders/{id} body.</summary>
public sealed record UpdateOrderStatusRequest(string? Status);

/// <summary>POST /api/orders/bulk body: 1..100 orders, all-or-nothing.</summary>
public sealed record BulkOrdersRequest(List<CreateOrderRequest?>? Orders);

public sealed record BulkOrdersResponse(int Created, IReadOnlyList<OrderDto> Orders);
