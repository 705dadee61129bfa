namespace ExBuy.Api.Data.Entities;

public sealed class Review
{
    public long Id { get; set; }
    public long ProductId { get; set; }
    public Product? Product { get; set; }
    public long UserId { get; set; }
    public int Rating { get; set; }
    public required string Body { get; set; }
    public DateTime CreatedAt { get; set; }
}
