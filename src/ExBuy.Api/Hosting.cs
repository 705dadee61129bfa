using ExBuy.Api.Common;
using ExBuy.Api.Data;
using ExBuy.Api.Faults;
using ExBuy.Api.Health;
using ExBuy.Api.Inventory;
using ExBuy.Api.Observability;
using ExBuy.Api.OpenApi;
using ExBuy.Api.Orders;
using ExBuy.Api.Products;
using ExBuy.Api.Reviews;
using ExBuy.Api.Server;
using ExBuy.Api.Stats;
using ExBuy.Api.Uploads;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Options;

namespace ExBuy.Api;

/// <summary>What Program.cs registers, maps and runs, named by concern.</summary>
public static class Hosting
{
    public const string DefaultUrl = "http://127.0.0.1:8000";

    /// <summary>JSON request bodies are small (bulk: 100 orders × 50 items); uploads raise the limit for their route.</summary>
    public const long MaxJsonBodyBytes = 1024 * 1024;

    public static WebApplicationBuilder AddExBuy(this WebApplicationBuilder builder)
    {
        builder.AddExBuyObservability();
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["http_ports"]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }
        var limits = HttpLimits.FromConfiguration(builder.Configuration);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            limits.Apply(k.Limits);
            k.Limits.MaxRequestBodySize = MaxJsonBodyBytes;
        });

        var server = ServerOptions.FromConfiguration(builder.Configuration);
        var services = builder.Services;
        services.AddSingleton(limits);
        services.AddSingleton<ShutdownDrain>();
        if (limits.ShutdownDelay > TimeSpan.Zero)
        {
            services.AddHostedService(sp => sp.GetRequiredService<ShutdownDrain>());
        }
        services.Configure<HostOptions>(o => o.ShutdownTimeout = limits.ShutdownTimeout);
        services.AddSingleton(server);
        if (server.WorkerIndex is not null)
        {
            // One of WORKERS processes: every worker binds the same port; the kernel spreads connections across them.
            services.Configure<SocketTransportOptions>(o => o.CreateBoundListenSocket = ReusePort.CreateBoundListenSocket);
        }
        if (server.IsSync)
        {
            services.AddSingleton(new SyncWorkers(server.Threads));
        }
        var debug = DatabaseOptions.ParseBool(builder.Configuration, "DEBUG", false);
        services.AddExBuyData(builder.Configuration);
        services.AddSingleton(UploadOptions.FromConfiguration(builder.Configuration));
        var faults = FaultOptions.FromConfiguration(builder.Configuration);
        services.AddSingleton(faults);
        services.AddSingleton(new FaultRandom(faults.Seed));
        services.AddSingleton<FaultRuleSet>();
        services.AddSingleton<FaultRoutes>();
        services.AddSingleton(new ServerInfo(DateTime.UtcNow));
        services.AddSingleton<ProductDetailQuery>();
        services.AddSingleton<OrderDetailQuery>();
        services.AddSingleton<ProductReviewsStatements>();
        services.ConfigureHttpJsonOptions(o => ExBuyJsonContext.Configure(o.SerializerOptions));
        // Malformed JSON and wrong types become BadHttpRequestException in every environment (it defaults to
        // Development only), which ExBuyExceptionHandler turns into a 400 naming the field: a bad body is a 400, never a 500.
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.AddProblemDetails(o => o.CustomizeProblemDetails = ctx =>
        {
            ctx.ProblemDetails.Instance ??= ctx.HttpContext.Request.Path;
            if (debug && ctx.Exception is { } ex)
            {
                ctx.ProblemDetails.Extensions["exception"] = ex.ToString();
            }
        });
        services.AddExceptionHandler<ExBuyExceptionHandler>();
        services.AddExBuyOpenApi();
        return builder;
    }

    public static WebApplication UseExBuy(this WebApplication app)
    {
        if (app.Services.GetRequiredService<HttpLimits>().ShutdownDelay > TimeSpan.Zero)
        {
            ShutdownDrain.UseShutdownDrain(app);
        }
        app.UseRequestObservation();
        app.UseSyncWorkers();
        // Explicit, so the fault middleware sees the endpoint's route template (minimal APIs would otherwise add routing
        // at the very start of the pipeline); request observation reads the endpoint only after the rest has run.
        app.UseRouting();
        // Inside the exception handler, so a DB delay on a failing database answers 503 like the handler's own queries.
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseFaultInjection();
        app.UseReadRetry();

        app.MapExBuyMetrics();
        app.MapHealth();
        app.MapProducts();
        app.MapSearch();
        app.MapReviews();
        app.MapOrders();
        app.MapInventory();
        app.MapStats();
        app.MapUploads();
        app.MapExBuyOpenApi();
        app.MapFaultAdmin();
        return app;
    }

    /// <summary>Prepares the database (migrate, seed when empty), prints where it serves, and runs until stopped.</summary>
    public static async Task<int> RunExBuyAsync(this WebApplication app)
    {
        var db = app.Services.GetRequiredService<DatabaseOptions>();
        var server = app.Services.GetRequiredService<ServerOptions>();
        if (!await DatabaseStartup.PrepareAsync(app.Services, db, app.Lifetime.ApplicationStopping))
        {
            return 1;
        }
        if (server.Supervises)
        {
            // Database prepared once, here; the workers serve.
            var urls = app.Urls.Count > 0 ? app.Urls : [.. (app.Configuration["urls"] ?? DefaultUrl).Split(';')];
            if (urls.Any(u => u.EndsWith(":0", StringComparison.Ordinal) || u.EndsWith(":0/", StringComparison.Ordinal)))
            {
                Console.Error.WriteLine("exbuy: WORKERS needs a fixed port (the workers share it): set --urls or ASPNETCORE_URLS with a port other than 0.");
                return 2;
            }
            var shutdown = app.Services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout;
            return await new Supervisor(server, Environment.GetCommandLineArgs()[1..], shutdown).RunAsync();
        }
        if (server.SupervisorPid is { } supervisor)
        {
            Supervisor.WatchSupervisor(app.Lifetime, supervisor);
        }
        if (!FaultStartup.CheckRoutes(app.Services))
        {
            return 1;
        }
        await app.StartAsync();
        app.Services.GetRequiredService<ServerInfo>().Serving();
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
        if (addresses is { Count: > 0 })
        {
            var url = addresses.First();
            var worker = server.WorkerIndex is { } i ? $"worker {i + 1}/{server.Workers}, pid {Environment.ProcessId}, " : "";
            var mode = server.IsSync ? $"SERVER_MODE=sync, THREADS={server.Threads}, " : "";
            StartupLines.Info(app.Services, $"ExBuy is serving {url} ({worker}{mode}{db.Describe()}) — try {url}/api/products");
        }
        await app.WaitForShutdownAsync();
        return 0;
    }
}
