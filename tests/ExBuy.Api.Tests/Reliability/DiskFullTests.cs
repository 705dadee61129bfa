using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using ExBuy.Api.Tests.Infrastructure;

namespace ExBuy.Api.Tests.Reliability;

/// <summary>
/// A full disk under an upload: a real 1 MiB tmpfs as UPLOAD_DIR (mounting needs root: CI runs as root; elsewhere the
/// test is skipped with the reason). ENOSPC answers 507 problem+json, no partial file stays, and the server carries on.
/// </summary>
public sealed class DiskFullTests(PostgresCluster cluster) : ServerProcessTests("sqlite", cluster)
{
    private string? _mount;

    private static async Task<int> RunAsync(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        await p.WaitForExitAsync();
        return p.ExitCode;
    }

    private async Task<string> MountSmallTmpfsAsync()
    {
        if (Environment.UserName != "root")
        {
            var reason = "mounting a tmpfs for the full-disk test needs root (CI runs as root)";
            if (PostgresCluster.InCi)
            {
                throw new InvalidOperationException("CI=true requires every test to run: " + reason);
            }
            Assert.Skip(reason);
        }
        _mount = Path.Combine(Path.GetTempPath(), "exbuy-full-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(_mount);
        Assert.Equal(0, await RunAsync("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", _mount));
        return _mount;
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (_mount is not null)
        {
            await RunAsync("umount", "-l", _mount);
            Directory.Delete(_mount, recursive: true);
        }
    }

    private static MultipartFormDataContent File(int bytes)
    {
        var data = new byte[bytes];
        Random.Shared.NextBytes(data);
        var file = new ByteArrayContent(data);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return new MultipartFormDataContent { { file, "file", "data.bin" } };
    }

    [Fact]
    public async Task An_upload_that_finds_the_disk_full_answers_507_leaves_nothing_behind_and_the_next_one_is_stored()
    {
        var dir = await MountSmallTmpfsAsync();
        var server = await StartAsync(new() { ["UPLOAD_DIR"] = dir });

        using var full = await server.Client.PostAsync("/api/uploads", File(3 * 1024 * 1024), Ct);
        var body = await full.Content.ReadAsStringAsync(Ct);
        Assert.Equal(HttpStatusCode.InsufficientStorage, full.StatusCode);
        Assert.Equal("application/problem+json", full.Content.Headers.ContentType?.MediaType);
        Assert.Contains("UPLOAD_DIR", (string?)JsonNode.Parse(body)!["detail"]);
        Assert.Empty(Directory.GetFileSystemEntries(dir)); // the partial file is gone

        using var small = await server.Client.PostAsync("/api/uploads", File(100 * 1024), Ct);
        Assert.Equal(HttpStatusCode.Created, small.StatusCode);
        using var stored = await server.Client.GetAsync(small.Headers.Location, Ct);
        Assert.Equal(HttpStatusCode.OK, stored.StatusCode);
        using var ready = await server.Client.GetAsync("/api/health/ready", Ct);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }
}
