using System.Diagnostics;
using System.Reflection.PortableExecutable;

namespace ExBuy.Api.Health;

/// <summary>Facts about this process fixed at start-up (for /api/info).</summary>
public sealed record ServerInfo(DateTime StartedAt)
{
    /// <summary>How the app's own code was compiled: <c>readytorun</c> (precompiled, the ReadyToRun publish profile) or <c>jit</c>.</summary>
    public string Build { get; } = ReadyToRun() ? "readytorun" : "jit";

    /// <summary>Milliseconds from the process start to serving (set once Kestrel listens; null before).</summary>
    public double? StartupMs { get; private set; }

    public void Serving()
    {
        using var process = Process.GetCurrentProcess();
        StartupMs = Math.Round((DateTime.Now - process.StartTime).TotalMilliseconds, 1);
    }

    private static bool ReadyToRun()
    {
        try
        {
            using var stream = File.OpenRead(typeof(ServerInfo).Assembly.Location);
            using var pe = new PEReader(stream);
            return pe.PEHeaders.CorHeader?.ManagedNativeHeaderDirectory.Size > 0;
        }
        catch (Exception ex) when (ex is IOException or BadImageFormatException or UnauthorizedAccessException or ArgumentException)
        {
            return false;
        }
    }
}
