namespace ExBuy.Api.Reviews;

public static class ReviewsApi
{
    public static IEndpointRouteBuilder MapReviews(this IEndpointRouteBuilder app) => app;
}
