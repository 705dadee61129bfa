using System.Data.Common;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace ExBuy.Api.Common;

/// <summary>
/// Turns the exceptions that bad input or a troubled database can raise into problem+json with a 4xx (or 503), so no
/// request produces a 5xx it did not deserve (contract: Conventions). Anything else falls through to the default 500,
/// which carries no stack trace unless DEBUG=true.
/// </summary>
public sealed class ExBuyExceptionHandler(IProblemDetailsService problems, ILogger<ExBuyExceptionHandler> log)
    : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken ct)
    {
        var (status, title, detail, errors) = Classify(exception);
        if (status == 0)
        {
            return false;
        }
        if (status >= 500)
        {
            log.LogWarning(exception, "Request {Method} {Path} answered {Status}: {Detail}",
                context.Request.Method, context.Request.Path, status, detail);
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
            case DbUpdateException { InnerException: { } inner } when IsConstraintViolation(inner):
                return (409, "Conflict", "The change conflicts with the current data (a constraint refused it); nothing was written.", null);
            case not null when IsConstraintViolation(ex):
                return (409, "Conflict", "The change conflicts with the current data (a constraint refused it); nothing was written.", null);
            case not null when IsSerializationFailure(ex):
                return (409, "Conflict", "A concurrent transaction conflicted with this one; nothing was written, retry.", null);
            case not null when IsUnavailable(ex):
                return (503, "Service Unavailable", "The database is unavailable or busy; retry shortly.", null);
            default:
                return (0, "", null, null);
        }
    }

    /// <summary>"$.items[1].quantity" → "items[1].quantity"; the root → "body".</summary>
    internal static string FieldPath(string? path) => path switch
    {
        null or "" or "$" => "body",
        _ when path.StartsWith("$.", StringComparison.Ordinal) => path[2..],
        _ when path.StartsWith('$') => path[1..],
        _ => path,
    };

    private static string JsonMessage(JsonException json) =>
        json.Message.Contains("could not be converted", StringComparison.Ordinal)
            ? "Invalid value: wrong JSON type, or a number out of range for this field."
            : "Malformed JSON: " + (json.Message.Split(" Path:", 2)[0].Split(" LineNumber:", 2)[0]).TrimEnd('.', ' ') + ".";

    private static bool IsConstraintViolation(Exception ex) => Unwrap(ex).Any(e => e switch
    {
        PostgresException pg => pg.SqlState is PostgresErrorCodes.CheckViolation or PostgresErrorCodes.UniqueViolation
            or PostgresErrorCodes.ForeignKeyViolation or PostgresErrorCodes.NotNullViolation,
        SqliteException sq => sq.SqliteErrorCode == 19, // SQLITE_CONSTRAINT
        _ => false,
    });

    private static bool IsSerializationFailure(Exception ex) => Unwrap(ex).Any(e =>
        e is PostgresException { SqlState: PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.LockNotAvailable });

    private static bool IsUnavailable(Exception ex) => Unwrap(ex).Any(e => e switch
    {
        SqliteException sq => sq.SqliteErrorCode is 5 or 6 or 14, // BUSY, LOCKED, CANTOPEN
        NpgsqlException { InnerException: SocketException or TimeoutException } => true,
        PostgresException pg => pg.SqlState.StartsWith("08", StringComparison.Ordinal) // connection exceptions
            || pg.SqlState is PostgresErrorCodes.TooManyConnections or PostgresErrorCodes.CannotConnectNow
            || pg.SqlState.StartsWith("57P", StringComparison.Ordinal), // admin shutdown
        SocketException => true,
        NpgsqlException { IsTransient: true } => true,
        DbException when e.Message.Contains("pool", StringComparison.OrdinalIgnoreCase) => true,
        _ => false,
    });

    private static IEnumerable<Exception> Unwrap(Exception? ex)
    {
        for (var depth = 0; ex is not null && depth < 8; depth++, ex = ex.InnerException)
        {
            yield return ex;
        }
    }
}
