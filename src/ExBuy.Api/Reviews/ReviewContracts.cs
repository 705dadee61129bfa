namespace ExBuy.Api.Reviews;

/// <summary>Review (contract: Resources); <c>product</c> is the product id.</summary>
public sealed record ReviewDto(
    long Id,
    long Product,
    string ProductName,
    long UserId,
    int Rating,
    string Body,
    DateTime CreatedAt);

/// <summary>POST /api/reviews body. Fields are nullable so "missing" and "0" differ and the error names the field.</summary>
public sealed record CreateReviewRequest(long? Product, long? UserId, int? Rating, string? Body);
