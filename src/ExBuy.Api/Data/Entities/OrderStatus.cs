namespace ExBuy.Api.Data.Entities;

/// <summary>Order status values and the transition table of the contract (Orders: PATCH transitions).</summary>
public static class OrderStatus
{
    public const string Pending = "pending";
    public const string Paid = "paid";
    public const string Shipped = "shipped";
    public const string Delivered = "delivered";
    public const string Cancelled = "cancelled";

    public static readonly string[] All = [Pending, Paid, Shipped, Delivered, Cancelled];

    public static bool IsKnown(string? status) => status is Pending or Paid or Shipped or Delivered or Cancelled;

    /// <summary>pending→paid→shipped→delivered and pending|paid→cancelled; same status is handled by the caller as a no-op.</summary>
    public static bool CanMove(string from, string to) => (from, to) switch
    {
        (Pending, Paid) or (Paid, Shipped) or (Shipped, Delivered) => true,
        (Pending, Cancelled) or (Paid, Cancelled) => true,
        _ => false,
    };
}
