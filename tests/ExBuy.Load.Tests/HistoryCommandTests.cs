namespace ExBuy.Load.Tests;

/// <summary>`exbuy-load history` over a history.jsonl written by hand: what `make show-history` and `make compare-results` read.</summary>
public class HistoryCommandTests
{
    private static (int Exit, string Stdout, string Stderr) Run(string dir, HistorySettings settings)
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        var exit = HistoryCommand.Run(settings, output, error, dir, redirected: true);
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public void Lists_the_runs_oldest_first_and_prints_the_last_ids_for_compare()
    {
        var dir = TestSupport.TempDir("history");
        Directory.CreateDirectory(Path.Combine(dir, "results"));
        File.WriteAllLines(Path.Combine(dir, "results", "history.jsonl"),
        [
            """{"run_id":"mixed-1","scenario":"mixed","time":"2026-01-02T12:00:00.5Z","target":"http://127.0.0.1:8000","model":"closed","rps":351.25,"p95_ms":24.8,"errors":0,"verdict":"pass","file":"mixed-1.json"}""",
            "not json",
            "",
            """{"run_id":"read-only-2","scenario":"read-only","time":"2026-01-02T12:05:00Z","target":"http://127.0.0.1:8000","model":"open","rps":200,"p95_ms":3.5,"errors":2,"verdict":"thresholds crossed","file":"read-only-2.json"}""",
            """{"run_id":"mixed-merged","scenario":"mixed","time":"2026-01-02T12:10:00Z","rps":700,"verdict":"pass","file":"mixed-merged.json","merged_from":["a","b"]}""",
        ]);

        var (exit, table, _) = Run(dir, new HistorySettings());
        Assert.Equal(0, exit);
        Assert.Contains("| 2026-01-02 12:00:00 | mixed-1 | mixed | closed | http://127.0.0.1:8000 | pass | mixed-1.json | 351.3 | 24.80 | 0 |", table);
        Assert.Contains("| 2026-01-02 12:05:00 | read-only-2 | read-only | open | http://127.0.0.1:8000 | thresholds crossed | read-only-2.json | 200.0 | 3.50 | 2 |", table);
        Assert.Contains("| pass (merged 2) | mixed-merged.json | 700.0 | - | - |", table);
        Assert.True(table.IndexOf("mixed-1", StringComparison.Ordinal) < table.IndexOf("read-only-2", StringComparison.Ordinal));
        Assert.Contains("3 run(s) from", table);

        (exit, var ids, _) = Run(dir, new HistorySettings { Last = 2, Ids = true });
        Assert.Equal(0, exit);
        Assert.Equal(["read-only-2", "mixed-merged"], ids.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    [Fact]
    public void No_history_is_one_line_and_exit_0_and_a_bad_option_is_exit_2()
    {
        var dir = TestSupport.TempDir("history-empty");
        var (exit, stdout, _) = Run(dir, new HistorySettings());
        Assert.Equal(0, exit);
        Assert.Contains($"no runs recorded yet in {Path.Combine(dir, "results", "history.jsonl")}", stdout);
        var (idsExit, noIds, _) = Run(dir, new HistorySettings { Ids = true });
        Assert.Equal(0, idsExit);
        Assert.Equal("", noIds);

        Assert.Equal(2, Run(dir, new HistorySettings { Last = 0 }).Exit);
        var (badExit, _, badErr) = Run(dir, new HistorySettings { Format = "csv" });
        Assert.Equal(2, badExit);
        Assert.Contains("--format csv: expected table or markdown", badErr);
    }
}
