using ExBuy.Api.Data;

namespace ExBuy.Api.Observability;

/// <summary>
/// What the app reports about itself, read once at start-up: <c>METRICS</c> (on: <c>/metrics</c> and
/// <c>Server-Timing</c>; off: neither, the baseline of bench/observability-cost.sh), <c>ACCESS_LOG</c> (one line per
/// <c>/api/*</c> request), <c>LOG_FORMAT</c> (text or json) and <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> (tracing is
/// registered only when it is set: an ActivitySource with a listener costs on every request even with no exporter).
/// </summary>
public sealed record ObservabilityOptions(bool Metrics, bool AccessLog, bool JsonLogs, string? OtlpEndpoint)
{
    public bool Tracing => OtlpEndpoint is not null;

    public static ObservabilityOptions FromConfiguration(IConfiguration c)
    {
        var json = (c["LOG_FORMAT"]?.Trim().ToLowerInvariant()) switch
        {
            null or "" or "text" => false,
            "json" => true,
            var other => throw new ConfigurationError($"LOG_FORMAT='{other}' is not valid: use 'text' (default) or 'json'."),
        };
        var endpoint = c["OTEL_EXPORTER_OTLP_ENDPOINT"];
        if (!string.IsNullOrWhiteSpace(endpoint) && !Uri.TryCreate(endpoint, UriKind.Absolute, out _))
        {
            throw new ConfigurationError(
                $"OTEL_EXPORTER_OTLP_ENDPOINT='{endpoint}' is not an absolute URL: use e.g. http://127.0.0.1:4317, or unset it to turn tracing off.");
        }
        return new ObservabilityOptions(
            DatabaseOptions.ParseBool(c, "METRICS", true),
            DatabaseOptions.ParseBool(c, "ACCESS_LOG", false),
            json,
            string.IsNullOrWhiteSpace(endpoint) ? null : endpoint);
    }
}
