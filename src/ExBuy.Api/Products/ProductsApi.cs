using ExBuy.Api.Common;
using ExBuy.Api.Data;
using ExBuy.Api.Reviews;
using ExBuy.Api.OpenApi;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ExBuy.Api.Products;

public static class ProductsApi
{
    public static IEndpointRouteBuilder MapProducts(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/products").WithTags("Products");
        group.MapGet("", ListProducts).WithName("ListProducts").WithOptimizeFlag()
            .WithQuery([Query.Category, .. Query.PriceRange, Query.Ordering, .. Query.Pagination]);
        group.MapGet("/{id:long:min(1)}", GetProduct).WithName("GetProduct").WithOptimizeFlag();
        group.MapGet("/{id:long:min(1)}/reviews", ListProductReviews).WithName("ListProductReviews").WithOptimizeFlag()
            .WithQuery(Query.Pagination);
        group.MapDelete("/{id:long:min(1)}", DeleteProduct).WithName("DeleteProduct");
        return app;
    }

    public static IEndpointRouteBuilder MapSearch(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/search").WithTags("Products");
        group.MapGet("/products", SearchProducts).WithName("SearchProducts").WithOptimizeFlag()
            .WithQuery([Query.Text, Query.Category, Query.InStock, .. Query.Pagination]);
        return app;
    }

    /// <summary>Contract #2: filtered, ordered, paginated live products.</summary>
    public static Task<Results<Ok<Page<ProductDto>>, ValidationProblem, NotFound, ProblemHttpResult>> ListProducts(
        HttpRequest request, [FromKeyedServices(DataSetup.Reads)] ExBuyDb db, CancellationToken ct) =>
        Paged.ListAsync<ProductListQuery, ProductDto>(request, db,
            q => ProductQueries.CountAsync(db.Live().Filter(q), ct),
            q => q.Optimize
                ? ProductQueries.Optimized.PageAsync(db, db.Live().Filter(q), q.OrderBy, q.Descending, q.Page, ct)
                : ProductQueries.Naive.PageAsync(db, db.Live().Filter(q).Order(q.OrderBy, q.Descending), q.Page, ct),
            ct);

    /// <summary>Contract #3: ProductDetail with the 10 newest reviews.</summary>
    public static async Task<Results<Ok<ProductDetailDto>, ValidationProblem, NotFound>> GetProduct(
        long id, HttpRequest request, [FromKeyedServices(DataSetup.Reads)] ExBuyDb db, ProductDetailQuery detail, CancellationToken ct)
    {
        var errors = new ValidationErrors();
        var optimize = QueryParsing.Flag(request.Query, "optimize", errors);
        if (!errors.IsValid)
        {
            return TypedResults.ValidationProblem(errors);
        }
        await db.KeepConnectionOpenAsync(ct);
        var product = optimize
            ? await detail.RunAsync(db, id, ct)
            : await ProductQueries.Naive.DetailAsync(db, id, ct);
        return product is null ? TypedResults.NotFound() : TypedResults.Ok(product);
    }

    /// <summary>Contract #4: a live product's reviews, newest first; 404 for an unknown or deleted product.</summary>
    public static Task<Results<Ok<Page<ReviewDto>>, ValidationProblem, NotFound, ProblemHttpResult>> ListProductReviews(
        long id, HttpRequest request, [FromKeyedServices(DataSetup.Reads)] ExBuyDb db, ProductReviewsStatements optimized, CancellationToken ct) =>
        Paged.ListAsync<ProductReviewsQuery, ReviewDto>(request, db,
            q => q.Optimize
                ? optimized.CountAsync(db, id, ct)
                : ReviewQueries.Naive.CountForProductAsync(db, id, ct),
            q => q.Optimize
                ? optimized.PageAsync(db, id, q.Page, ct)
                : ReviewQueries.Naive.ProductPageAsync(db, id, q.Page, ct),
            ct);

    /// <summary>Contract #5: case-insensitive name search, category and stock filters, ordered by id.</summary>
    public static Task<Results<Ok<Page<ProductDto>>, ValidationProblem, NotFound, ProblemHttpResult>> SearchProducts(
        HttpRequest request, [FromKeyedServices(DataSetup.Reads)] ExBuyDb db, CancellationToken ct) =>
        Paged.ListAsync<ProductSearchQuery, ProductDto>(request, db,
            q => ProductQueries.CountAsync(db.Live().Filter(db, q), ct),
            q => q.Optimize
                ? ProductQueries.Optimized.PageAsync(db, db.Live().Filter(db, q), "id", false, q.Page, ct)
                : ProductQueries.Naive.PageAsync(db, db.Live().Filter(db, q).OrderBy(p => p.Id), q.Page, ct),
            ct);

    /// <summary>Contract #15: soft delete; a second delete is a 404 like any other unknown product.</summary>
    public static async Task<Results<NoContent, NotFound>> DeleteProduct(long id, ExBuyDb db, CancellationToken ct) =>
        await ProductQueries.SoftDeleteAsync(db, id, ct) ? TypedResults.NoContent() : TypedResults.NotFound();
}
