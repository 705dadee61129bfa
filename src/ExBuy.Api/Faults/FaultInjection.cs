using ExBuy.Api.Data;
using ExBuy.Api.Observability;
using Microsoft.AspNetCore.Http.Metadata;

namespace ExBuy.Api.Faults;

/// <summary>
/// The fault middleware, registered right after request observation and routing (the endpoint's route template is
/// known), for <c>/api/*</c> only (never <c>/metrics</c>). Per request:
/// <list type="number">
/// <item>X-Fault-* headers (unless FAULTS=off) are parsed; a bad value is a 400 naming the header.</item>
/// <item>Composition: for each kind (delay, db_delay, error) the header's value overrides the process's active rule for
/// the same kind (<see cref="FaultRuleSet"/>: the first live rule whose route pattern matches the endpoint's template —
/// the environment's rules at start-up, or what /api/admin/faults set since); kinds the headers do not set come from
/// that rule.</item>
/// <item>Each kind with a percentage under 100 draws from the one seeded generator, always in the order delay, db_delay,
/// error (so a seed reproduces a request sequence's faults).</item>
/// <item>Applied in that order: the app delay (Task.Delay, cancelled with the request), then an injected error answered as
/// problem+json without running the handler (no DB delay then: nothing would use the connection), else the DB delay
/// on the request's connection, then the handler.</item>
/// </list>
/// Every injected fault is listed in <c>X-Fault</c> (<c>delay=250ms, db_delay=100ms, error=503</c>) and counted in
/// <c>exbuy_faults_injected_total{kind,route}</c>. A request with no X-Fault-* header and no active rule pays one
/// volatile read and three header lookups (no allocation); with FAULTS=off, no env rule and no ADMIN_TOKEN the middleware
/// is not registered at all. <c>/api/admin/*</c> is never faulted (a stalled admin API could not lift the stall).
/// </summary>
public static class FaultInjection
{
    public const string FaultHeader = "X-Fault";
    public const string DelayHeader = "X-Fault-Delay";
    public const string DelayPercentHeader = "X-Fault-Delay-Percentage";
    public const string DbDelayHeader = "X-Fault-DB-Delay";
    public const string DbDelayPercentHeader = "X-Fault-DB-Delay-Percentage";
    public const string ErrorHeader = "X-Fault-Error";
    public const string ErrorPercentHeader = "X-Fault-Error-Percentage";

    public static IApplicationBuilder UseFaultInjection(this IApplicationBuilder app)
    {
        var options = app.ApplicationServices.GetRequiredService<FaultOptions>();
        if (!options.Active)
        {
            return app;
        }
        var random = app.ApplicationServices.GetRequiredService<FaultRandom>();
        var rules = app.ApplicationServices.GetRequiredService<FaultRuleSet>();
        var dbDelay = FaultDbDelay.For(app.ApplicationServices.GetRequiredService<DatabaseOptions>());
        var problems = app.ApplicationServices.GetRequiredService<IProblemDetailsService>();
        var headersEnabled = options.HeadersEnabled;
        return app.Use((context, next) =>
        {
            var path = context.Request.Path;
            if (!path.StartsWithSegments("/api") || path.StartsWithSegments(FaultAdminApi.Prefix))
            {
                return next(context);
            }
            if (rules.Current.Length == 0)
            {
                var h = context.Request.Headers;
                if (!headersEnabled || (!h.ContainsKey(DelayHeader) && !h.ContainsKey(DbDelayHeader) && !h.ContainsKey(ErrorHeader)))
                {
                    return next(context);
                }
            }
            return InjectAsync(context, next, options, rules, random, dbDelay, problems);
        });
    }

    private static async Task InjectAsync(HttpContext context, RequestDelegate next, FaultOptions options, FaultRuleSet rules, FaultRandom random,
        IFaultDbDelay dbDelay, IProblemDetailsService problems)
    {
        FaultRule? requested = null;
        if (options.HeadersEnabled)
        {
            var errors = new Dictionary<string, string[]>();
            requested = FromHeaders(context.Request.Headers, options.MaxDelay, errors);
            if (errors.Count > 0)
            {
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                await problems.WriteAsync(new ProblemDetailsContext
                {
                    HttpContext = context,
                    ProblemDetails = new HttpValidationProblemDetails(errors)
                    {
                        Status = StatusCodes.Status400BadRequest,
                        Title = "Bad fault header",
                        Detail = "An X-Fault-* header has a value the fault injection does not accept; nothing was run.",
                    },
                });
                return;
            }
        }

        var template = context.GetEndpoint()?.Metadata.GetMetadata<IRouteDiagnosticsMetadata>()?.Route;
        FaultRule? activeRule = null;
        if (rules.Current.Length > 0)
        {
            var route = template is null ? context.Request.Path.Value ?? "" : FaultRule.NormaliseTemplate(template);
            activeRule = rules.Match(route, DateTimeOffset.UtcNow);
        }

        // Headers override the active rule kind by kind.
        var (delay, delayPct) = requested?.Delay is { } hd ? (hd, requested.DelayPercent) : (activeRule?.Delay, activeRule?.DelayPercent ?? 0);
        var (db, dbPct) = requested?.DbDelay is { } hdb ? (hdb, requested.DbDelayPercent) : (activeRule?.DbDelay, activeRule?.DbDelayPercent ?? 0);
        var (error, errorPct) = requested?.ErrorStatus is { } he ? (he, requested.ErrorPercent) : (activeRule?.ErrorStatus, activeRule?.ErrorPercent ?? 0);

        // Draw in a fixed order, whatever is applied afterwards.
        var doDelay = delay is not null && random.Chance(delayPct);
        var doDb = db is not null && random.Chance(dbPct);
        var doError = error is not null && random.Chance(errorPct);
        if (!doDelay && !doDb && !doError)
        {
            await next(context);
            return;
        }
        if (doError)
        {
            doDb = false;
        }

        var label = template ?? "unmatched";
        var injected = new List<string>(3);
        if (doDelay)
        {
            injected.Add("delay=" + FaultValues.Format(delay!.Value));
            ExBuyMetrics.FaultInjected("delay", label);
        }
        if (doDb)
        {
            injected.Add("db_delay=" + FaultValues.Format(db!.Value));
            ExBuyMetrics.FaultInjected("db_delay", label);
        }
        if (doError)
        {
            injected.Add("error=" + error!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture));
            ExBuyMetrics.FaultInjected("error", label);
        }
        context.Response.Headers[FaultHeader] = string.Join(", ", injected);

