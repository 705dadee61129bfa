namespace ExBuy.Api.Uploads;

public static class UploadsApi
{
    public static IEndpointRouteBuilder MapUploads(this IEndpointRouteBuilder app) => app;
}
