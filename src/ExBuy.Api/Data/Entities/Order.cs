namespace ExBuy.Api.Data.Entities;

public sealed class Order
{
    public long Id { get; set; }
    public long UserId { get; set; }
    public required string Status { get; set; }
    public decimal TotalPrice { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }

    public List<OrderItem> Items { get; set; } = [];
}
