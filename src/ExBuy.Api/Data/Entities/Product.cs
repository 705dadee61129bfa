namespace ExBuy.Api.Data.Entities;

public sealed class Product
{
    public long Id { get; set; }
    public required string Name { get; set; }
    public decimal Price { get; set; }
    public int Stock { get; set; }
    public required string Category { get; set; }

    /// <summary>App-managed concurrency token (contract: "versioned" reservation); bumped on every stock change.</summary>
    public long Version { get; set; }

    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
    public DateTime? DeletedAt { get; set; }

    public List<Review> Reviews { get; set; } = [];
    public List<OrderItem> OrderItems { get; set; } = [];
}
