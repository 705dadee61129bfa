using Spectre.Console;
using Spectre.Console.Cli;

namespace ExBuy.Load;

public static class Cli
{
    /// <summary>`exbuy-load run ...`; an unknown option or a parse error exits 2 like a bad value.</summary>
    public static CommandApp Create()
    {
        var app = new CommandApp();
        app.Configure(c =>
        {
            c.SetApplicationName("exbuy-load");
            c.UseStrictParsing();
            c.AddCommand<RunCommand>("run")
                .WithDescription("run a scenario of load/scenarios.json against an ExBuy contract server (closed model: --vus; open model: --rate)")
                .WithExample("run", "--scenario", "mixed", "--base-url", "http://127.0.0.1:8000", "--duration", "60s")
                .WithExample("run", "--scenario", "read-only", "--rate", "500", "--max-vus", "200", "--threshold", "p95<200ms");
            c.SetExceptionHandler((e, _) =>
            {
                Console.Error.WriteLine($"exbuy-load: {e.Message}");
                return 2;
            });
        });
        return app;
    }
}
