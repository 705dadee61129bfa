using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using ExBuy.Api.Observability;

namespace ExBuy.Api.Server;

/// <summary>
/// <c>SERVER_MODE=sync</c>: the sync-worker analogue (gunicorn's sync workers × threads). <c>THREADS</c> dedicated
/// threads, started once; each takes one request at a time and runs the rest of the pipeline on itself, blocking
/// (<c>GetAwaiter().GetResult()</c>) until the response is written — the thread is held for the request's whole duration,
/// through its real database I/O, exactly as a thread doing blocking I/O is. A request that finds every thread busy
/// waits in a FIFO queue (the listen backlog of a sync server), without holding a thread itself. So under load the
/// sync mode shows what the original's sync workers show: throughput capped near THREADS ÷ latency, queueing time
/// growing with the load, p99 set by the queue. The queue wait is measured (<c>exbuy_sync_queue_wait_seconds</c>) and
/// the busy threads and queue length are gauges.
/// </summary>
public sealed class SyncWorkers : IDisposable
{
    private readonly BlockingCollection<WorkItem> _queue = new(new ConcurrentQueue<WorkItem>());
    private readonly Thread[] _threads;
    private int _busy;

    // Its own meter (named ExBuy, so it is exported with the rest), disposed with the pool: one set of instruments per host.
    private readonly Meter _meter = new(ExBuyMetrics.MeterName);
    private readonly Histogram<double> _queueWait;

    private sealed record WorkItem(HttpContext Context, RequestDelegate Next, TaskCompletionSource Done, long Queued);

    public SyncWorkers(int threads)
    {
        _queueWait = _meter.CreateHistogram(
            "exbuy.sync.queue.wait", "s", "SERVER_MODE=sync: time a request waited for a free thread",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = ExBuyMetrics.LatencyBuckets });
        _threads = new Thread[threads];
        for (var i = 0; i < threads; i++)
        {
            _threads[i] = new Thread(Work) { IsBackground = true, Name = $"exbuy-sync-{i + 1}" };
            _threads[i].Start();
        }
        _meter.CreateObservableUpDownCounter("exbuy.sync.threads.busy", () => Volatile.Read(ref _busy), "{thread}",
            "SERVER_MODE=sync: threads holding a request now");
        _meter.CreateObservableUpDownCounter("exbuy.sync.queue.length", () => _queue.Count, "{request}",
            "SERVER_MODE=sync: requests waiting for a free thread");
        _meter.CreateObservableUpDownCounter("exbuy.sync.threads", () => _threads.Length, "{thread}",
            "SERVER_MODE=sync: THREADS");
    }

    public int Threads => _threads.Length;

    /// <summary>Hands the rest of the pipeline to a worker thread; completes when that thread has finished the request.</summary>
    public Task RunAsync(HttpContext context, RequestDelegate next)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _queue.Add(new WorkItem(context, next, done, Stopwatch.GetTimestamp()));
        return done.Task;
    }

    private void Work()
    {
        foreach (var item in _queue.GetConsumingEnumerable())
        {
            _queueWait.Record(Stopwatch.GetElapsedTime(item.Queued).TotalSeconds);
            Interlocked.Increment(ref _busy);
            try
            {
                // Blocking on purpose: this thread is the request's until the response is done.
                item.Next(item.Context).GetAwaiter().GetResult();
                item.Done.TrySetResult();
            }
            catch (Exception ex)
            {
                item.Done.TrySetException(ex);
            }
            finally
            {
                Interlocked.Decrement(ref _busy);
            }
        }
    }

    public void Dispose()
    {
        // The threads finish the requests they hold and end; the queue itself is left to the GC (a thread may still read it).
        _queue.CompleteAdding();
        _meter.Dispose();
    }
}

public static class SyncWorkersExtensions
{
    /// <summary>In SERVER_MODE=sync, every request from here on runs on one of the THREADS dedicated threads.</summary>
    public static IApplicationBuilder UseSyncWorkers(this IApplicationBuilder app)
    {
        var options = app.ApplicationServices.GetRequiredService<ServerOptions>();
        if (!options.IsSync)
        {
            return app;
        }
        var workers = app.ApplicationServices.GetRequiredService<SyncWorkers>();
        return app.Use((context, next) => workers.RunAsync(context, next));
    }
}
