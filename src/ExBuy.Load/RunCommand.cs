using Spectre.Console;
using Spectre.Console.Cli;

namespace ExBuy.Load;

public sealed class RunCommand : AsyncCommand<RunSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, RunSettings settings, CancellationToken cancellationToken)
    {
        RunOptions options;
        try
        {
            options = Options.Validate(settings, Directory.GetCurrentDirectory(), Environment.GetEnvironmentVariable);
        }
        catch (OptionException e)
        {
            Console.Error.WriteLine($"exbuy-load run: {e.Message}");
            return 2;
        }
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (stop.IsCancellationRequested) return; // a second Ctrl-C ends the process
            e.Cancel = true;
            stop.Cancel();
            Console.Error.WriteLine("exbuy-load: stopping (the run so far is reported; Ctrl-C again to abort)");
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            var plain = Console.IsOutputRedirected;
            var console = AnsiConsole.Console;
            if (plain)
            {
                console = AnsiConsole.Create(new AnsiConsoleSettings
                {
                    Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Interactive = InteractionSupport.No,
                    Out = new AnsiConsoleOutput(Console.Out),
                });
                console.Profile.Width = 160;
            }
            await using var runner = new LoadRunner(options, console, plain);
            var outcome = await runner.RunAsync(stop.Token);
            return outcome.ExitCode;
        }
        finally { Console.CancelKeyPress -= onCancel; }
    }
}
