using System.Text.Json;
using System.Text.Json.Serialization;
using ExBuy.Api.Faults;
using ExBuy.Api.Health;
using ExBuy.Api.Inventory;
using ExBuy.Api.Orders;
using ExBuy.Api.Products;
using ExBuy.Api.Reviews;
using ExBuy.Api.Stats;
using ExBuy.Api.Uploads;

namespace ExBuy.Api.Common;

/// <summary>Every request/response type of the contract, source-generated (no reflection at request time).</summary>
[JsonSourceGenerationOptions(
    JsonSerializerDefaults.Web,
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    NumberHandling = JsonNumberHandling.Strict,
    Converters = [typeof(UtcDateTimeConverter), typeof(TwoDecimalsConverter)])]
[JsonSerializable(typeof(HealthResponse))]
[JsonSerializable(typeof(ReadyResponse))]
[JsonSerializable(typeof(InfoResponse))]
[JsonSerializable(typeof(ProductDto))]
[JsonSerializable(typeof(ProductDetailDto))]
[JsonSerializable(typeof(Page<ProductDto>))]
[JsonSerializable(typeof(ReviewDto))]
[JsonSerializable(typeof(Page<ReviewDto>))]
[JsonSerializable(typeof(CreateReviewRequest))]
[JsonSerializable(typeof(OrderDto))]
[JsonSerializable(typeof(CreateOrderRequest))]
[JsonSerializable(typeof(UpdateOrderStatusRequest))]
[JsonSerializable(typeof(BulkOrdersRequest))]
[JsonSerializable(typeof(BulkOrdersResponse))]
[JsonSerializable(typeof(ReserveRequest))]
[JsonSerializable(typeof(ReserveResponse))]
[JsonSerializable(typeof(TopProductsResponse))]
[JsonSerializable(typeof(UploadDto))]
[JsonSerializable(typeof(FaultRuleDto[]))]
[JsonSerializable(typeof(FaultSeedDto))]
public sealed partial class ExBuyJsonContext : JsonSerializerContext
{
    /// <summary>The HTTP options: snake_case, strict numbers ("5" is not a number), our wire converters.</summary>
    public static void Configure(JsonSerializerOptions options)
    {
        options.TypeInfoResolverChain.Insert(0, Default);
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        options.NumberHandling = JsonNumberHandling.Strict;
        options.Converters.Add(new UtcDateTimeConverter());
        options.Converters.Add(new TwoDecimalsConverter());
    }
}
