using System.Diagnostics;
using System.Runtime.InteropServices;

namespace ExBuy.Api.Server;

/// <summary>
/// <c>WORKERS=N</c> (or a <c>GC_MODE</c> other than the running GC): this process serves nothing itself; it prepares the
/// database once, starts N worker processes of the same executable with the same arguments — each binds the same port
/// with SO_REUSEPORT, so the kernel spreads connections across them, pre-fork style — and supervises them:
/// <list type="bullet">
/// <item>a worker that exits on its own is started again (after 1 s, doubling up to 30 s while it keeps failing
/// within 10 s of its start), with one line saying which worker, its pid and exit code;</item>
/// <item>SIGTERM or SIGINT to the supervisor: SIGTERM to every worker (each stops accepting and drains its in-flight
/// requests, as a single process does), wait for all of them, exit 0 when every worker exited 0;</item>
/// <item>workers watch the supervisor (<see cref="WatchSupervisor"/>): if it dies, they stop too — no orphans.</item>
/// </list>
/// Workers inherit stdout/stderr and the environment, plus <c>EXBUY_WORKER_INDEX</c>, <c>EXBUY_SUPERVISOR_PID</c>,
/// <c>DB_MIGRATE=false</c>, <c>SEED_ON_EMPTY=none</c> and the GC switches of <c>GC_MODE</c>.
/// </summary>
public sealed class Supervisor
{
    private const int SigTerm = 15;
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan StableAfter = TimeSpan.FromSeconds(10);

    private readonly ServerOptions _options;
    private readonly string[] _args;
    private readonly Process?[] _workers;
    private readonly DateTime[] _started;
    private readonly TimeSpan[] _backoff;
    private readonly CancellationTokenSource _stopping = new();
    private readonly TimeSpan _shutdownTimeout;

    public Supervisor(ServerOptions options, string[] args, TimeSpan shutdownTimeout)
    {
        _options = options;
        _args = args;
        _workers = new Process?[options.Workers];
        _started = new DateTime[options.Workers];
        _backoff = Enumerable.Repeat(TimeSpan.FromSeconds(1), options.Workers).ToArray();
        _shutdownTimeout = shutdownTimeout;
    }

    [DllImport("libc", SetLastError = true, EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);

    /// <summary>Whether process <paramref name="pid"/> exists (signal 0 checks without sending).</summary>
    public static bool IsAlive(int pid) => Kill(pid, 0) == 0 || Marshal.GetLastPInvokeError() == 1; // EPERM: alive, not ours

    public async Task<int> RunAsync()
    {
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        var gc = _options.GcMode ?? ServerOptions.RunningGcMode();
        Console.WriteLine($"ExBuy supervisor (pid {Environment.ProcessId}): starting {_options.Workers} worker(s), " +
            $"SERVER_MODE={_options.Mode}{(_options.IsSync ? $" THREADS={_options.Threads}" : "")}, GC_MODE={gc}");
        for (var i = 0; i < _workers.Length; i++)
        {
            Start(i);
        }

        while (!_stopping.IsCancellationRequested)
        {
            var exits = _workers.Select(w => w!.WaitForExitAsync(_stopping.Token)).ToArray();
            try
            {
                await Task.WhenAny(exits);
            }
            catch (OperationCanceledException)
            {
            }
            if (_stopping.IsCancellationRequested)
            {
                break;
            }
            for (var i = 0; i < _workers.Length; i++)
            {
                if (_workers[i] is { HasExited: true } dead)
                {
                    await RestartAsync(i, dead);
                }
            }
        }
        return await DrainAsync();
    }

    private void Stop(PosixSignalContext context)
    {
        context.Cancel = true; // the supervisor decides when to exit: after its workers
        if (!_stopping.IsCancellationRequested)
        {
            Console.WriteLine($"ExBuy supervisor: {context.Signal} received, stopping {_workers.Length} worker(s) (they drain their in-flight requests)");
            _stopping.Cancel();
        }
    }

    private async Task RestartAsync(int index, Process dead)
    {
        var code = dead.ExitCode;
        var ranFor = DateTime.UtcNow - _started[index];
        _backoff[index] = ranFor >= StableAfter ? TimeSpan.FromSeconds(1) : TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, _backoff[index].Ticks * 2));
        var wait = ranFor >= StableAfter ? TimeSpan.Zero : _backoff[index];
        Console.Error.WriteLine($"ExBuy supervisor: worker {index + 1} (pid {dead.Id}) exited with {code} after {ranFor.TotalSeconds:F1} s; " +
            $"starting a new one{(wait > TimeSpan.Zero ? $" in {wait.TotalSeconds:F0} s" : "")}");
        dead.Dispose();
        _workers[index] = null;
        try
        {
            await Task.Delay(wait, _stopping.Token);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        Start(index);
    }

    private void Start(int index)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false };
        // `dotnet ExBuy.Api.dll …` runs the dll again; an apphost (./ExBuy.Api) runs itself.
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")
        {
            psi.ArgumentList.Add(typeof(Supervisor).Assembly.Location);
        }
        foreach (var arg in _args)
        {
            psi.ArgumentList.Add(arg);
        }
        psi.Environment["EXBUY_WORKER_INDEX"] = index.ToString(System.Globalization.CultureInfo.InvariantCulture);
        psi.Environment["EXBUY_SUPERVISOR_PID"] = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        psi.Environment["DB_MIGRATE"] = "false";
        psi.Environment["SEED_ON_EMPTY"] = "none";
        foreach (var (key, value) in _options.GcEnvironment())
        {
            psi.Environment[key] = value;
        }
        _workers[index] = Process.Start(psi) ?? throw new InvalidOperationException($"worker {index + 1} did not start");
        _started[index] = DateTime.UtcNow;
    }

    private async Task<int> DrainAsync()
    {
        var live = _workers.OfType<Process>().Where(w => !w.HasExited).ToArray();
        foreach (var worker in live)
        {
            Kill(worker.Id, SigTerm);
        }
        using var timeout = new CancellationTokenSource(_shutdownTimeout + TimeSpan.FromSeconds(5));
        var failed = 0;
        foreach (var worker in _workers.OfType<Process>())
        {
            try
            {
                await worker.WaitForExitAsync(timeout.Token);
                if (worker.ExitCode != 0)
                {
                    failed++;
                    Console.Error.WriteLine($"ExBuy supervisor: worker pid {worker.Id} exited with {worker.ExitCode}");
                }
            }
            catch (OperationCanceledException)
            {
                failed++;
                Console.Error.WriteLine($"ExBuy supervisor: worker pid {worker.Id} did not stop within {_shutdownTimeout.TotalSeconds:F0} s; killing it");
                worker.Kill();
            }
        }
        Console.WriteLine($"ExBuy supervisor: stopped ({_workers.Length - failed} of {_workers.Length} worker(s) exited cleanly)");
        return failed == 0 ? 0 : 1;
    }

    /// <summary>In a worker: stop the app when the supervisor is gone (killed with SIGKILL, say), checked every second.</summary>
    public static void WatchSupervisor(IHostApplicationLifetime lifetime, int supervisorPid)
    {
        _ = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
            try
            {
                while (await timer.WaitForNextTickAsync(lifetime.ApplicationStopping).ConfigureAwait(false))
                {
                    if (!IsAlive(supervisorPid))
                    {
                        Console.Error.WriteLine($"ExBuy worker {Environment.ProcessId}: supervisor {supervisorPid} is gone; stopping");
                        lifetime.StopApplication();
                        return;
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        });
    }
}
