using System.ComponentModel;
using Spectre.Console.Cli;

namespace ExBuy.Load.HtmlReport;

public sealed class ReportSettings : CommandSettings
{
    [CommandArgument(0, "<RESULTS>")] [Description("one or more result files (exbuy-load/1 JSON); several are overlaid, time aligned to each run's start")]
    public string[] Files { get; set; } = [];

    [CommandOption("--out <FILE>")] [Description("the HTML file (default: report-<utc>.html next to the first result file)")]
    public string? Out { get; set; }
}

/// <summary>`exbuy-load report A.json [B.json ...] [--out report.html]`: one self-contained HTML page; exit 2 on a bad input.</summary>
public sealed class ReportCommand : AsyncCommand<ReportSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, ReportSettings settings, CancellationToken cancellationToken)
    {
        if (settings.Files.Length == 0)
        {
            await Console.Error.WriteLineAsync("exbuy-load report: at least one result file is required");
            return 2;
        }
        try
        {
            var path = await HtmlReportWriter.WriteAsync(settings.Files, settings.Out, DateTimeOffset.UtcNow);
            Console.WriteLine($"report: {path}");
            return 0;
        }
        catch (Exception e) when (e is FormatException or IOException or UnauthorizedAccessException)
        {
            await Console.Error.WriteLineAsync($"exbuy-load report: {e.Message}");
            return 2;
        }
    }
}
