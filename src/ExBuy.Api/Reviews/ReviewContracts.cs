using ExBuy.Api.Common;

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
public sealed record CreateReviewRequest(long? Product, long? UserId, int? Rating, string? Body)
{
    public const int MinRating = 1;
    public const int MaxRating = 5;
    public const int MaxBodyLength = 2000;

    /// <summary>Shape checks (contract #12); whether the product exists and is live is the handler's question.</summary>
    public ValidationErrors Validate()
    {
        var errors = new ValidationErrors();
        PositiveId(errors, "product", Product);
        PositiveId(errors, "user_id", UserId);
        if (Rating is null)
        {
            errors.Add("rating", Messages.Required);
        }
        else if (Rating is < MinRating or > MaxRating)
        {
            errors.Add("rating", $"Must be between {MinRating} and {MaxRating}.");
        }
        ValidateBody(errors, Body);
        return errors;
    }

    private static void PositiveId(ValidationErrors errors, string field, long? value)
    {
        if (value is null)
        {
            errors.Add(field, Messages.Required);
        }
        else if (value < 1)
        {
            errors.Add(field, "Must be a positive integer.");
        }
    }

    /// <summary>
    /// 1..2000 characters counted as code points (what varchar(2000) and Django's max_length count), not blank, and
    /// text PostgreSQL can store (no NUL, no unpaired surrogate), so a bad body is a 400, never a 500.
    /// </summary>
    private static void ValidateBody(ValidationErrors errors, string? body)
    {
        if (body is null)
        {
            errors.Add("body", Messages.Required);
            return;
        }
        if (string.IsNullOrWhiteSpace(body))
        {
            errors.Add("body", "This field may not be blank.");
            return;
        }
        if (body.Contains('\0'))
        {
            errors.Add("body", "Null characters are not allowed.");
            return;
        }
        var length = 0;
        for (var i = 0; i < body.Length; i++, length++)
        {
            if (char.IsHighSurrogate(body[i]) && i + 1 < body.Length && char.IsLowSurrogate(body[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(body[i]))
            {
                errors.Add("body", "Contains an invalid character (unpaired surrogate).");
                return;
            }
        }
        if (length > MaxBodyLength)
        {
            errors.Add("body", $"Ensure this field has no more than {MaxBodyLength} characters (it has {length}).");
        }
    }
}

/// <summary>Query of <c>GET /api/reviews</c> (contract #13): optional filters, newest first, paginated.</summary>
public sealed record ReviewListQuery(long? ProductId, long? UserId, int? Rating, PageRequest Page, bool Optimize)
    : IPagedQuery<ReviewListQuery>
{
    public static ReviewListQuery Parse(IQueryCollection query, ValidationErrors errors)
    {
        var productId = QueryParsing.OptionalLong(query, "product_id", 1, long.MaxValue, errors);
        var userId = QueryParsing.OptionalLong(query, "user_id", 1, long.MaxValue, errors);
        var rating = QueryParsing.OptionalLong(query, "rating", CreateReviewRequest.MinRating, CreateReviewRequest.MaxRating, errors);
        var page = PageRequest.Parse(query, errors);
        var optimize = QueryParsing.Flag(query, "optimize", errors);
        return new ReviewListQuery(productId, userId, (int?)rating, page, optimize);
    }
}
