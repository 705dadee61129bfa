using System.Globalization;
using System.Text.Json.Nodes;
using ExBuy.Api.Data.Entities;
using ExBuy.Api.Inventory;
using ExBuy.Api.Orders;
using ExBuy.Api.Reviews;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace ExBuy.Api.OpenApi;

/// <summary>
/// Schemas as the wire has them. Money and timestamps are written by our own converters (the generator cannot see their
/// type): money is a JSON number with 2 decimals, timestamps ISO-8601 UTC strings. Request records have nullable
/// members so a missing field is a 400 naming it; on the wire those fields are required and non-null, with the ranges
/// the validators check (the same constants).
/// </summary>
internal static class SchemaRules
{
    private sealed record Rule(long? Minimum = null, long? Maximum = null, int? MinLength = null, int? MaxLength = null,
        int? MinItems = null, int? MaxItems = null, string[]? Choices = null);

    private static readonly Dictionary<(Type, string), Rule> Rules = new()
    {
        [(typeof(CreateOrderRequest), "user_id")] = new(Minimum: 1),
        [(typeof(CreateOrderRequest), "items")] = new(MinItems: 1, MaxItems: CreateOrderRequest.MaxItems),
        [(typeof(OrderItemRequest), "product_id")] = new(Minimum: 1),
        [(typeof(OrderItemRequest), "quantity")] = new(Minimum: 1, Maximum: CreateOrderRequest.MaxQuantity),
        [(typeof(BulkOrdersRequest), "orders")] = new(MinItems: 1, MaxItems: BulkOrdersRequest.MaxOrders),
        [(typeof(UpdateOrderStatusRequest), "status")] = new(Choices: OrderStatus.All),
        [(typeof(ReserveRequest), "product_id")] = new(Minimum: 1),
        [(typeof(ReserveRequest), "quantity")] = new(Minimum: 1, Maximum: ReserveRequest.MaxQuantity),
        [(typeof(CreateReviewRequest), "product")] = new(Minimum: 1),
        [(typeof(CreateReviewRequest), "user_id")] = new(Minimum: 1),
        [(typeof(CreateReviewRequest), "rating")] = new(Minimum: CreateReviewRequest.MinRating, Maximum: CreateReviewRequest.MaxRating),
        [(typeof(CreateReviewRequest), "body")] = new(MinLength: 1, MaxLength: CreateReviewRequest.MaxBodyLength),
    };

    private static readonly HashSet<Type> Requests = [.. Rules.Keys.Select(k => k.Item1)];

    public static Task Apply(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken ct)
    {
        var type = context.JsonTypeInfo.Type;
        var underlying = Nullable.GetUnderlyingType(type) ?? type;
        var nullable = underlying != type;
        if (underlying == typeof(decimal))
        {
            schema.Type = nullable ? JsonSchemaType.Number | JsonSchemaType.Null : JsonSchemaType.Number;
            schema.Format = null;
            schema.MultipleOf = 0.01m;
        }
        else if (underlying == typeof(DateTime) || underlying == typeof(DateTimeOffset))
        {
            schema.Type = nullable ? JsonSchemaType.String | JsonSchemaType.Null : JsonSchemaType.String;
            schema.Format = "date-time";
        }
        else if (Requests.Contains(type) && schema.Properties is { } properties)
        {
            foreach (var (name, property) in properties)
            {
                if (property is not OpenApiSchema p)
                {
                    continue;
                }
                if (p.Type is { } t)
                {
                    p.Type = t & ~JsonSchemaType.Null;
                }
                if (Rules.TryGetValue((type, name), out var rule))
                {
                    p.Minimum = rule.Minimum?.ToString(CultureInfo.InvariantCulture) ?? p.Minimum;
                    p.Maximum = rule.Maximum?.ToString(CultureInfo.InvariantCulture) ?? p.Maximum;
                    p.MinLength = rule.MinLength ?? p.MinLength;
                    p.MaxLength = rule.MaxLength ?? p.MaxLength;
                    p.MinItems = rule.MinItems ?? p.MinItems;
                    p.MaxItems = rule.MaxItems ?? p.MaxItems;
                    if (rule.Choices is not null)
                    {
                        p.Enum = [.. rule.Choices.Select(c => (JsonNode)JsonValue.Create(c))];
                    }
                }
                if (p.Items is OpenApiSchema { OneOf: { Count: > 0 } oneOf } && oneOf.FirstOrDefault(s => s is not OpenApiSchema { Type: JsonSchemaType.Null }) is { } element)
                {
                    p.Items = element;
                }
            }
        }
        return Task.CompletedTask;
    }
}
