using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ExBuy.Load;

public sealed class CompareServersSettings : RunSettings
{
    [CommandArgument(0, "<VARIANTS>")]
    [Description("two or more NAME=\"VAR=value VAR=value\" (e.g. A=\"SERVER_MODE=async\" B=\"SERVER_MODE=sync THREADS=8\"); NAME= alone is the defaults")]
    public string[] Variants { get; set; } = [];
    [CommandOption("--server <COMMAND>")]
    [Description("how to start ExBuy (default: dotnet src/ExBuy.Api/bin/Release/net10.0/ExBuy.Api.dll found upwards from here, else the Debug build); EXBUY_SERVER as fallback")]
    public string? Server { get; set; }
    [CommandOption("--ports <PORTS>")]
    [Description("listen ports of the variants, comma-separated (default 8000,8001,8002…, as the original's two servers)")]
    public string? Ports { get; set; }
    [CommandOption("--rounds <N>")]
    [Description("runs per variant, in alternation: A B, then B A, … (default 1)")]
    public string? Rounds { get; set; }
}

/// <summary>
/// `exbuy-load compare-servers A="SERVER_MODE=async" B="SERVER_MODE=sync THREADS=8" --scenario mixed`: starts every
/// variant as its own ExBuy process on 127.0.0.1 (8000, 8001, … — one after the other, so only the first seeds an empty
/// database) against the same database (the DB_* environment this command runs with), drives the same scenario at each
/// in alternation (round r runs them in reverse order of round r − 1, so drift favours none), records every run
/// (`--label` = the variant's name; `/api/info` says the rest) and prints `compare` of all of them. The servers are
/// stopped with SIGTERM at the end, and on Ctrl-C. Exit: 0, 1 when a server does not start or a run fails, 2 on a bad
/// option, 99 when a run crossed a threshold.
/// </summary>
public sealed class CompareServersCommand : AsyncCommand<CompareServersSettings>
{
    public sealed record Variant(string Name, IReadOnlyDictionary<string, string> Environment)
    {
        public string Describe() => Environment.Count == 0 ? "(defaults)" : string.Join(" ", Environment.Select(kv => $"{kv.Key}={kv.Value}"));
    }

