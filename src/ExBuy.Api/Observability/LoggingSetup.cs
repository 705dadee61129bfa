using Microsoft.Extensions.Logging.Console;

namespace ExBuy.Api.Observability;

public static class LoggingSetup
{
    /// <summary>
    /// LOG_LEVEL sets the app's level; DB_LOG_LEVEL=Debug prints every SQL statement (EF's command category, as the
    /// original's django.db.backends). Framework request logs stay at Warning: one log line per request costs throughput.
    /// LOG_FORMAT=json writes one JSON object per line (the built-in JSON console formatter); ACCESS_LOG=true adds one
    /// line per /api request (<see cref="RequestObservation"/>). The console logger drops lines rather than block a
    /// request when its queue is full.
    /// </summary>
    public static WebApplicationBuilder AddExBuyLogging(this WebApplicationBuilder builder, ObservabilityOptions options)
    {
        builder.Logging.AddConsole(o =>
        {
            o.FormatterName = options.JsonLogs ? ConsoleFormatterNames.Json : ConsoleFormatterNames.Simple;
            o.QueueFullMode = ConsoleLoggerQueueFullMode.DropWrite;
        });
        if (options.JsonLogs)
        {
            builder.Logging.AddJsonConsole(o =>
            {
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                o.JsonWriterOptions = new System.Text.Json.JsonWriterOptions { Indented = false };
            });
        }
        var level = Parse(builder.Configuration["LOG_LEVEL"], LogLevel.Information, "LOG_LEVEL");
        var dbLevel = Parse(builder.Configuration["DB_LOG_LEVEL"], LogLevel.Warning, "DB_LOG_LEVEL");
        builder.Logging.SetMinimumLevel(level);
        builder.Logging.AddFilter("Microsoft.AspNetCore", level <= LogLevel.Debug ? level : LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.EntityFrameworkCore", dbLevel <= LogLevel.Debug ? LogLevel.Information : LogLevel.Warning);
        // EF logs executed commands at Information: "Debug" on DB_LOG_LEVEL means "show me the SQL".
        builder.Logging.AddFilter("Microsoft.EntityFrameworkCore.Database.Command",
            dbLevel <= LogLevel.Debug ? LogLevel.Information : LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Information);
        // A refused connection is reported once, by the request's problem response or the start-up line
        // (DatabaseStartup.Explain); EF's own connection error log would repeat it with a stack trace.
        builder.Logging.AddFilter("Microsoft.EntityFrameworkCore.Database.Connection",
            dbLevel <= LogLevel.Debug ? LogLevel.Information : LogLevel.None);
        // With this category enabled at any level, ASP.NET Core starts an Activity (W3C ids) and a log scope for every
        // request even when nothing is logged: measurable allocations on the hot path (bench/compare.sh). Request
        // logging comes back with LOG_LEVEL=DEBUG.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", level <= LogLevel.Debug ? level : LogLevel.None);
        builder.Logging.AddFilter(RequestObservation.AccessLogCategory, options.AccessLog ? LogLevel.Information : LogLevel.None);
        return builder;
    }

    internal static LogLevel Parse(string? raw, LogLevel fallback, string name) => raw?.Trim().ToUpperInvariant() switch
    {
        null or "" => fallback,
        "TRACE" => LogLevel.Trace,
        "DEBUG" => LogLevel.Debug,
        "INFO" or "INFORMATION" => LogLevel.Information,
        "WARN" or "WARNING" => LogLevel.Warning,
        "ERROR" => LogLevel.Error,
        "CRITICAL" or "FATAL" => LogLevel.Critical,
        "NONE" or "OFF" => LogLevel.None,
        _ => throw new ConfigurationError($"{name}='{raw}' is not a log level: use DEBUG, INFO, WARNING, ERROR or CRITICAL."),
    };
}
