namespace ExBuy.Api.Stats;

public static class StatsApi
{
    public static IEndpointRouteBuilder MapStats(this IEndpointRouteBuilder app) => app;
}
