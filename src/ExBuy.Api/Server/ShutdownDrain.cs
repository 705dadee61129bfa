namespace ExBuy.Api.Server;

/// <summary>
/// SHUTDOWN_DELAY: on SIGTERM, first tell load balancers to go away while still serving — /api/health/ready answers 503
/// "draining" and every response carries <c>Connection: close</c> (so a balancer's kept-alive connections end after
/// their current request) — and only after the delay close the listener and drain in-flight requests (SHUTDOWN_TIMEOUT).
/// Behind HAProxy (health check every 500 ms, fall 2) a delay of 2–3 s moves traffic to the other replicas before this
/// one refuses connections, so draining a replica fails no request. Runs before Kestrel stops: the host calls every
/// <see cref="IHostedLifecycleService.StoppingAsync"/> before any hosted service's StopAsync.
/// </summary>
public sealed class ShutdownDrain(HttpLimits limits, ILogger<ShutdownDrain> log) : IHostedLifecycleService
{
    private volatile bool _draining;

    public bool IsDraining => _draining;

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        if (limits.ShutdownDelay <= TimeSpan.Zero)
        {
            return;
        }
        _draining = true;
        log.LogInformation("Draining for SHUTDOWN_DELAY ({Delay} s): readiness answers 503, requests are still served", limits.ShutdownDelay.TotalSeconds);
        try
        {
            await Task.Delay(limits.ShutdownDelay, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // SHUTDOWN_TIMEOUT ran out first: stop now.
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>While draining, every response asks the client to close its connection afterwards.</summary>
    public static IApplicationBuilder UseShutdownDrain(IApplicationBuilder app)
    {
        var drain = app.ApplicationServices.GetRequiredService<ShutdownDrain>();
        return app.Use((context, next) =>
        {
            if (drain.IsDraining)
            {
                context.Response.Headers.Connection = "close";
            }
            return next(context);
        });
    }
}
