using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ExBuy.Api.Tests.Observability;

namespace ExBuy.Api.Tests.Deploy;

/// <summary>
/// The environment variables ExBuy reads, found by scanning src/ExBuy.Api: a string literal that looks like an
/// environment variable name, used as a configuration key (<c>c["X"]</c>, <c>Parse(c, "X", …)</c>,
/// <c>GetEnvironmentVariable("X")</c>). A key added to the app shows up here, and the tests fail until .env.example
/// documents it.
/// </summary>
public static partial class AppVariables
{
    /// <summary>Set by the WORKERS supervisor for its workers; not a setting.</summary>
    public static readonly string[] Internal = ["EXBUY_WORKER_INDEX", "EXBUY_SUPERVISOR_PID"];

    private static readonly Lazy<SortedSet<string>> Scanned = new(Scan);

    /// <summary>Every variable the app reads, the internal ones included.</summary>
    public static IReadOnlySet<string> All => Scanned.Value;

    /// <summary>The user-facing ones: what .env.example's app groups must list.</summary>
    public static IReadOnlySet<string> Settings => new SortedSet<string>(All.Except(Internal), StringComparer.Ordinal);

    private static SortedSet<string> Scan()
    {
        var root = Repo.File(Path.Combine("src", "ExBuy.Api"));
        var keys = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(root, file).Replace('\\', '/');
            if (relative.StartsWith("bin/", StringComparison.Ordinal) || relative.StartsWith("obj/", StringComparison.Ordinal)
                || relative.StartsWith("Data/Migrations/", StringComparison.Ordinal))
            {
                continue;
            }
            foreach (Match m in ConfigurationKey().Matches(File.ReadAllText(file)))
            {
                keys.Add(m.Groups["key"].Value);
            }
        }
        return keys;
    }

    // `["KEY"]` (an indexer), `(anything, "KEY"` (a parse helper's key argument), `GetEnvironmentVariable("KEY")`;
    // three characters at least, so format strings such as Guid.TryParseExact(text, "D", …) are not keys.
    [GeneratedRegex("""(?:\[\s*|\(\s*[\w.]+\s*,\s*|GetEnvironmentVariable\(\s*)"(?<key>(?=[A-Z0-9_]{3,}")[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)"\s*[\]),]""")]
    private static partial Regex ConfigurationKey();
}

/// <summary>.env.example: groups (<c># ==== name ===</c>) of variables, each <c>NAME=default</c> or commented out <c># NAME=default</c>.</summary>
public sealed partial class EnvExample
{
    public const string Path = ".env.example";
    public const string ComposeGroup = "docker-compose.yml only";

    public sealed record Variable(string Name, string Value, string Group, string Description, bool Commented);

    public IReadOnlyList<Variable> Variables { get; }

    private EnvExample(IReadOnlyList<Variable> variables) => Variables = variables;

    public IEnumerable<Variable> AppVariables => Variables.Where(v => v.Group.StartsWith("App:", StringComparison.Ordinal));

    public IEnumerable<Variable> ComposeVariables => Variables.Where(v => v.Group == ComposeGroup);

    public Variable? Find(string name) => Variables.FirstOrDefault(v => v.Name == name);

    public static EnvExample Load()
    {
        var variables = new List<Variable>();
        string? group = null;
        var description = new List<string>();
        var lastWasVariable = false;
        foreach (var line in File.ReadLines(Repo.File(Path)))
        {
            if (GroupLine().Match(line) is { Success: true } g)
            {
                group = g.Groups["name"].Value.Trim();
                description.Clear();
                continue;
            }
            if (VariableLine().Match(line) is { Success: true } v)
            {
                Assert.True(group is not null, $"{Path}: {v.Groups["name"].Value} comes before the first group");
                variables.Add(new Variable(v.Groups["name"].Value, v.Groups["value"].Value, group!, string.Join(' ', description),
                    v.Groups["hash"].Success));
                lastWasVariable = true;
                continue;
            }
            if (line.StartsWith('#') && group is not null)
            {
                // A comment after a variable starts the next variable's description; consecutive lines continue it.
                if (lastWasVariable)
                {
                    description.Clear();
                }
                description.Add(line.TrimStart('#').Trim());
            }
            lastWasVariable = false;
        }
        return new EnvExample(variables);
    }

