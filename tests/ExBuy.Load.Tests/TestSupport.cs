using System.Net;
using System.Net.Sockets;
using System.Reflection;
using Spectre.Console;

[assembly: AssemblyFixture(typeof(ExBuy.Load.Tests.TempRoot))]

namespace ExBuy.Load.Tests;

internal static class TestSupport
{
    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "ExBuy.slnx"))) return dir.FullName;
        throw new InvalidOperationException("ExBuy.slnx not found above " + AppContext.BaseDirectory);
    }

    public static string Configuration =>
        typeof(TestSupport).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    /// <summary>Every temp directory of this test run lives under one root, removed when the run ends (<see cref="TempRoot"/>).</summary>
    public static readonly string TempRootPath = Path.Combine(Path.GetTempPath(), $"exbuy-load-tests-{Guid.NewGuid():N}"[..30]);

    public static string TempDir(string prefix)
    {
        var dir = Path.Combine(TempRootPath, $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>A console that writes plain text into <paramref name="writer"/>.</summary>
    public static IAnsiConsole Console(TextWriter writer)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Interactive = InteractionSupport.No, Out = new AnsiConsoleOutput(writer),
        });
        console.Profile.Width = 160;
        return console;
    }

    public static RunOptions Options(RunSettings settings, string? workingDirectory = null) =>
        ExBuy.Load.Options.Validate(settings, workingDirectory ?? RepoRoot(), _ => null);
}

/// <summary>Removes the run's temp root (result files, databases, fake-server state) after the last test.</summary>
public sealed class TempRoot : IDisposable
{
    public void Dispose()
    {
        try
        {
            Directory.Delete(TestSupport.TempRootPath, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
