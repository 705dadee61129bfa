namespace ExBuy.Api.Stats;

public sealed record TopProductsResponse(int Limit, IReadOnlyList<TopProductDto> Results);

public sealed record TopProductDto(long ProductId, string Name, long UnitsSold, decimal Revenue, long OrderCount);
