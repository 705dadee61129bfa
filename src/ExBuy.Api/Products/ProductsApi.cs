namespace ExBuy.Api.Products;

public static class ProductsApi
{
    public static IEndpointRouteBuilder MapProducts(this IEndpointRouteBuilder app) => app;
    public static IEndpointRouteBuilder MapSearch(this IEndpointRouteBuilder app) => app;
}
