using System.Text.Json;
using ExBuy.Api.Data;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.EntityFrameworkCore;

namespace ExBuy.Api.Common;

/// <summary>
/// Turns the exceptions that bad input or a troubled database can raise into problem+json with a 4xx (or 503), so no
/// request produces a 5xx it did not deserve: a client's mistake is a 4xx naming what to fix, a conflict a 409 to retry,
/// a busy or unreachable database a 503 with Retry-After. Which provider error is which is <see cref="DbErrors"/>' call.
/// Anything else falls through to the default 500, which carries no stack trace unless DEBUG=true.
/// </summary>
public sealed class ExBuyExceptionHandler(IProblemDetailsService problems, DatabaseFailures failures)
    : IExceptionHandler
{
    private static readonly (int Status, string Title, string? Detail, IDictionary<string, string[]>? Errors) ConstraintViolation =
        (409, "Conflict", "The change conflicts with the current data (a constraint refused it); nothing was written.", null);

    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken ct)
    {
        var (status, title, detail, errors) = Classify(exception);
        if (status == 0)
        {
            return false;
        }
        if (status >= 500)
        {
            failures.Observe(exception);
            detail = failures.Describe(exception);
            failures.Log(context, status, detail, exception);
        }
        context.Response.StatusCode = status;
        if (status == 503)
        {
            context.Response.Headers.RetryAfter = "1";
        }
        var problem = errors is null
            ? new Microsoft.AspNetCore.Mvc.ProblemDetails { Status = status, Title = title, Detail = detail }
            : new HttpValidationProblemDetails(errors) { Status = status, Title = title, Detail = detail };
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = problem,
            Exception = exception,
        });
    }

    internal static (int Status, string Title, string? Detail, IDictionary<string, string[]>? Errors) Classify(Exception ex)
    {
        switch (ex)
        {
            case BadHttpRequestException bad when bad.InnerException is JsonException json:
                return (400, "One or more validation errors occurred.", "The request body is not valid JSON for this endpoint.",
                    new Dictionary<string, string[]> { [FieldPath(json.Path)] = [JsonMessage(json)] });
            case BadHttpRequestException { StatusCode: 413 }:
                return (413, "Payload Too Large", "The request body is larger than this endpoint accepts.", null);
            case BadHttpRequestException { StatusCode: 415 } bad:
                return (415, "Unsupported Media Type", bad.Message, null);
            // Inferred body: "... but no body was provided"; explicit [FromBody]: "... was not provided from body."
            case BadHttpRequestException bad when bad.Message.Contains("no body was provided", StringComparison.Ordinal)
                || bad.Message.Contains("was not provided from body", StringComparison.Ordinal):
                return (400, "One or more validation errors occurred.", "A JSON request body is required.",
                    new Dictionary<string, string[]> { ["body"] = ["A JSON request body is required."] });
            case BadHttpRequestException bad:
                return (bad.StatusCode, "Bad Request", bad.Message, null);
            case DbUpdateConcurrencyException:
                return (409, "Conflict", "The row was changed by a concurrent request; retry.", null);
            // EF wraps the provider's error: looking from the inner exception too reaches one level deeper than from EF's.
            case DbUpdateException { InnerException: { } inner } when DbErrors.Classify(inner) == DbErrorKind.ConstraintViolation:
                return ConstraintViolation;
            default:
                return DbErrors.Classify(ex) switch
                {
                    DbErrorKind.ConstraintViolation => ConstraintViolation,
                    DbErrorKind.SerializationFailure =>
                        (409, "Conflict", "A concurrent transaction conflicted with this one; nothing was written, retry.", null),
                    DbErrorKind.Unavailable => (503, "Service Unavailable", "The database is unavailable or busy; retry shortly.", null),
                    _ => (0, "", null, null),
                };
        }
    }

    /// <summary>
    /// "$.items[1].quantity" → "items[1].quantity"; the root → "body". So is a path through a member name that was not
    /// valid Unicode (the reader shows it with U+FFFD): echoed back, it would name a field the client never sent.
    /// </summary>
    internal static string FieldPath(string? path) => path switch
    {
        null or "" or "$" => "body",
        _ when path.Contains('\uFFFD') => "body",
        _ when path.StartsWith("$.", StringComparison.Ordinal) => path[2..],
        _ when path.StartsWith('$') => path[1..],
        _ => path,
    };

    private static string JsonMessage(JsonException json) =>
        json.Message.Contains("could not be converted", StringComparison.Ordinal)
            ? "Invalid value: wrong JSON type, or a number out of range for this field."
            : "Malformed JSON: " + (json.Message.Split(" Path:", 2)[0].Split(" LineNumber:", 2)[0]).TrimEnd('.', ' ') + ".";
}
