using System.Diagnostics;
using ExBuy.Api.Common;
using ExBuy.Api.Data;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ExBuy.Api.Orders;

public static class OrdersApi
{
    public static IEndpointRouteBuilder MapOrders(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/orders").WithTags("Orders");
        group.MapPost("/", CreateOrder).WithName("CreateOrder").ProducesProblem(StatusCodes.Status409Conflict);
        group.MapPost("/bulk", CreateOrdersBulk).WithName("CreateOrdersBulk").ProducesProblem(StatusCodes.Status409Conflict);
        group.MapGet("/{id:long:min(1)}", GetOrder).WithName("GetOrder").WithOptimizeFlag();
        group.MapPatch("/{id:long:min(1)}", UpdateOrderStatus).WithName("UpdateOrderStatus").ProducesProblem(StatusCodes.Status409Conflict);
        return app;
    }

    /// <summary>#6: 201 + Location + Order; unknown/deleted product → 400 at items[i].product_id; short stock → 409.</summary>
    public static async Task<Results<Created<OrderDto>, ValidationProblem, ProblemHttpResult>> CreateOrder(
        CreateOrderRequest? body, ExBuyDb db, CancellationToken ct)
    {
        var errors = body?.Validate() ?? ValidationErrors.BodyRequired();
        if (!errors.IsValid)
        {
            return TypedResults.ValidationProblem(errors);
        }
        return await OrderWrites.PlaceAsync(db, [body!.ToLines()], bulk: false, ct) switch
        {
            OrderOutcome.Done { Orders: [var order] } => TypedResults.Created($"/api/orders/{order.Id}", order),
            OrderOutcome.Invalid invalid => TypedResults.ValidationProblem(invalid.Errors),
            OrderOutcome.Conflict conflict => Conflict(conflict),
            var other => throw Unexpected(other),
        };
    }

    /// <summary>#9: 1..100 orders, all-or-nothing; 201 {"created": n, "orders": [...]} in request order.</summary>
    public static async Task<Results<Created<BulkOrdersResponse>, ValidationProblem, ProblemHttpResult>> CreateOrdersBulk(
        BulkOrdersRequest? body, ExBuyDb db, CancellationToken ct)
    {
        var errors = body?.Validate() ?? ValidationErrors.BodyRequired();
        if (!errors.IsValid)
        {
            return TypedResults.ValidationProblem(errors);
        }
        var orders = body!.Orders!.Select(o => o!.ToLines()).ToArray();
        return await OrderWrites.PlaceAsync(db, orders, bulk: true, ct) switch
        {
            OrderOutcome.Done done => TypedResults.Created((string?)null, new BulkOrdersResponse(done.Orders.Count, done.Orders)),
            OrderOutcome.Invalid invalid => TypedResults.ValidationProblem(invalid.Errors),
            OrderOutcome.Conflict conflict => Conflict(conflict),
            var other => throw Unexpected(other),
        };
    }

    /// <summary>#7 (<i>optimize</i>): the naive path is N+1 (2 + items queries), the optimized path one query.</summary>
    public static async Task<Results<Ok<OrderDto>, NotFound, ValidationProblem>> GetOrder(
        long id, HttpRequest request, ExBuyDb db, OrderDetailQuery detail, CancellationToken ct)
    {
        var errors = new ValidationErrors();
        var optimize = QueryParsing.Flag(request.Query, "optimize", errors);
        if (!errors.IsValid)
        {
            return TypedResults.ValidationProblem(errors);
        }
        await db.KeepConnectionOpenAsync(ct);
        var order = optimize
            ? await detail.RunAsync(db, id, ct)
            : await OrderQueries.LoadNaiveAsync(db, id, ct);
        return order is null ? TypedResults.NotFound() : TypedResults.Ok(order);
    }

    /// <summary>#8: forward transitions and pending|paid → cancelled; same status → 200 no-op; others → 409.</summary>
    public static async Task<Results<Ok<OrderDto>, NotFound, ValidationProblem, ProblemHttpResult>> UpdateOrderStatus(
        long id, UpdateOrderStatusRequest? body, ExBuyDb db, OrderDetailQuery detail, CancellationToken ct)
    {
        var errors = body?.Validate() ?? ValidationErrors.BodyRequired();
        if (!errors.IsValid)
        {
            return TypedResults.ValidationProblem(errors);
        }
        return await OrderWrites.ChangeStatusAsync(db, detail, id, body!.Status!, ct) switch
        {
            OrderOutcome.Done { Orders: [var order] } => TypedResults.Ok(order),
            OrderOutcome.Missing => TypedResults.NotFound(),
            OrderOutcome.Conflict conflict => Conflict(conflict),
            var other => throw Unexpected(other),
        };
    }

    private static ProblemHttpResult Conflict(OrderOutcome.Conflict conflict) =>
        TypedResults.Problem(conflict.Detail, statusCode: 409, title: "Conflict");

    /// <summary>An outcome the operation never produces for this endpoint: a bug, so a 500, never a made-up 409.</summary>
    private static UnreachableException Unexpected(OrderOutcome outcome) => new($"Unexpected order outcome {outcome}.");
}
