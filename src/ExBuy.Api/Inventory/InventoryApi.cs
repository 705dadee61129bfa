namespace ExBuy.Api.Inventory;

public static class InventoryApi
{
    public static IEndpointRouteBuilder MapInventory(this IEndpointRouteBuilder app) => app;
}
