namespace ExBuy.Api.Observability;

/// <summary>
/// What the server says while it starts (seeding, where it serves): plain lines on a terminal, log records with
/// LOG_FORMAT=json so every stdout line parses as JSON. The commands (no host) always print plain lines. Failures stay
/// plain lines on stderr: they must be read even when start-up ends before the logger flushes.
/// </summary>
public static class StartupLines
{
    public const string Category = "ExBuy.Startup";

    public static void Info(IServiceProvider services, string message)
    {
        if (services.GetService<ObservabilityOptions>() is { JsonLogs: true })
        {
            services.GetRequiredService<ILoggerFactory>().CreateLogger(Category).LogInformation("{Message}", message);
        }
        else
        {
            Console.WriteLine(message);
        }
    }
}