    [GeneratedRegex(@"^# ====\s+(?<name>[^=]+?)\s*=*$")]
    private static partial Regex GroupLine();

    [GeneratedRegex(@"^(?<hash># )?(?<name>[A-Z][A-Z0-9_]*)=(?<value>.*)$")]
    private static partial Regex VariableLine();
}

/// <summary>docker-compose.yml through the real docker-compose: its resolved configuration as JSON, and its raw text.</summary>
public static partial class Compose
{
    public const string File = "docker-compose.yml";
    public const string Install = "apt-get install -y docker-compose";

    /// <summary>Every profile the file defines, and the services each adds to the default ones.</summary>
    public static readonly IReadOnlyDictionary<string, string[]> ProfileServices = new Dictionary<string, string[]>
    {
        ["monitoring"] = ["prometheus", "postgres-exporter", "grafana"],
        ["sync"] = ["web-sync"],
        ["workers"] = ["web-workers"],
        ["jit"] = ["web-jit"],
        ["load"] = ["load"],
        ["k6"] = ["k6"],
        ["scale-out"] = ["db-standby", "pgbouncer", "web-1", "web-2", "haproxy"],
    };

    public static readonly string[] DefaultServices = ["db", "migrate", "web"];

    /// <summary>The services that run the API image (the Dockerfile's `api` target).</summary>
    public static readonly string[] ExBuyServices = ["migrate", "web", "web-sync", "web-workers", "web-jit", "web-1", "web-2"];

    /// <summary>The scale-out profile's ExBuy replicas (behind its HAProxy).</summary>
    public static readonly string[] ScaleOutReplicas = ["web-1", "web-2"];

    public static string Text => System.IO.File.ReadAllText(Repo.File(File));

    /// <summary><c>${NAME:-default}</c> (or <c>${NAME}</c>) occurrences of the file: name and default (null when none).</summary>
    public static IEnumerable<(string Name, string? Default)> Interpolations() =>
        Interpolation().Matches(Text).Select(m => (m.Groups["name"].Value, m.Groups["default"].Success ? m.Groups["default"].Value : null));

    [GeneratedRegex(@"(?<!\$)\$\{(?<name>[A-Za-z_][A-Za-z0-9_]*)(?::?-(?<default>[^}]*))?\}")]
    private static partial Regex Interpolation();

    /// <summary>
    /// Runs docker-compose on the repository's file with only the given environment file (never a .env of the checkout)
    /// and none of the variables it interpolates inherited from this process.
    /// </summary>
    public static Task<(int Exit, string Stdout, string Stderr)> RunAsync(string envFile, IEnumerable<string> profiles, IEnumerable<string> command,
        CancellationToken ct)
    {
        var compose = Tools.Require("docker-compose", Install);
        var arguments = new List<string> { "--env-file", envFile, "-f", Repo.File(File), "--project-directory", Repo.Root };
        foreach (var profile in profiles)
        {
            arguments.AddRange(["--profile", profile]);
        }
        arguments.AddRange(command);
        return Tools.RunSeparatelyAsync(compose, arguments, null, ct, psi =>
        {
            psi.WorkingDirectory = Repo.Root;
            foreach (var name in psi.Environment.Keys.ToList())
            {
                if (name.StartsWith("COMPOSE_", StringComparison.Ordinal) || Interpolations().Any(i => i.Name == name))
                {
                    psi.Environment.Remove(name);
                }
            }
        });
    }

