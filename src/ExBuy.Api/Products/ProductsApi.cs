using ExBuy.Api.Common;
using ExBuy.Api.Data;
using ExBuy.Api.Reviews;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace ExBuy.Api.Products;

public static class ProductsApi
{
    public static IEndpointRouteBuilder MapProducts(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/products").WithTags("Products");
        group.MapGet("", ListProducts).WithName("ListProducts");
        group.MapGet("/{id:long:min(1)}", GetProduct).WithName("GetProduct");
        group.MapGet("/{id:long:min(1)}/reviews", ListProductReviews).WithName("ListProductReviews");
        group.MapDelete("/{id:long:min(1)}", DeleteProduct).WithName("DeleteProduct");
        return app;
    }

    public static IEndpointRouteBuilder MapSearch(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/search").WithTags("Products");
        group.MapGet("/products", SearchProducts).WithName("SearchProducts");
        return app;
    }

    /// <summary>Contract #2: filtered, ordered, paginated live products.</summary>
    public static async Task<Results<Ok<Page<ProductDto>>, ValidationProblem, ProblemHttpResult>> ListProducts(
        HttpRequest request, ExBuyDb db, CancellationToken ct)
    {
        var errors = new ValidationErrors();
        var query = ProductListQuery.Parse(request.Query, errors);
        if (!errors.IsValid)
        {
            return TypedResults.ValidationProblem(errors);
        }
        var products = db.Live().Filter(query);
        var count = await products.LongCountAsync(ct);
        if (query.Page.IsPastEnd(count))
        {
            return PageRequest.PastEnd();
        }
        var results = await ProductQueries.PageAsync(
            db, products.Order(query.OrderBy, query.Descending), query.Page, query.Optimize, ct);
        return TypedResults.Ok(query.Page.ToPage(request, count, results));
    }

    /// <summary>Contract #3: ProductDetail with the 10 newest reviews.</summary>
    public static async Task<Results<Ok<ProductDetailDto>, ValidationProblem, NotFound>> GetProduct(
        long id, HttpRequest request, ExBuyDb db, ProductDetailQuery detail, CancellationToken ct)
    {
        var errors = new ValidationErrors();
        var optimize = QueryParsing.Flag(request.Query, "optimize", errors);
        if (!errors.IsValid)
        {
            return TypedResults.ValidationProblem(errors);
        }
        var product = await ProductQueries.DetailAsync(db, detail, id, optimize, ct);
        return product is null ? TypedResults.NotFound() : TypedResults.Ok(product);
    }

    /// <summary>Contract #4: a live product's reviews, newest first; 404 for an unknown or deleted product.</summary>
    public static async Task<Results<Ok<Page<ReviewDto>>, ValidationProblem, NotFound, ProblemHttpResult>> ListProductReviews(
        long id, HttpRequest request, ExBuyDb db, CancellationToken ct)
    {
        var errors = new ValidationErrors();
        var page = PageRequest.Parse(request.Query, errors);
        var optimize = QueryParsing.Flag(request.Query, "optimize", errors);
        if (!errors.IsValid)
        {
            return TypedResults.ValidationProblem(errors);
        }
        if (await ReviewQueries.CountForProductAsync(db, id, optimize, ct) is not { } count)
        {
            return TypedResults.NotFound();
        }
        if (page.IsPastEnd(count))
        {
            return PageRequest.PastEnd();
        }
        var reviews = db.Reviews.Where(r => r.ProductId == id).NewestFirst();
        var results = await ReviewQueries.PageAsync(db, reviews, page, optimize, ct);
        return TypedResults.Ok(page.ToPage(request, count, results));
    }

    /// <summary>Contract #5: case-insensitive name search, category and stock filters, ordered by id.</summary>
    public static async Task<Results<Ok<Page<ProductDto>>, ValidationProblem, ProblemHttpResult>> SearchProducts(
        HttpRequest request, ExBuyDb db, CancellationToken ct)
    {
        var errors = new ValidationErrors();
        var query = ProductSearchQuery.Parse(request.Query, errors);
        if (!errors.IsValid)
        {
            return TypedResults.ValidationProblem(errors);
        }
        var products = db.Live().Filter(db, query);
        var count = await products.LongCountAsync(ct);
        if (query.Page.IsPastEnd(count))
        {
            return PageRequest.PastEnd();
        }
        var results = await ProductQueries.PageAsync(db, products.OrderBy(p => p.Id), query.Page, query.Optimize, ct);
        return TypedResults.Ok(query.Page.ToPage(request, count, results));
    }

    /// <summary>Contract #15: soft delete; a second delete is a 404 like any other unknown product.</summary>
    public static async Task<Results<NoContent, NotFound>> DeleteProduct(long id, ExBuyDb db, CancellationToken ct) =>
        await ProductQueries.SoftDeleteAsync(db, id, ct) ? TypedResults.NoContent() : TypedResults.NotFound();
}
