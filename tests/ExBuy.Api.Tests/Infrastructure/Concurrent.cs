using System.Net;

namespace ExBuy.Api.Tests.Infrastructure;

/// <summary>Concurrency tests assert invariants (stock conserved, no oversell, one winner), not timings.</summary>
public static class Concurrent
{
    /// <summary>Runs <paramref name="count"/> requests released together, so they really contend.</summary>
    public static async Task<T[]> RunAsync<T>(int count, Func<int, Task<T>> request)
    {
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tasks = Enumerable.Range(0, count)
            .Select(async i =>
            {
                await start.Task;
                return await request(i);
            })
            .ToArray();
        start.SetResult();
        return await Task.WhenAll(tasks);
    }

    /// <summary>Every response of a concurrent run: only the expected statuses, never a 5xx.</summary>
    public static void AssertOnly(IEnumerable<HttpStatusCode> statuses, params HttpStatusCode[] allowed)
    {
        foreach (var status in statuses)
        {
            Assert.True(allowed.Contains(status), $"unexpected {(int)status}; allowed: {string.Join(", ", allowed.Select(a => (int)a))}");
        }
    }
}
