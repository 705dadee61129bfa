namespace ExBuy.Api.Data;

/// <summary>
/// A GET whose database connection turned out dead (PostgreSQL restarted, its session terminated) runs once more, in a
/// fresh service scope, on a fresh connection from the just-cleared pool: a read is idempotent, so the client never sees
/// what a stale pooled connection did. Writes are never retried here: a retried order could be placed twice; they answer
/// 503 and the client decides.
/// </summary>
public static class ReadRetry
{
    public static IApplicationBuilder UseReadRetry(this IApplicationBuilder app) => app.Use(static (context, next) =>
        HttpMethods.IsGet(context.Request.Method) ? RunAsync(context, next) : next(context));

    private static async Task RunAsync(HttpContext context, RequestDelegate next)
    {
        try
        {
            await next(context);
        }
        catch (Exception ex) when (!context.Response.HasStarted && !context.RequestAborted.IsCancellationRequested
            && DbErrors.IsBrokenConnection(ex))
        {
            context.RequestServices.GetRequiredService<DatabaseFailures>().Observe(ex);
            var original = context.RequestServices;
            await using var scope = original.GetRequiredService<IServiceScopeFactory>().CreateAsyncScope();
            context.RequestServices = scope.ServiceProvider;
            try
            {
                await next(context);
            }
            finally
            {
                context.RequestServices = original;
            }
        }
    }
}
