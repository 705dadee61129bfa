using System.Diagnostics;

namespace ExBuy.Load.Tests;

/// <summary>
/// A real tool a test drives (as ExBuy.Api.Tests' <c>Tools.Require</c>): found on PATH, else the test is skipped with the
/// install command, or fails when CI=true (CI runs every test).
/// </summary>
internal static class RequiredTool
{
    public static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    public static string Require(string name, string install)
    {
        var path = Find(name);
        if (path is not null) return path;
        Missing($"{name} not found on PATH: {install}");
        return "";
    }

    /// <summary>Skips the test for <paramref name="reason"/>, or fails it when CI=true.</summary>
    public static void Missing(string reason)
    {
        if (InCi) throw new InvalidOperationException("CI=true requires every test to run: " + reason);
        Assert.Skip(reason);
    }

    public static string? Find(string name) => (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Select(dir => Path.Combine(dir, name))
        .FirstOrDefault(File.Exists);

    /// <summary>
    /// Runs a tool to completion, feeding <paramref name="stdin"/>, killed (with its children) after
    /// <paramref name="timeout"/>; returns the exit code, stdout and stderr. <paramref name="environment"/> sets (a value) or
    /// removes (null) variables of the inherited environment.
    /// </summary>
    public static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(string file, IEnumerable<string> arguments, TimeSpan timeout,
        CancellationToken ct, string? stdin = null, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in arguments) psi.ArgumentList.Add(a);
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null) psi.Environment.Remove(key);
            else psi.Environment[key] = value;
        }
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        if (stdin is not null) await process.StandardInput.WriteAsync(stdin);
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bounded.CancelAfter(timeout);
        try { await process.WaitForExitAsync(bounded.Token); }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            throw new TimeoutException($"{Path.GetFileName(file)} did not finish within {timeout.TotalSeconds} s: {await stderr}");
        }
        return (process.ExitCode, await stdout, await stderr);
    }
}
