using System.Diagnostics;
using ExBuy.Api.Common;
using ExBuy.Api.Data;
using ExBuy.Api.OpenApi;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ExBuy.Api.Inventory;

public static class InventoryApi
{
    public static IEndpointRouteBuilder MapInventory(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/inventory").WithTags("Inventory");
        group.MapPost("/reserve", Reserve).WithName("ReserveStock").WithQuery(Query.LockType)
            .ProducesProblem(StatusCodes.Status409Conflict);
        return app;
    }

    /// <summary>#10: <c>?lock_type=optimistic|pessimistic|versioned</c> (default optimistic).</summary>
    public static async Task<Results<Ok<ReserveResponse>, NotFound, ValidationProblem, ProblemHttpResult>> Reserve(
        ReserveRequest? body, HttpRequest request, ExBuyDb db, CancellationToken ct)
    {
        var errors = new ValidationErrors();
        var lockType = QueryParsing.OptionalString(request.Query, "lock_type", 32, errors) ?? Reservations.Optimistic;
        if (errors.IsValid && !Reservations.LockTypes.Contains(lockType))
        {
            errors.Add("lock_type", $"\"{lockType}\" is not a valid choice: use one of {string.Join(", ", Reservations.LockTypes)}.");
        }
        if (body is null)
        {
            errors.Add("body", Messages.BodyRequired);
        }
        else
        {
            body.Validate(errors);
        }
        if (!errors.IsValid)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var productId = body!.ProductId!.Value;
        var quantity = body.Quantity!.Value;
        await db.KeepConnectionOpenAsync(ct);
        var outcome = await Reservations.ReserveAsync(db, lockType, productId, quantity, ct);
        return outcome.Status switch
        {
            ReserveStatus.Reserved => TypedResults.Ok(new ReserveResponse(productId, quantity, outcome.Stock, lockType)),
            ReserveStatus.NotFound => TypedResults.NotFound(),
            ReserveStatus.Insufficient => TypedResults.Problem(
                $"Insufficient stock for product {productId}: requested {quantity}, available {outcome.Stock}.",
                statusCode: 409, title: "Conflict"),
            ReserveStatus.Contended => TypedResults.Problem(
                $"Product {productId} kept changing during {Reservations.VersionedMaxAttempts} attempts; retry.",
                statusCode: 409, title: "Conflict"),
            _ => throw new UnreachableException($"Unexpected reservation outcome {outcome.Status}."),
        };
    }
}
