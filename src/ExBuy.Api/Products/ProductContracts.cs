using ExBuy.Api.Reviews;

namespace ExBuy.Api.Products;

/// <summary>Product (contract: Resources). <c>avg_rating</c> is the mean rating rounded to 2 decimals, null without reviews.</summary>
public sealed record ProductDto(
    long Id,
    string Name,
    decimal Price,
    int Stock,
    string Category,
    DateTime CreatedAt,
    DateTime UpdatedAt,
    long ReviewCount,
    decimal? AvgRating);

/// <summary>ProductDetail = Product + up to 10 newest reviews.</summary>
public sealed record ProductDetailDto(
    long Id,
    string Name,
    decimal Price,
    int Stock,
    string Category,
    DateTime CreatedAt,
    DateTime UpdatedAt,
    long ReviewCount,
    decimal? AvgRating,
    IReadOnlyList<ReviewDto> RecentReviews);
