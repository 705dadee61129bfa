using ExBuy.Api.Common;
using ExBuy.Api.Data;
using ExBuy.Api.OpenApi;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace ExBuy.Api.Stats;

public static class StatsApi
{
    public const int DefaultLimit = 10;
    public const int MaxLimit = 100;

    public static IEndpointRouteBuilder MapStats(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/stats").WithTags("Stats");
        group.MapGet("/top-products", GetTopProducts).WithName("TopProducts").WithQuery(Query.Limit);
        return app;
    }

    /// <summary>#11: <c>?limit=</c> 1..100 (default 10), non-cancelled orders, deleted products excluded.</summary>
    public static async Task<Results<Ok<TopProductsResponse>, ValidationProblem>> GetTopProducts(
        HttpRequest request, [FromKeyedServices(DataSetup.Reads)] ExBuyDb db, CancellationToken ct)
    {
        var errors = new ValidationErrors();
        var limit = QueryParsing.Int(request.Query, "limit", DefaultLimit, 1, MaxLimit, errors);
        if (!errors.IsValid)
        {
            return TypedResults.ValidationProblem(errors);
        }
        var results = await StatsQueries.TopProducts(db, limit).ToListAsync(ct);
        return TypedResults.Ok(new TopProductsResponse(limit, results));
    }
}