    /// <summary>
    /// <c>docker-compose config</c> as JSON: Compose v2 prints it (<c>--format json</c>); 1.x, a Python program that
    /// depends on PyYAML, prints YAML, which its own interpreter converts.
    /// </summary>
    public static async Task<JsonObject> ConfigAsync(string envFile, IEnumerable<string> profiles, CancellationToken ct)
    {
        var python = PythonOfCompose();
        var (exit, stdout, stderr) = await RunAsync(envFile, profiles, python is null ? ["config", "--format", "json"] : ["config"], ct);
        Assert.True(exit == 0, $"docker-compose config failed (exit {exit}): {stderr}");
        var json = stdout;
        if (python is not null)
        {
            const string ToJson = "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)";
            var (pyExit, pyOut, pyErr) = await Tools.RunSeparatelyAsync(python[0], [.. python.Skip(1), "-c", ToJson], stdout, ct);
            Assert.True(pyExit == 0, $"converting docker-compose config's YAML to JSON failed (exit {pyExit}): {pyErr}");
            json = pyOut;
        }
        return JsonNode.Parse(json)!.AsObject();
    }

    /// <summary>The interpreter on docker-compose's #! line when it is a Python script (1.x), else null.</summary>
    private static string[]? PythonOfCompose()
    {
        var first = RepoFiles.FirstLine(Tools.Require("docker-compose", Install));
        if (!first.StartsWith("#!", StringComparison.Ordinal) || !first.Contains("python", StringComparison.Ordinal))
        {
            return null;
        }
        return first[2..].Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    /// <summary>An empty environment file (every variable at the compose file's default), deleted with the returned scope.</summary>
    public static TempFile EmptyEnvFile() => new("");
}

/// <summary>A temp file deleted on dispose.</summary>
public sealed class TempFile : IDisposable
{
    public TempFile(string content)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"exbuy-deploy-{Guid.NewGuid():N}");
        File.WriteAllText(Path, content);
    }

    public string Path { get; }

    public void Dispose() => File.Delete(Path);
}

/// <summary>Files of the checkout: tracked and untracked-but-not-ignored ones (git), else a walk that skips build output.</summary>
public static class RepoFiles
{
    private static readonly string[] Skipped = ["bin", "obj", "results", "TestResults", "publish", "uploads", ".git", ".pgdata", "node_modules"];

    public static async Task<IReadOnlyList<string>> ListAsync(CancellationToken ct)
    {
        if (Tools.Find("git") is { } git)
        {
            var (exit, stdout, _) = await Tools.RunSeparatelyAsync(git, ["ls-files", "--cached", "--others", "--exclude-standard", "-z"], null, ct,
                psi => psi.WorkingDirectory = Repo.Root);
            if (exit == 0)
            {
                // Deleted but not yet committed files are still listed by git: keep the ones that exist.
                return [.. stdout.Split('\0', StringSplitOptions.RemoveEmptyEntries).Where(f => System.IO.File.Exists(Repo.File(f)))
                    .Order(StringComparer.Ordinal)];
            }
        }
        return [.. Walk(Repo.Root).Select(f => Path.GetRelativePath(Repo.Root, f).Replace('\\', '/')).Order(StringComparer.Ordinal)];
    }

    private static IEnumerable<string> Walk(string dir)
    {
        foreach (var file in Directory.EnumerateFiles(dir))
        {
            yield return file;
        }
        foreach (var sub in Directory.EnumerateDirectories(dir).Where(d => !Skipped.Contains(Path.GetFileName(d))))
        {
            foreach (var file in Walk(sub))
            {
                yield return file;
            }
        }
    }

    /// <summary>The first line of a file, at most 256 characters (a #! line).</summary>
    public static string FirstLine(string path)
    {
        using var reader = new StreamReader(path);
        var buffer = new char[256];
        return new string(buffer, 0, reader.Read(buffer, 0, buffer.Length)).Split('\n')[0];
    }

    /// <summary>Runs a lint tool from the repository root (where it finds its configuration).</summary>
    public static Task<(int Exit, string Output)> LintAsync(string tool, IEnumerable<string> arguments, CancellationToken ct) =>
        Tools.RunAsync(tool, arguments, null, ct, psi => psi.WorkingDirectory = Repo.Root);
}