        var ct = context.RequestAborted;
        if (doDelay && delay!.Value > TimeSpan.Zero)
        {
            await Task.Delay(delay.Value, ct);
        }
        if (doError)
        {
            var status = error!.Value;
            context.Response.StatusCode = status;
            if (status is StatusCodes.Status503ServiceUnavailable or StatusCodes.Status429TooManyRequests)
            {
                context.Response.Headers.RetryAfter = "1"; // as a real 503 from ExBuy says
            }
            await problems.WriteAsync(new ProblemDetailsContext
            {
                HttpContext = context,
                ProblemDetails = new Microsoft.AspNetCore.Mvc.ProblemDetails
                {
                    Status = status,
                    Title = "Injected fault",
                    Detail = $"Fault injection answered {status} instead of running the handler ({(requested?.ErrorStatus is not null ? ErrorHeader : activeRule!.Source == FaultRule.FromAdmin ? "a rule set through /api/admin/faults" : "FAULT_ERROR")}); nothing was written.",
                },
            });
            return;
        }
        if (doDb && db!.Value > TimeSpan.Zero)
        {
            // The connection the handler will use: the read route's for catalog reads, the primary's otherwise.
            var exbuyDb = ReadRouting.UsesReadRoute(context.GetEndpoint())
                ? context.RequestServices.GetRequiredKeyedService<ExBuyDb>(DataSetup.Reads)
                : context.RequestServices.GetRequiredService<ExBuyDb>();
            await dbDelay.HoldAsync(context, exbuyDb, db.Value, ct);
        }
        await next(context);
    }

    /// <summary>The request's rule from its headers (route: this request), or null when it sets none; bad values go to <paramref name="errors"/>.</summary>
    internal static FaultRule? FromHeaders(IHeaderDictionary headers, TimeSpan max, Dictionary<string, string[]> errors)
    {
        var delay = Duration(headers, DelayHeader, max, errors);
        var db = Duration(headers, DbDelayHeader, max, errors);
        int? status = null;
        if (headers.TryGetValue(ErrorHeader, out var raw))
        {
            if (FaultValues.TryParseStatus(raw.ToString(), out var s))
            {
                status = s;
            }
            else
            {
                errors[ErrorHeader] = [$"'{raw}' is not an error status: use 400..599."];
            }
        }
        var delayPct = Percent(headers, DelayPercentHeader, delay is not null, errors);
        var dbPct = Percent(headers, DbDelayPercentHeader, db is not null, errors);
        var errorPct = Percent(headers, ErrorPercentHeader, status is not null, errors);
        var rule = new FaultRule(null, delay, delayPct, db, dbPct, status, errorPct, Source: FaultRule.FromHeaders);
        return rule.IsEmpty ? null : rule;
    }

    private static TimeSpan? Duration(IHeaderDictionary headers, string name, TimeSpan max, Dictionary<string, string[]> errors)
    {
        if (!headers.TryGetValue(name, out var raw))
        {
            return null;
        }
        if (!FaultValues.TryParseDuration(raw.ToString(), out var value))
        {
            errors[name] = [$"'{raw}' is not a duration: use e.g. 250ms, 2s, 1.5s or plain milliseconds (not negative)."];
            return null;
        }
        if (value > max)
        {
            errors[name] = [$"'{raw}' exceeds the maximum delay ({FaultValues.Format(max)}, FAULT_MAX_DELAY)."];
            return null;
        }
        return value;
    }

    private static double Percent(IHeaderDictionary headers, string name, bool used, Dictionary<string, string[]> errors)
    {
        if (!headers.TryGetValue(name, out var raw))
        {
            return 100;
        }
        if (!FaultValues.TryParsePercent(raw.ToString(), out var value))
        {
            errors[name] = [$"'{raw}' is not a percentage: use 0..100."];
            return 100;
        }
        return used ? value : 100;
    }
}
