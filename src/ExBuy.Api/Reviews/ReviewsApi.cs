using ExBuy.Api.Common;
using ExBuy.Api.Data;
using ExBuy.Api.OpenApi;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ExBuy.Api.Reviews;

public static class ReviewsApi
{
    public static IEndpointRouteBuilder MapReviews(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/reviews").WithTags("Reviews");
        group.MapPost("", CreateReview).WithName("CreateReview");
        group.MapGet("", ListReviews).WithName("ListReviews").WithOptimizeFlag()
            .WithQuery([.. Query.ReviewFilters, .. Query.Pagination]);
        return app;
    }

    /// <summary>Contract #12: 201 + Review; an unknown or deleted product is a 400 on <c>product</c>.</summary>
    public static async Task<Results<Created<ReviewDto>, ValidationProblem>> CreateReview(
        CreateReviewRequest? request, ExBuyDb db, CancellationToken ct)
    {
        if (request is null)
        {
            return TypedResults.ValidationProblem(ValidationErrors.BodyRequired());
        }
        var errors = request.Validate();
        if (!errors.IsValid)
        {
            return TypedResults.ValidationProblem(errors);
        }
        var review = await ReviewQueries.CreateAsync(db, request, ct);
        if (review is null)
        {
            return TypedResults.ValidationProblem(new ValidationErrors { { "product", "Unknown or deleted product." } });
        }
        return TypedResults.Created((string?)null, review);
    }

    /// <summary>Contract #13: reviews of live products, filtered, newest first, paginated.</summary>
    public static Task<Results<Ok<Page<ReviewDto>>, ValidationProblem, NotFound, ProblemHttpResult>> ListReviews(
        HttpRequest request, [FromKeyedServices(DataSetup.Reads)] ExBuyDb db, CancellationToken ct) =>
        Paged.ListAsync<ReviewListQuery, ReviewDto>(request, db,
            q => q.Optimize ? ReviewQueries.Optimized.CountAsync(db, q, ct) : ReviewQueries.Naive.CountAsync(db, q, ct),
            q => q.Optimize ? ReviewQueries.Optimized.PageAsync(db, q, ct) : ReviewQueries.Naive.PageAsync(db, q, ct),
            ct);
}
