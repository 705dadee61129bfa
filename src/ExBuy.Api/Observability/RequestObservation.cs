using System.Diagnostics;
using System.Globalization;
using ExBuy.Api.Common;
using Microsoft.AspNetCore.Http.Metadata;

namespace ExBuy.Api.Observability;

/// <summary>
/// The one place a <c>/api/*</c> request is observed: it attaches <see cref="RequestStats"/>, writes
/// <c>X-Query-Count</c> (always, contract) and <c>Server-Timing</c> (with METRICS on) when the response starts, and
/// afterwards records the SQL-per-request and DB-time histograms and, with ACCESS_LOG=true, one access line. Registered
/// first, so <c>app;dur</c> covers the whole pipeline. Endpoints never touch metrics.
/// </summary>
public static partial class RequestObservation
{
    public const string QueryCountHeader = "X-Query-Count";
    public const string ServerTimingHeader = "Server-Timing";
    public const string AccessLogCategory = "ExBuy.Access";

    /// <summary>Header values for the counts nearly every request has (an N+1 page stays under 200).</summary>
    private static readonly string[] CountText = [.. Enumerable.Range(0, 256).Select(i => i.ToString(CultureInfo.InvariantCulture))];

    public static IApplicationBuilder UseRequestObservation(this IApplicationBuilder app)
    {
        var options = app.ApplicationServices.GetRequiredService<ObservabilityOptions>();
        var accessLog = options.AccessLog
            ? app.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger(AccessLogCategory)
            : null;
        var metrics = options.Metrics;
        Func<object, Task> writeHeaders = metrics ? WriteCountAndTiming : WriteCount;
        return app.Use((context, next) =>
        {
            if (!context.Request.Path.StartsWithSegments("/api"))
            {
                return next(context);
            }
            var stats = new RequestStats(Stopwatch.GetTimestamp());
            context.Features.Set(stats);
            context.Response.OnStarting(writeHeaders, context);
            return metrics || accessLog is not null ? ObserveAsync(context, next, stats, metrics, accessLog) : next(context);
        });
    }

    private static async Task ObserveAsync(HttpContext context, RequestDelegate next, RequestStats stats, bool metrics, ILogger? accessLog)
    {
        try
        {
            await next(context);
        }
        finally
        {
            var endpoint = context.GetEndpoint();
            var route = endpoint?.Metadata.GetMetadata<IRouteDiagnosticsMetadata>()?.Route;
            if (metrics)
            {
                // The route label is ASP.NET Core's own (http_route), so SQL-per-request joins its request histogram.
                var tags = new TagList();
                if (route is not null)
                {
                    tags.Add("http.route", route);
                }
                if (endpoint?.Metadata.GetMetadata<OptimizeFlag>() is not null)
                {
                    tags.Add("optimize", OptimizeFlag.ValueOf(context.Request.Query));
                }
                ExBuyMetrics.QueriesPerRequest.Record(stats.Count, tags);
                ExBuyMetrics.DbTimePerRequest.Record(stats.DbTime.TotalSeconds, tags);
            }
            if (accessLog is not null)
            {
                AccessLine(accessLog, context.Request.Method, route ?? context.Request.Path.Value ?? "",
                    context.Response.StatusCode, Math.Round(Stopwatch.GetElapsedTime(stats.StartTimestamp).TotalMilliseconds, 3),
                    stats.Count);
            }
        }
    }

    private static Task WriteCount(object state)
    {
        var context = (HttpContext)state;
        context.Response.Headers[QueryCountHeader] = Text(context.Features.Get<RequestStats>()!.Count);
        return Task.CompletedTask;
    }

    private static Task WriteCountAndTiming(object state)
    {
        var context = (HttpContext)state;
        var stats = context.Features.Get<RequestStats>()!;
        var count = stats.Count;
        var headers = context.Response.Headers;
        headers[QueryCountHeader] = Text(count);
        headers[ServerTimingHeader] = ServerTiming(Stopwatch.GetElapsedTime(stats.StartTimestamp), stats.DbTime, count);
        return Task.CompletedTask;
    }

    /// <summary>
    /// W3C Server Timing, contract form: <c>app;dur=&lt;ms&gt;, db;dur=&lt;ms&gt;;desc="&lt;n&gt; queries"</c>, durations
    /// with 3 decimals (µs). Formatted into a stack buffer: it runs on every /api response.
    /// </summary>
    public static string ServerTiming(TimeSpan app, TimeSpan db, int queries)
    {
        Span<char> buffer = stackalloc char[96];
        var n = 0;
        Append(buffer, ref n, "app;dur=");
        app.TotalMilliseconds.TryFormat(buffer[n..], out var written, "F3", CultureInfo.InvariantCulture);
        n += written;
        Append(buffer, ref n, ", db;dur=");
        db.TotalMilliseconds.TryFormat(buffer[n..], out written, "F3", CultureInfo.InvariantCulture);
        n += written;
        Append(buffer, ref n, ";desc=\"");
        queries.TryFormat(buffer[n..], out written, default, CultureInfo.InvariantCulture);
        n += written;
        Append(buffer, ref n, " queries\"");
        return new string(buffer[..n]);
    }

    private static void Append(Span<char> buffer, ref int n, string text)
    {
        text.CopyTo(buffer[n..]);
        n += text.Length;
    }

    private static string Text(int count) => (uint)count < CountText.Length ? CountText[count] : count.ToString(CultureInfo.InvariantCulture);

    [LoggerMessage(EventId = 1, Level = LogLevel.Information,
        Message = "{Method} {Route} {Status} {ElapsedMs} ms {Queries} queries")]
    private static partial void AccessLine(ILogger logger, string method, string route, int status, double elapsedMs, int queries);
}