    /// <summary>NAME=VAR=value VAR=value → a variant; the message names what is wrong.</summary>
    public static Variant ParseVariant(string text)
    {
        var eq = text.IndexOf('=');
        if (eq <= 0)
        {
            throw new OptionException($"variant '{text}': expected NAME=\"VAR=value …\", e.g. A=\"SERVER_MODE=async\"");
        }
        var name = text[..eq];
        if (!name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            throw new OptionException($"variant '{text}': the name '{name}' must be letters, digits, - or _");
        }
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in text[(eq + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var e = pair.IndexOf('=');
            if (e <= 0 || !pair[..e].All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
            {
                throw new OptionException($"variant {name}: '{pair}' is not VAR=value");
            }
            env[pair[..e]] = pair[(e + 1)..];
        }
        return new Variant(name, env);
    }

    public override async Task<int> ExecuteAsync(CommandContext context, CompareServersSettings settings, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (stop.IsCancellationRequested) return;
            e.Cancel = true;
            stop.Cancel();
            Console.Error.WriteLine("exbuy-load compare-servers: stopping (the servers are stopped; Ctrl-C again to abort)");
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            return await RunAsync(settings, Directory.GetCurrentDirectory(), Environment.GetEnvironmentVariable, Console.Out, Console.Error, stop.Token);
        }
        finally { Console.CancelKeyPress -= onCancel; }
    }

    /// <summary>The command without the console: what tests call.</summary>
    public static async Task<int> RunAsync(CompareServersSettings settings, string workingDirectory, Func<string, string?> env,
        TextWriter output, TextWriter error, CancellationToken ct)
    {
        List<Variant> variants;
        int[] ports;
        int rounds;
        string[] server;
        try
        {
            if (settings.BaseUrl is not null) throw new OptionException("--base-url: compare-servers starts its own servers (see --ports)");
            if (settings.Variants.Length < 2) throw new OptionException("give at least two variants, e.g. A=\"SERVER_MODE=async\" B=\"SERVER_MODE=sync THREADS=8\"");
            variants = [.. settings.Variants.Select(ParseVariant)];
            var dup = variants.GroupBy(v => v.Name).FirstOrDefault(g => g.Count() > 1);
            if (dup is not null) throw new OptionException($"variant name {dup.Key} is given twice");
            ports = ParsePorts(settings.Ports, variants.Count);
            rounds = settings.Rounds is null ? 1
                : int.TryParse(settings.Rounds, NumberStyles.None, CultureInfo.InvariantCulture, out var r) && r is >= 1 and <= 50 ? r
                : throw new OptionException($"--rounds: '{settings.Rounds}' must be an integer in 1..50");
            server = ServerCommand(settings.Server ?? env("EXBUY_SERVER"), workingDirectory);
            // Every run's options, checked before anything starts.
            foreach (var (v, i) in variants.Select((v, i) => (v, i)))
            {
                Options.Validate(RunFor(settings, v, ports[i]), workingDirectory, env);
            }
        }
        catch (OptionException e)
        {
            error.WriteLine($"exbuy-load compare-servers: {e.Message}");
            return 2;
        }

        var outDir = Path.GetFullPath(settings.Out ?? "results", workingDirectory);
        Directory.CreateDirectory(Path.Combine(outDir, "servers"));
        var processes = new List<(Variant Variant, Process Process, int Port)>();
        var files = new List<string>();
        var exit = 0;
        try
        {
            for (var i = 0; i < variants.Count; i++)
            {
                var v = variants[i];
                output.WriteLine($"compare-servers: starting {v.Name} ({v.Describe()}) on 127.0.0.1:{ports[i]}");
                var p = Start(server, v, ports[i], Path.Combine(outDir, "servers", $"{v.Name}.log"), workingDirectory);
                processes.Add((v, p, ports[i]));
                if (!await WaitReadyAsync(p, ports[i], ct))
                {
                    error.WriteLine($"exbuy-load compare-servers: {v.Name} did not become ready on port {ports[i]}; see {Path.Combine(outDir, "servers", v.Name + ".log")}");
                    return 1;
                }
            }

            var order = Enumerable.Range(0, variants.Count).ToList();
            for (var round = 1; round <= rounds && !ct.IsCancellationRequested; round++)
            {
                foreach (var i in order)
                {
                    if (ct.IsCancellationRequested) break;
                    var v = variants[i];
                    output.WriteLine($"compare-servers: round {round}, {v.Name} ({v.Describe()})");
                    var options = Options.Validate(RunFor(settings, v, ports[i]) , workingDirectory, env);
                    await using var runner = new LoadRunner(options, PlainConsole(output), plain: true, workingDirectory: workingDirectory);
                    var outcome = await runner.RunAsync(ct);
                    if (outcome.ResultFile is not null) files.Add(outcome.ResultFile);
                    if (outcome.ExitCode is 1 or 2) exit = 1;
                    else if (outcome.ExitCode == 99 && exit == 0) exit = 99;
                }
                order.Reverse();
            }
        }
        finally
        {
            foreach (var (v, p, _) in processes)
            {
                await StopAsync(p, output, v.Name);
            }
        }
        if (files.Count >= 2)
        {
            output.WriteLine();
            CompareCommand.Run(new CompareSettings { Files = [.. files], Format = "markdown", Results = outDir }, output, error, workingDirectory, redirected: true);
        }
        return exit;
    }

    private static IAnsiConsole PlainConsole(TextWriter output)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(output),
        });
        console.Profile.Width = 160;
        return console;
    }

    private static RunSettings RunFor(CompareServersSettings s, Variant v, int port) => new()
    {
        Scenario = s.Scenario, BaseUrl = $"http://127.0.0.1:{port}", Duration = s.Duration, Vus = s.Vus, RampUp = s.RampUp,
        RampDown = s.RampDown, Warmup = s.Warmup, Seed = s.Seed ?? "42", LockType = s.LockType, Rate = s.Rate, MaxVus = s.MaxVus,
        Threshold = s.Threshold, ScenariosFile = s.ScenariosFile, Out = s.Out, Timeout = s.Timeout, MetricsListen = s.MetricsListen,
        Faults = s.Faults, AdminToken = s.AdminToken, Label = v.Name,
    };

    internal static int[] ParsePorts(string? text, int count)
    {
        if (text is null) return [.. Enumerable.Range(8000, count)];
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var ports = parts.Select(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= 65535 ? n
            : throw new OptionException($"--ports: '{p}' is not a port (1..65535)")).ToArray();
        if (ports.Length != count) throw new OptionException($"--ports: {ports.Length} port(s) for {count} variants");
        if (ports.Distinct().Count() != ports.Length) throw new OptionException("--ports: each variant needs its own port");
        return ports;
    }

    /// <summary>The command line that starts ExBuy: --server split on spaces, or the built dll found upwards.</summary>
    internal static string[] ServerCommand(string? given, string workingDirectory)
    {
        if (!string.IsNullOrWhiteSpace(given)) return given.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        for (var dir = new DirectoryInfo(workingDirectory); dir is not null; dir = dir.Parent)
        {
            foreach (var configuration in new[] { "Release", "Debug" })
            {
                var dll = Path.Combine(dir.FullName, "src", "ExBuy.Api", "bin", configuration, "net10.0", "ExBuy.Api.dll");
                if (File.Exists(dll)) return ["dotnet", dll];
            }
        }
        throw new OptionException("no ExBuy build found: run `dotnet build -c Release src/ExBuy.Api` first, or give --server \"dotnet path/to/ExBuy.Api.dll\"");
    }

    private static Process Start(string[] command, Variant v, int port, string log, string workingDirectory)
    {
        var psi = new ProcessStartInfo(command[0])
        {
            UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory,
        };
        foreach (var a in command.Skip(1)) psi.ArgumentList.Add(a);
        psi.ArgumentList.Add("--urls");
        psi.ArgumentList.Add($"http://127.0.0.1:{port}");
        foreach (var (key, value) in v.Environment) psi.Environment[key] = value;
        var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {command[0]}");
        var writer = new StreamWriter(log) { AutoFlush = true };
        var gate = new Lock();
        void Write(string? line) { if (line is null) return; lock (gate) writer.WriteLine(line); }
        p.OutputDataReceived += (_, e) => Write(e.Data);
        p.ErrorDataReceived += (_, e) => Write(e.Data);
        p.Exited += (_, _) => { lock (gate) writer.Dispose(); };
        p.EnableRaisingEvents = true;
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    private static async Task<bool> WaitReadyAsync(Process p, int port, CancellationToken ct)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(120) && !ct.IsCancellationRequested)
        {
            if (p.HasExited) return false;
            try
            {
                using var r = await http.GetAsync($"http://127.0.0.1:{port}/api/health/ready", ct);
                if (r.StatusCode == HttpStatusCode.OK) return true;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { }
            await Task.Delay(250, CancellationToken.None);
        }
        return false;
    }

    private static async Task StopAsync(Process p, TextWriter output, string name)
    {
        if (!p.HasExited)
        {
            Signals.Terminate(p.Id);
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(40));
            try { await p.WaitForExitAsync(wait.Token); }
            catch (OperationCanceledException) { p.Kill(entireProcessTree: true); }
        }
        output.WriteLine($"compare-servers: {name} stopped (exit {(p.HasExited ? p.ExitCode.ToString(CultureInfo.InvariantCulture) : "killed")})");
        p.Dispose();
    }
}

/// <summary>SIGTERM, as a container stop sends it (Process.Kill sends SIGKILL).</summary>
internal static class Signals
{
    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true, EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);

    public static void Terminate(int pid) => Kill(pid, 15);
}
