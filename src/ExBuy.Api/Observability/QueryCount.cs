using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace ExBuy.Api.Observability;

/// <summary>Per-request SQL command count, kept as an HttpContext feature (never on the pooled DbContext).</summary>
public sealed class QueryCountFeature
{
    private int _count;

    public int Count => Volatile.Read(ref _count);

    public void Increment() => Interlocked.Increment(ref _count);
}

/// <summary>
/// Counts every command EF executes for the current request, so <c>X-Query-Count</c> shows N+1 from outside
/// (contract: Conventions). One singleton for all contexts; the counter is found through the request.
/// </summary>
public sealed class QueryCountInterceptor(IHttpContextAccessor accessor) : DbCommandInterceptor
{
    private void Count() => accessor.HttpContext?.Features.Get<QueryCountFeature>()?.Increment();

    public override InterceptionResult<DbDataReader> ReaderExecuting(
        DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result)
    {
        Count();
        return result;
    }

    public override ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(
        DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result,
        CancellationToken cancellationToken = default)
    {
        Count();
        return ValueTask.FromResult(result);
    }

    public override InterceptionResult<int> NonQueryExecuting(
        DbCommand command, CommandEventData eventData, InterceptionResult<int> result)
    {
        Count();
        return result;
    }

    public override ValueTask<InterceptionResult<int>> NonQueryExecutingAsync(
        DbCommand command, CommandEventData eventData, InterceptionResult<int> result,
        CancellationToken cancellationToken = default)
    {
        Count();
        return ValueTask.FromResult(result);
    }

    public override InterceptionResult<object> ScalarExecuting(
        DbCommand command, CommandEventData eventData, InterceptionResult<object> result)
    {
        Count();
        return result;
    }

    public override ValueTask<InterceptionResult<object>> ScalarExecutingAsync(
        DbCommand command, CommandEventData eventData, InterceptionResult<object> result,
        CancellationToken cancellationToken = default)
    {
        Count();
        return ValueTask.FromResult(result);
    }
}

public static class QueryCountMiddleware
{
    public const string Header = "X-Query-Count";

    /// <summary>Attaches a counter to every <c>/api/*</c> request and writes it as a header when the response starts.</summary>
    public static IApplicationBuilder UseQueryCount(this IApplicationBuilder app) => app.Use(static (context, next) =>
    {
        if (!context.Request.Path.StartsWithSegments("/api"))
        {
            return next(context);
        }
        var feature = new QueryCountFeature();
        context.Features.Set(feature);
        context.Response.OnStarting(static state =>
        {
            var ctx = (HttpContext)state;
            ctx.Response.Headers[Header] = ctx.Features.Get<QueryCountFeature>()!.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return Task.CompletedTask;
        }, context);
        return next(context);
    });
}
